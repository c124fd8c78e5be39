// Lineage explorer: a node's upstream and downstream graph, filtered by kind, as of a time.
import { get, query } from "./api.js";
import { h, section, when } from "./dom.js";
import { GraphView, KINDS } from "./graph.js";

const START_KINDS = ["model_version", "model", "dataset", "endpoint", "job", "run"];

async function walk(base, id, direction, at) {
  return get(`${base}/nodes/${id}/${direction}${query({ depth: 10, at })}`);
}

function merge(graph, more) {
  const ids = new Set(graph.nodes.map((n) => n.id));
  for (const n of more.nodes) if (!ids.has(n.id)) { ids.add(n.id); graph.nodes.push(n); }
  const keys = new Set(graph.edges.map((e) => `${e.src}>${e.dst}>${e.kind}`));
  for (const e of more.edges) {
    const key = `${e.src}>${e.dst}>${e.kind}`;
    if (!keys.has(key)) { keys.add(key); graph.edges.push(e); }
  }
  graph.truncated = graph.truncated || more.truncated;
  return graph;
}

function details(node, actions) {
  if (!node) return h("p", {}, "Select a node (click it, or focus the graph and press N).");
  const attrs = Object.entries(node.attrs || {}).filter(([, v]) => typeof v !== "object");
  return h("div", {},
    h("h3", {}, node.version ? `${node.name} @${node.version}` : node.name),
    h("dl", {},
      h("dt", {}, "Kind"), h("dd", {}, (KINDS[node.kind] || { label: node.kind }).label),
      h("dt", {}, "Namespace"), h("dd", {}, node.namespace),
      h("dt", {}, "Created"), h("dd", {}, when(node.created_at)),
      attrs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => actions.expand(node, "upstream") },
        "Expand upstream"),
      h("button", { type: "button", onclick: () => actions.expand(node, "downstream") },
        "Expand downstream"),
      h("button", { type: "button", onclick: () => actions.focus(node) }, "Start here")));
}

const LIST_LIMIT = 500;

// The graph's nodes as buttons (built only when opened): the canvas's keyboard-free twin.
function nodeList(graph, view) {
  const shown = graph.nodes.slice(0, LIST_LIMIT);
  return h("div", {},
    graph.nodes.length > LIST_LIMIT ? h("p", {}, `The first ${LIST_LIMIT} nodes.`) : null,
    h("ul", { class: "node-list" }, shown.map((node) => h("li", {},
      h("button", { type: "button", class: "secondary", onclick: () => {
        const i = view.byId.get(node.id);
        view.center(i);
        view.select(i);
      } }, `${(KINDS[node.kind] || { label: node.kind }).label}: ${node.name}`
        + `${node.version ? ` @${node.version}` : ""}`)))));
}

async function startNode(base, args) {
  if (args[0]) return get(`${base}/nodes/${args[0]}`);
  for (const kind of START_KINDS) {
    const found = await get(`${base}/nodes${query({ kind, limit: 100 })}`);
    if (found.length) return found[found.length - 1];
  }
  return null;
}

export async function render(ctx) {
  const base = `/projects/${encodeURIComponent(ctx.project)}/lineage`;
  const root = await startNode(base, ctx.args);
  if (!root) return section("Lineage", h("p", {}, "This project has no lineage yet."));
  const state = { root, at: null, graph: null };
  const status = h("p", { class: "status", role: "status" });
  const panel = h("div", { class: "details", "aria-live": "polite" });
  const canvas = h("canvas", { tabIndex: 0, role: "img", id: "lineage-canvas" });
  const wrap = h("div", { class: "canvas-wrap" }, canvas);
  const view = new GraphView(canvas, {
    onSelect: (node) => panel.replaceChildren(details(node, actions)),
  });
  const actions = {
    async expand(node, direction) {
      merge(state.graph, await walk(base, node.id, direction, state.at));
      view.setGraph(state.graph.nodes, state.graph.edges, node.id);
      status.textContent = summary();
    },
    focus(node) { location.hash = `#/lineage/${node.id}`; },
  };
  const summary = () => `${state.graph.nodes.length} nodes, ${state.graph.edges.length} edges`
    + `${state.at ? ` as of ${when(state.at)}` : " now"}`
    + `${state.graph.truncated ? " (truncated: expand nodes to see more)" : ""}.`;
  async function load() {
    const [up, down] = await Promise.all(
      ["upstream", "downstream"].map((d) => walk(base, root.id, d, state.at)));
    state.graph = merge(up, down);
    view.setGraph(state.graph.nodes, state.graph.edges, root.id);
    panel.replaceChildren(details(root, actions));
    status.textContent = summary();
  }
  const controls = toolbar(state, view, root, load);
  const listing = h("details", { class: "listing", ontoggle: () => {
    if (listing.open) listing.replaceChildren(listing.firstChild, nodeList(state.graph, view));
  } }, h("summary", {}, "Nodes as a list"));
  await load();
  return h("div", { class: "lineage" },
    h("h1", {}, `Lineage of ${root.name}${root.version ? ` @${root.version}` : ""}`),
    controls, status,
    h("div", { class: "split" },
      wrap,
      h("aside", { "aria-label": "Node details" }, panel)),
    listing);
}

function toolbar(state, view, root, reload) {
  const kinds = h("fieldset", { class: "kinds" }, h("legend", {}, "Show kinds"),
    Object.entries(KINDS).map(([kind, meta]) => h("label", {},
      h("input", { type: "checkbox", checked: true, value: kind, onchange: () => {
        const off = [...kinds.querySelectorAll("input:not(:checked)")].map((i) => i.value);
        view.setHidden(off);
      } }), h("span", { class: "swatch", dataset: { kind } }), meta.label)));
  const start = Date.parse(root.created_at) - 86400000, end = Date.now();
  const label = h("output", { id: "asof-value" }, "now");
  const slider = h("input", {
    type: "range", id: "asof", min: 0, max: 100, value: 100, step: 1,
    "aria-valuetext": "now",
    oninput: () => { label.textContent = stamp(); slider.setAttribute("aria-valuetext", stamp()); },
    onchange: () => {
      const v = Number(slider.value);
      state.at = v >= 100 ? null : new Date(start + (end - start) * v / 100).toISOString();
      reload();
    },
  });
  const stamp = () => (Number(slider.value) >= 100 ? "now"
    : when(new Date(start + (end - start) * Number(slider.value) / 100).toISOString()));
  return h("div", { class: "toolbar" },
    h("div", { class: "asof" }, h("label", { for: "asof" }, "As of"), slider, label),
    h("button", { type: "button", onclick: () => view.fit() }, "Fit to screen"),
    kinds);
}
