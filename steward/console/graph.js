// A lineage graph on a canvas: a layered (longest-path) layout computed once per change of the
// graph, then pan and zoom only change a transform; drawing skips what is off screen.
// The graph's node kinds (a monitor's runs are run nodes, linked to what they read).
export const KINDS = {
  dataset: { label: "Dataset", color: "#1d4ed8" },
  dataset_version: { label: "Dataset version", color: "#1e40af" },
  job: { label: "Pipeline / job", color: "#6d28d9" },
  run: { label: "Run", color: "#7c2d12" },
  model: { label: "Model", color: "#047857" },
  model_version: { label: "Model version", color: "#065f46" },
  endpoint: { label: "Endpoint", color: "#b45309" },
};
const W = 176, H = 34, GAP_X = 90, GAP_Y = 16;

export function layout(nodes, edges) {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const out = nodes.map(() => []), indegree = new Array(nodes.length).fill(0);
  for (const e of edges) {
    const s = index.get(e.src), d = index.get(e.dst);
    if (s === undefined || d === undefined || s === d) continue;
    out[s].push(d);
    indegree[d] += 1;
  }
  const layer = new Array(nodes.length).fill(0), queue = [];
  indegree.forEach((deg, i) => { if (deg === 0) queue.push(i); });
  const seen = new Array(nodes.length).fill(false);
  for (let head = 0; head < queue.length; head += 1) {
    const i = queue[head];
    seen[i] = true;
    for (const d of out[i]) {
      layer[d] = Math.max(layer[d], layer[i] + 1);
      if (--indegree[d] === 0) queue.push(d);
    }
  }  // nodes left unseen sit on a cycle: they keep the layer reached so far
  const layers = [];
  nodes.forEach((_, i) => { (layers[layer[i]] ||= []).push(i); });
  const y = new Array(nodes.length).fill(0);
  const parents = nodes.map(() => []);
  out.forEach((targets, s) => targets.forEach((d) => parents[d].push(s)));
  for (const members of layers) {
    if (!members) continue;
    const key = (i) => (parents[i].length
      ? parents[i].reduce((sum, p) => sum + y[p], 0) / parents[i].length : y[i]);
    members.sort((a, b) => key(a) - key(b) || nodes[a].name.localeCompare(nodes[b].name));
    members.forEach((i, row) => { y[i] = row; });
  }
  return nodes.map((n, i) => ({ x: layer[i] * (W + GAP_X), y: y[i] * (H + GAP_Y) }));
}

export class GraphView {
  constructor(canvas, { onSelect }) {
    this.canvas = canvas;
    canvas.graphView = this;  // for the benchmark, which times frames inside the page
    this.onSelect = onSelect;
    this.nodes = [];
    this.edges = [];
    this.pos = [];
    this.hidden = new Set();
    this.selected = -1;
    this.view = { x: 20, y: 20, k: 1 };
    this.pending = false;
    this.lastDrawMs = 0;
    this.bind();
    new ResizeObserver(() => this.resize()).observe(canvas.parentElement);
  }

  setGraph(nodes, edges, focusId) {
    this.nodes = nodes;
    this.edges = edges;
    this.pos = layout(nodes, edges);
    this.byId = new Map(nodes.map((n, i) => [n.id, i]));
    this.fitted = false;
    this.selected = this.byId.has(focusId) ? this.byId.get(focusId) : -1;
    this.fit();
  }

  setHidden(kinds) {
    this.hidden = new Set(kinds);
    this.request();
  }

  visible(i) {
    return !this.hidden.has(this.nodes[i].kind) || i === this.selected;
  }

  resize() {
    const rect = this.canvas.parentElement.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.floor(rect.width * ratio));
    this.canvas.height = Math.max(1, Math.floor(rect.height * ratio));
    this.canvas.style.width = `${rect.width}px`;
    this.canvas.style.height = `${rect.height}px`;
    this.ratio = ratio;
    if (!this.fitted && rect.width) this.fit();
    else this.draw();
  }

  fit() {
    const rect = this.canvas.getBoundingClientRect();
    if (!this.pos.length || !rect.width) { this.request(); return; }
    this.fitted = true;
    const maxX = Math.max(...this.pos.map((p) => p.x)) + W;
    const maxY = Math.max(...this.pos.map((p) => p.y)) + H;
    const k = Math.min(1.2, (rect.width - 40) / maxX, (rect.height - 40) / maxY);
    this.view = { x: 20, y: 20, k: Math.max(0.02, k) };
    this.request();
  }

  request() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  pan(dx, dy) {
    this.view.x += dx;
    this.view.y += dy;
    this.request();
  }

  zoom(factor, cx, cy) {
    const k = Math.min(4, Math.max(0.03, this.view.k * factor));
    const f = k / this.view.k;
    this.view = { x: cx - (cx - this.view.x) * f, y: cy - (cy - this.view.y) * f, k };
    this.request();
  }

  draw() {
    const started = performance.now();
    const ctx = this.canvas.getContext("2d");
    const { x, y, k } = this.view, r = this.ratio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(k * r, 0, 0, k * r, x * r, y * r);
    const left = -x / k, top = -y / k;
    const right = left + this.canvas.width / r / k, bottom = top + this.canvas.height / r / k;
    const shown = (p) => p.x + W >= left && p.x <= right && p.y + H >= top && p.y <= bottom;
    this.drawEdges(ctx, left, right, top, bottom);
    let drawn = 0;
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (let i = 0; i < this.nodes.length; i += 1) {
      const p = this.pos[i];
      if (!this.visible(i) || !shown(p)) continue;
      this.drawNode(ctx, i, p, k);
      drawn += 1;
    }
    this.lastDrawMs = performance.now() - started;
    this.canvas.dataset.drawn = String(drawn);
    if (drawn && !this.painted) {
      this.painted = true;
      performance.mark("lineage-drawn");
    }
    this.canvas.setAttribute("aria-label", this.summary());
  }

  drawEdges(ctx, left, right, top, bottom) {
    ctx.strokeStyle = "#64748b";
    ctx.lineWidth = 1.2 / this.view.k;
    ctx.beginPath();
    for (const e of this.edges) {
      const s = this.byId.get(e.src), d = this.byId.get(e.dst);
      if (s === undefined || d === undefined || !this.visible(s) || !this.visible(d)) continue;
      const a = this.pos[s], b = this.pos[d];
      if (Math.max(a.x, b.x) + W < left || Math.min(a.x, b.x) > right) continue;
      if (Math.max(a.y, b.y) + H < top || Math.min(a.y, b.y) > bottom) continue;
      ctx.moveTo(a.x + W, a.y + H / 2);
      ctx.lineTo(b.x, b.y + H / 2);
    }
    ctx.stroke();
  }

  drawNode(ctx, i, p, k) {
    const node = this.nodes[i];
    ctx.fillStyle = (KINDS[node.kind] || { color: "#334155" }).color;
    ctx.fillRect(p.x, p.y, W, H);
    if (i === this.selected) {
      ctx.strokeStyle = "#f59e0b";
      ctx.lineWidth = 4 / k;
      ctx.strokeRect(p.x - 2, p.y - 2, W + 4, H + 4);
    }
    if (k < 0.35) return;  // text is unreadable this small: skip it, it is the costly part
    ctx.fillStyle = "#ffffff";
    const label = node.version ? `${node.name} @${node.version}` : node.name;
    ctx.fillText(label.length > 26 ? `${label.slice(0, 25)}…` : label, p.x + 8, p.y + H / 2);
  }

  summary() {
    const selected = this.selected >= 0 ? `; selected ${this.nodes[this.selected].name}` : "";
    return `Lineage graph: ${this.nodes.length} nodes, ${this.edges.length} edges${selected}. `
      + "Arrow keys pan, plus and minus zoom, 0 fits, N and P select the next or previous node.";
  }

  hit(clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    const gx = (clientX - rect.left - this.view.x) / this.view.k;
    const gy = (clientY - rect.top - this.view.y) / this.view.k;
    for (let i = this.nodes.length - 1; i >= 0; i -= 1) {
      const p = this.pos[i];
      if (this.visible(i) && gx >= p.x && gx <= p.x + W && gy >= p.y && gy <= p.y + H) return i;
    }
    return -1;
  }

  select(i) {
    this.selected = i;
    this.request();
    if (i >= 0) this.onSelect(this.nodes[i]);
  }

  center(i) {
    const rect = this.canvas.getBoundingClientRect(), p = this.pos[i];
    this.view.x = rect.width / 2 - (p.x + W / 2) * this.view.k;
    this.view.y = rect.height / 2 - (p.y + H / 2) * this.view.k;
  }

  step(delta) {
    const order = this.nodes.map((_, i) => i).filter((i) => this.visible(i));
    if (!order.length) return;
    const at = order.indexOf(this.selected);
    const next = order[(at + delta + order.length) % order.length];
    this.center(next);
    this.select(next);
  }

  bind() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: false };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      drag.x = e.clientX;
      drag.y = e.clientY;
      this.pan(dx, dy);
    });
    c.addEventListener("pointerup", (e) => {
      if (drag && !drag.moved) this.select(this.hit(e.clientX, e.clientY));
      drag = null;
    });
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const rect = c.getBoundingClientRect();
      this.zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - rect.left, e.clientY - rect.top);
    }, { passive: false });
    c.addEventListener("keydown", (e) => this.key(e));
  }

  key(e) {
    const rect = this.canvas.getBoundingClientRect();
    const actions = {
      ArrowLeft: () => this.pan(40, 0), ArrowRight: () => this.pan(-40, 0),
      ArrowUp: () => this.pan(0, 40), ArrowDown: () => this.pan(0, -40),
      "+": () => this.zoom(1.2, rect.width / 2, rect.height / 2),
      "=": () => this.zoom(1.2, rect.width / 2, rect.height / 2),
      "-": () => this.zoom(1 / 1.2, rect.width / 2, rect.height / 2),
      0: () => this.fit(), n: () => this.step(1), p: () => this.step(-1),
    };
    const action = actions[e.key];
    if (action) { e.preventDefault(); action(); }
  }
}
