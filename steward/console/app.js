// The console shell: sign in, the project switcher, and hash routing between the views.
import { ApiError, get, token } from "./api.js";
import { h, notice } from "./dom.js";

const VIEWS = {
  lineage: () => import("./lineage.js"),
  endpoints: () => import("./endpoints.js"),
  alerts: () => import("./alerts.js"),
  models: () => import("./models.js"),
  audit: () => import("./audit.js"),
};
const PROJECT_KEY = "steward.project";
const $ = (id) => document.getElementById(id);
const state = { me: null, project: null, permissions: null, routed: 0 };

export function can(action, scope = "allowed") {
  return Boolean(state.permissions && state.permissions[scope].includes(action));
}

function showSignin(message = "") {
  $("signin").hidden = false;
  $("nav").hidden = true;
  $("who").hidden = true;
  $("view").replaceChildren();
  $("signin-error").textContent = message;
  $("token").focus();
}

async function loadProject(name) {
  state.project = name;
  sessionStorage.setItem(PROJECT_KEY, name);
  state.permissions = await get(`/projects/${encodeURIComponent(name)}/permissions`);
}

async function start() {
  try {
    state.me = await get("/me");
    const projects = (await get("/projects")).filter((p) => p.name !== "_system");
    if (!projects.length) throw new ApiError(404, { detail: "You hold no role in any project." });
    const remembered = sessionStorage.getItem(PROJECT_KEY);
    const chosen = projects.find((p) => p.name === remembered) || projects[0];
    $("project").replaceChildren(...projects.map((p) => h("option", { value: p.name }, p.name)));
    $("project").value = chosen.name;
    await loadProject(chosen.name);
  } catch (error) {
    token.clear();
    showSignin(error instanceof ApiError && error.status === 401
      ? "That token was not accepted." : error.message);
    return;
  }
  $("signin").hidden = true;
  $("nav").hidden = false;
  $("who").hidden = false;
  $("me").textContent = `${state.me.name} (${state.permissions.roles.join(", ")})`;
  if (!location.hash) location.hash = "#/lineage";
  else route();
}

async function route() {
  if (!state.permissions) return;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const key = VIEWS[name] ? name : "lineage";
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#/${key}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const view = $("view");
  const turn = ++state.routed;  // a view still loading when the user moves on is dropped
  delete view.dataset.view;
  notice(view, "Loading…");
  try {
    const module = await VIEWS[key]();
    const ctx = { project: state.project, can, args: rest.map(decodeURIComponent), me: state.me };
    const content = await module.render(ctx);
    if (turn !== state.routed) return;
    view.replaceChildren(content);
    view.dataset.view = key;  // rendered: what tests and the benchmark wait for
    document.title = `${key[0].toUpperCase()}${key.slice(1)} · Steward console`;
  } catch (error) {
    if (turn === state.routed) notice(view, `Could not load this view: ${error.message}`, "error");
  }
}

function wire() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token.set($("token").value.trim());
    $("token").value = "";
    start();
  });
  $("signout").addEventListener("click", () => {
    token.clear();
    sessionStorage.removeItem(PROJECT_KEY);
    state.permissions = null;
    showSignin("Signed out.");
  });
  $("project").addEventListener("change", async (event) => {
    await loadProject(event.target.value);
    $("me").textContent = `${state.me.name} (${state.permissions.roles.join(", ")})`;
    route();
  });
  window.addEventListener("hashchange", route);
}

wire();
if (token.get()) start();
else showSignin();
