// Audit: the project's trail, searchable, and the chain's verification against the witness.
import { ApiError, get, query } from "./api.js";
import { badge, h, section, table, when } from "./dom.js";

async function verification(ctx) {
  if (!ctx.can("audit.verify", "system")) {
    return h("p", { id: "audit-badge" }, badge("verification: platform auditors only"));
  }
  const [result, checkpoints] = await Promise.all([get("/audit/verify"), get("/audit/checkpoints")]);
  const last = checkpoints[checkpoints.length - 1];
  const findings = result.findings.map((f) => h("li", {}, JSON.stringify(f)));
  return h("div", { id: "audit-badge" },
    h("p", {}, result.ok ? badge("chain verified", "ok") : badge("verification failed", "bad"),
      ` ${result.entries} entries, sealed through ${result.sealed_through}, witnessed through `
      + `${result.witnessed_through}; ${result.checkpoints} checkpoint(s)`
      + `${last ? `, last at ${when(last.created_at)}` : ""}.`
      + `${result.first_bad_seq ? ` First bad entry: #${result.first_bad_seq}.` : ""}`),
    findings.length ? h("ul", {}, findings) : h("p", {}, "No findings."));
}

export async function render(ctx) {
  if (!ctx.can("audit.read")) {
    return section("Audit", h("p", {}, "Your role cannot read this project's audit trail."));
  }
  const base = `/projects/${encodeURIComponent(ctx.project)}/audit`;
  const fields = ["actor", "action", "target"].map((name) => h("label", { for: `audit-${name}` },
    name[0].toUpperCase() + name.slice(1),
    h("input", { type: "search", id: `audit-${name}`, name })));
  const holder = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true });
  let rows = [], params = {};
  async function page(cursor) {
    const found = await get(`${base}${query({ ...params, cursor })}`);
    rows = cursor ? rows.concat(found.items) : found.items;
    holder.replaceChildren(table(`${rows.length} entr${rows.length === 1 ? "y" : "ies"}`,
      ["#", "Time", "Actor", "Action", "Target", "Decision"],
      rows.map((e) => [String(e.seq), when(e.ts), e.actor, e.action, e.target || "—",
        badge(e.decision, e.decision === "allow" ? "ok" : "bad")])));
    more.hidden = !found.next_cursor;
    more.textContent = "Load more";
    more.onclick = () => page(found.next_cursor);
  }
  async function search() {
    params = { limit: 200 };
    for (const label of fields) {
      const input = label.querySelector("input");
      params[input.name] = input.value;
    }
    await page(null);
  }
  let badgeBlock;
  try { badgeBlock = await verification(ctx); } catch (error) {
    badgeBlock = h("p", { id: "audit-badge" }, badge(error instanceof ApiError
      ? `verification unavailable: ${error.message}` : "verification unavailable", "warn"));
  }
  await search();
  return h("div", {},
    h("h1", {}, "Audit trail"),
    section("Verification against the witness", badgeBlock),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); search(); } },
      fields, h("button", { type: "submit" }, "Search")),
    holder, more);
}
