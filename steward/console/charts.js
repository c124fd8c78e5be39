// SVG line charts drawn here: series over time, a threshold line and the acceptable band.
import { h, num, svg, when } from "./dom.js";

const SIZE = { w: 640, h: 220, left: 56, right: 12, top: 14, bottom: 36 };
const COLORS = ["#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0f766e"];

function scales(points, threshold) {
  const xs = points.map((p) => p.t), ys = points.map((p) => p.v);
  if (threshold !== null && threshold !== undefined) ys.push(threshold);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = Math.min(0, ...ys), y1 = Math.max(...ys);
  if (y1 === y0) y1 = y0 + 1;
  const { w, h: ht, left, right, top, bottom } = SIZE;
  return {
    x: (t) => left + (x1 === x0 ? (w - left - right) / 2 : (t - x0) / (x1 - x0) * (w - left - right)),
    y: (v) => top + (1 - (v - y0) / (y1 - y0)) * (ht - top - bottom),
    y0, y1, x0, x1,
  };
}

function axes(s) {
  const { w, h: ht, left, right, bottom } = SIZE;
  const ticks = [s.y0, (s.y0 + s.y1) / 2, s.y1];
  return [
    svg("line", { x1: left, x2: w - right, y1: ht - bottom, y2: ht - bottom, stroke: "#64748b" }),
    svg("line", { x1: left, x2: left, y1: SIZE.top, y2: ht - bottom, stroke: "#64748b" }),
    ...ticks.map((v) => svg("text", { x: left - 6, y: s.y(v) + 4, "text-anchor": "end" }, num(v, 3))),
    svg("text", { x: left, y: ht - 8 }, when(new Date(s.x0).toISOString())),
    svg("text", { x: w - right, y: ht - 8, "text-anchor": "end" },
      when(new Date(s.x1).toISOString())),
  ];
}

// series: [{name, points: [{t, v, breached}]}]; lowerIsBad: a p-value (breach below threshold)
export function lineChart(title, series, { threshold = null, lowerIsBad = false } = {}) {
  const all = series.flatMap((s) => s.points);
  if (!all.length) return h("p", {}, `${title}: no values yet.`);
  const s = scales(all, threshold);
  const parts = axes(s);
  if (threshold !== null && threshold !== undefined) {
    const [a, b] = lowerIsBad ? [s.y1, threshold] : [threshold, s.y0];
    parts.unshift(svg("rect", { x: SIZE.left, width: SIZE.w - SIZE.left - SIZE.right,
      y: s.y(a), height: Math.max(0, s.y(b) - s.y(a)), fill: "#dcfce7" }));
    parts.push(svg("line", { x1: SIZE.left, x2: SIZE.w - SIZE.right, y1: s.y(threshold),
      y2: s.y(threshold), stroke: "#b91c1c", "stroke-dasharray": "6 4", "stroke-width": 1.5 }));
  }
  series.forEach((line, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = line.points.map((p) => `${s.x(p.t)},${s.y(p.v)}`).join(" ");
    parts.push(svg("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": 2 }));
    for (const p of line.points) {
      parts.push(svg("circle", { cx: s.x(p.t), cy: s.y(p.v), r: p.breached ? 5 : 3.5,
        fill: p.breached ? "#b91c1c" : color },
      svg("title", {}, `${line.name} ${when(new Date(p.t).toISOString())}: ${num(p.v)}`)));
    }
  });
  const legend = series.map((line, i) => h("span", { class: "legend" },
    h("span", { class: "swatch", dataset: { color: String(i % COLORS.length) } }), line.name));
  const desc = `${title}. ${series.length} series over ${all.length} points`
    + `${threshold !== null ? `; threshold ${num(threshold)}` : ""}`
    + `; ${all.filter((p) => p.breached).length} breached.`;
  return h("figure", {},
    svg("svg", { viewBox: `0 0 ${SIZE.w} ${SIZE.h}`, class: "chart", role: "img",
      "aria-label": desc }, ...parts),
    h("figcaption", {}, title, " — shaded: within threshold; dashed: threshold; ", legend));
}
