// Alerts: list and filter; acknowledge and resolve where the caller's role allows it.
import { get, post, query } from "./api.js";
import { badge, h, num, table, when } from "./dom.js";

const TONE = { open: "bad", acknowledged: "warn", resolved: "ok" };

function actions(ctx, alert, refresh) {
  if (!ctx.can("alert.write") || alert.state === "resolved") return "—";
  const act = (verb) => async (event) => {
    event.target.disabled = true;
    await post(`/projects/${encodeURIComponent(ctx.project)}/alerts/${alert.id}/${verb}`, {});
    refresh();
  };
  return h("div", { class: "actions" },
    alert.state === "open" ? h("button", { type: "button", onclick: act("acknowledge"),
      "aria-label": `Acknowledge alert ${alert.monitor} ${alert.signal}` }, "Acknowledge") : null,
    h("button", { type: "button", class: "secondary", onclick: act("resolve"),
      "aria-label": `Resolve alert ${alert.monitor} ${alert.signal}` }, "Resolve"));
}

export async function render(ctx) {
  const base = `/projects/${encodeURIComponent(ctx.project)}/alerts`;
  const holder = h("div", { id: "alerts-table" });
  const state = h("select", { id: "alert-state" },
    ["", "open", "acknowledged", "resolved"].map((s) => h("option", { value: s }, s || "any")));
  const monitor = h("input", { type: "search", id: "alert-monitor", placeholder: "monitor name" });
  async function refresh() {
    const alerts = await get(`${base}${query({ state: state.value, monitor: monitor.value })}`);
    holder.replaceChildren(table(`${alerts.length} alert(s)`,
      ["State", "Monitor", "Signal", "Severity", "Value / threshold", "Window end", "Opened",
        "By", "Actions"],
      alerts.map((a) => [badge(a.state, TONE[a.state]), a.monitor, a.signal, a.severity,
        `${num(a.value)} / ${num(a.threshold)}`, when(a.window_end), when(a.opened_at),
        a.resolved_by || a.acknowledged_by || "—", actions(ctx, a, refresh)])));
  }
  await refresh();
  return h("div", {},
    h("h1", {}, "Alerts"),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); refresh(); } },
      h("label", { for: "alert-state" }, "State", state),
      h("label", { for: "alert-monitor" }, "Monitor", monitor),
      h("button", { type: "submit" }, "Filter")),
    holder);
}
