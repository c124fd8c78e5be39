// Endpoints: what is deployed and its history (rollouts: canary, shadow), rollback, and each
// monitor's signals over time with a per-feature drill-down.
import { get, post, query } from "./api.js";
import { lineChart } from "./charts.js";
import { badge, h, num, section, table, when } from "./dom.js";

const enc = encodeURIComponent;
const TESTS = { ks_p_value: "Kolmogorov–Smirnov test, p-value", chi2_p_value: "chi-squared test, p-value",
  psi: "population stability index", wasserstein: "Wasserstein distance",
  jensenshannon: "Jensen–Shannon distance" };
const lowerIsBad = (metric) => metric.endsWith("p_value");

function rollback(ctx, endpoint) {
  if (!ctx.can("model.deploy")) return null;
  const reason = h("input", { type: "text", id: "rollback-reason", required: true });
  const out = h("span", { role: "status" });
  return h("form", { class: "filters", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await post(`/projects/${enc(ctx.project)}/endpoints/${enc(endpoint)}/rollback`,
        { reason: reason.value });
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) { out.textContent = error.message; }
  } }, h("label", { for: "rollback-reason" }, "Rollback reason", reason),
  h("button", { type: "submit", class: "danger" }, "Roll back"), out);
}

function grouped(items) {
  const by = new Map();
  for (const r of items) {
    if (r.value === null) continue;
    const key = `${r.signal}|${r.metric}|${r.feature}`;
    if (!by.has(key)) by.set(key, { ...r, points: [] });
    by.get(key).points.push({ t: Date.parse(r.window_end), v: r.value, breached: r.breached });
  }
  for (const g of by.values()) g.points.sort((a, b) => a.t - b.t);
  return [...by.values()];
}

function drill(groups, feature) {
  const mine = groups.filter((g) => g.feature === feature);
  return mine.map((g) => lineChart(`${feature}: ${TESTS[g.metric] || g.metric}`,
    [{ name: feature, points: g.points }], { threshold: g.threshold, lowerIsBad: lowerIsBad(g.metric) }));
}

async function monitorBlock(ctx, monitor) {
  const base = `/projects/${enc(ctx.project)}/monitors/${enc(monitor.spec.name)}`;
  const [page, runs] = await Promise.all([get(`${base}/results${query({ limit: 500 })}`),
    get(`${base}/runs${query({ limit: 50 })}`)]);
  const groups = grouped(page.items);
  const overall = groups.filter((g) => !g.feature);
  const features = groups.filter((g) => g.feature);
  const charts = overall.map((g) => lineChart(`${g.signal}: ${g.metric}`,
    [{ name: g.metric, points: g.points }], { threshold: g.threshold, lowerIsBad: lowerIsBad(g.metric) }));
  const panel = h("div", { class: "drill", "aria-live": "polite" });
  const latest = features.map((g) => ({ g, p: g.points[g.points.length - 1] }));
  const rows = latest.map(({ g, p }) => [
    h("button", { type: "button", class: "secondary",
      onclick: () => panel.replaceChildren(...drill(groups, g.feature)) }, g.feature),
    g.signal, TESTS[g.metric] || g.metric, num(p.v), num(g.threshold),
    badge(p.breached ? "breached" : "ok", p.breached ? "bad" : "ok")]);
  const runRows = runs.map((r) => [when(r.window_end), r.status, String(r.row_count),
    badge(r.breached ? "breached" : "ok", r.breached ? "bad" : "ok"),
    ((r.summary.data_drift || {}).drifted || []).join(", ") || "—"]);
  return section(`Monitor ${monitor.spec.name}`,
    h("div", { class: "grid2" }, charts),
    table("Per feature, latest window (choose a feature for its history)",
      ["Feature", "Signal", "Test", "Value", "Threshold", "State"], rows),
    panel,
    h("p", { class: "status" }, "Reference and window distributions are not published by the "
      + "API's monitor results; the test statistic per feature is shown."),
    table("Runs", ["Window end", "Status", "Rows", "Result", "Drifted features"], runRows));
}

export async function render(ctx) {
  const base = `/projects/${enc(ctx.project)}`;
  const endpoints = await get(`${base}/endpoints`);
  if (!endpoints.length) return section("Endpoints", h("p", {}, "No endpoints yet."));
  const chosen = endpoints.find((e) => e.name === ctx.args[0]) || endpoints[0];
  const eb = `${base}/endpoints/${enc(chosen.name)}`;
  const [deployments, rollouts, monitors] = await Promise.all([
    get(`${eb}/deployments`), get(`${eb}/rollouts`),
    ctx.can("monitor.read") ? get(`${base}/monitors`) : []]);
  const mv = chosen.model_version;
  const picker = h("select", { id: "endpoint-pick", onchange: (e) => {
    location.hash = `#/endpoints/${enc(e.target.value)}`;
  } }, endpoints.map((e) => h("option", { value: e.name, selected: e.name === chosen.name }, e.name)));
  const watched = monitors.filter((m) => m.spec.target.name === chosen.name);
  return h("div", {},
    h("h1", {}, `Endpoint ${chosen.name}`),
    h("p", {}, h("label", { for: "endpoint-pick" }, "Endpoint "), picker),
    section("Deployed", h("p", {}, mv ? `${mv.model} v${mv.version} since ${when(chosen.deployed_at)}`
      : "Nothing deployed."), rollback(ctx, chosen.name)),
    section("Rollouts (canary and shadow)", table(`${rollouts.length} rollout(s)`,
      ["Strategy", "Version", "Previous", "Percent", "Shadow", "State", "Started", "Requests"],
      rollouts.map((r) => [r.strategy, `${r.model} v${r.version}`,
        r.previous_version ? `v${r.previous_version}` : "—", r.percent ?? "—",
        r.shadow_endpoint || "—", badge(r.state), when(r.started_at), String(r.requests)]))),
    section("Deployment history", table(`${deployments.length} deployment(s)`,
      ["Version", "From", "Until", "By", "Note"],
      deployments.map((d) => [`${d.model} v${d.version}`, when(d.started_at), when(d.ended_at),
        d.actor, d.note || "—"]))),
    ...(await Promise.all(watched.map((m) => monitorBlock(ctx, m)))));
}
