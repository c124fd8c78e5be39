// Models: versions and aliases, gate decisions with their numbers, approvals, the report.
import { blob, get, post } from "./api.js";
import { badge, h, num, section, table, when } from "./dom.js";

const enc = encodeURIComponent;

function metricsTable(gate) {
  const rows = (gate.details.metrics || []).map((m) => [m.metric, num(m.challenger),
    num(m.champion), num(m.threshold), badge(m.passed ? "pass" : "fail", m.passed ? "ok" : "bad")]);
  const scores = gate.details.scores || {};
  const checked = new Set((gate.details.metrics || []).map((m) => m.metric));
  const extra = Object.keys(scores.challenger || {}).filter((k) => !checked.has(k)).map((k) => [k, num(scores.challenger[k]),
    num((scores.champion || {})[k]), "—", "reported"]);
  return table(`Gate for v${gate.challenger.version} vs `
    + `${gate.champion ? `v${gate.champion.version}` : "no champion"} (${when(gate.decided_at)})`,
  ["Metric", "Challenger", "Champion", "Threshold", "Check"], [...rows, ...extra]);
}

function gateBlock(gates) {
  if (!gates.length) return h("p", {}, "No gate decisions for this model.");
  return gates.map((g) => h("div", { class: "gate" },
    h("p", {}, badge(g.passed ? "gate passed" : "gate failed", g.passed ? "ok" : "bad"),
      g.reasons.length ? ` ${g.reasons.join("; ")}` : ""),
    metricsTable(g)));
}

function decide(ctx, approval, refresh) {
  if (approval.state !== "pending" || !ctx.can("approval.decide")) return "—";
  const note = h("input", { type: "text", "aria-label": "Decision note", placeholder: "note" });
  const error = h("span", { class: "error", role: "alert" });
  const act = (verb) => async () => {
    try {
      await post(`/projects/${enc(ctx.project)}/approvals/${approval.id}/${verb}`,
        { note: note.value });
      refresh();
    } catch (failure) { error.textContent = failure.message; }
  };
  return h("div", { class: "actions" }, note,
    h("button", { type: "button", onclick: act("approve"), "data-approval": approval.id },
      "Approve"),
    h("button", { type: "button", class: "danger", onclick: act("reject") }, "Reject"), error);
}

async function showReport(ctx, model, version, frame) {
  const url = `/projects/${enc(ctx.project)}/models/${enc(model)}/versions/${version}/report`
    + "?format=html";
  const file = await blob(url, "text/html");
  const old = frame.dataset.url;
  if (old) URL.revokeObjectURL(old);
  frame.dataset.url = URL.createObjectURL(new Blob([file], { type: "text/html" }));
  frame.src = frame.dataset.url;
  frame.hidden = false;
  frame.title = `Compliance report of ${model} v${version}`;
  frame.focus();
}

export async function render(ctx) {
  const base = `/projects/${enc(ctx.project)}`;
  const models = await get(`${base}/models`);
  if (!models.length) return section("Models", h("p", {}, "No models registered yet."));
  const name = ctx.args[0] || models[0].name;
  const [versions, gates, approvals] = await Promise.all([
    get(`${base}/models/${enc(name)}/versions`),
    ctx.can("job.read") ? get(`${base}/gates`) : [],
    ctx.can("approval.read") ? get(`${base}/approvals`) : [],
  ]);
  const frame = h("iframe", { class: "report", sandbox: "", hidden: true, title: "Report" });
  const refresh = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const picker = h("select", { id: "model-pick", onchange: (e) => {
    location.hash = `#/models/${enc(e.target.value)}`;
  } }, models.map((m) => h("option", { value: m.name, selected: m.name === name }, m.name)));
  const reportButton = (v) => (ctx.can("report.read")
    ? h("button", { type: "button", class: "secondary",
      onclick: () => showReport(ctx, name, v.version, frame) }, `Report v${v.version}`) : "—");
  const mine = approvals.filter((a) => a.challenger.model === name);
  return h("div", {},
    h("h1", {}, `Model ${name}`),
    h("p", {}, h("label", { for: "model-pick" }, "Model "), picker),
    section("Versions", table(`${versions.length} version(s)`,
      ["Version", "Created", "Flavor", "Aliases", "Metrics", "Report"],
      versions.map((v) => [`v${v.version}`, when(v.created_at), v.flavor,
        v.aliases.join(", ") || "—",
        Object.entries(v.metrics).map(([k, x]) => `${k} ${num(x)}`).join(", ") || "—",
        reportButton(v)]))),
    section("Approvals", table(`${mine.length} approval(s)`,
      ["Challenger", "Endpoint", "Rollout", "State", "Requested by", "Decided by", "Decision"],
      mine.map((a) => [`v${a.challenger.version}`, a.endpoint,
        `${a.rollout.strategy}${a.rollout.percent ? ` ${a.rollout.percent}%` : ""}`,
        badge(a.state, a.state === "approved" ? "ok" : a.state === "rejected" ? "bad" : "warn"),
        a.requested_by, a.decided_by || "—", decide(ctx, a, refresh)]))),
    section("Evaluation gates", gateBlock(gates.filter((g) => g.challenger.model === name))),
    section("Compliance report", h("p", {}, "Choose a version's report above."), frame));
}
