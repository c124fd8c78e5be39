"""Lineage graph layout to SVG: layers left (upstream) to right by edge depth, deterministic.

A node's layer is the longest path from a root (cycles are broken at the smallest id); within a
layer nodes are ordered by the mean row of their parents, then kind, label and id.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from steward.reports.blocks import Graph, GraphNode
from steward.reports.render.charts import f
from steward.reports.render.text import INK, MUTED, PALETTE
from steward.reports.render.text import escape as esc

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 170, 44, 60, 18, 16
LEGEND_H = 34
# kind family -> (stroke colour, fill tint); the shape also differs, so colour is never the
# only cue (the kind is written inside each node as well).
_FAMILIES = {
    "dataset": (PALETTE[0], "#e5f0f8"),
    "job": (PALETTE[1], "#fbeadf"),
    "model": (PALETTE[2], "#e0f2eb"),
    "other": (PALETTE[4], "#ecebf5"),
}


def family(kind: str) -> str:
    """The shape family of a node kind."""
    lowered = kind.lower()
    if "dataset" in lowered:
        return "dataset"
    if any(word in lowered for word in ("job", "run", "pipeline", "step")):
        return "job"
    if "model" in lowered or "endpoint" in lowered:
        return "model"
    return "other"


@dataclass(frozen=True, slots=True)
class Placed:
    node: GraphNode
    layer: int
    row: int
    x: float
    y: float


def _edges(graph: Graph) -> list[tuple[str, str]]:
    ids = {n.id for n in graph.nodes}
    pairs = {(e.source, e.target) for e in graph.edges if e.source in ids and e.target in ids}
    return sorted(p for p in pairs if p[0] != p[1])


def layers(graph: Graph) -> dict[str, int]:
    """Each node's layer: 0 for roots, else 1 + the deepest parent (Kahn's order, by id)."""
    preds: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    succs: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for source, target in _edges(graph):
        preds[target].append(source)
        succs[source].append(target)
    waiting = {node: len(p) for node, p in preds.items()}
    ready = [node for node, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    layer: dict[str, int] = {}
    while len(layer) < len(preds):
        if not ready:  # a cycle: break it at its smallest id
            heapq.heappush(ready, min(n for n in preds if n not in layer))
        node = heapq.heappop(ready)
        if node in layer:
            continue
        layer[node] = max((layer[p] + 1 for p in preds[node] if p in layer), default=0)
        for child in succs[node]:
            waiting[child] -= 1
            if waiting[child] == 0 and child not in layer:
                heapq.heappush(ready, child)
    return layer


def layout(graph: Graph) -> list[Placed]:
    """Positions of every node (top-left corners), deterministic for the same graph."""
    layer = layers(graph)
    preds: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for source, target in _edges(graph):
        preds[target].append(source)
    by_id = {n.id: n for n in graph.nodes}
    depth = max(layer.values(), default=-1) + 1
    rows: dict[str, int] = {}
    columns: list[list[str]] = []
    for index in range(depth):
        members = [n for n in sorted(by_id) if layer[n] == index]

        def key(node: str) -> tuple[float, str, str, str]:
            placed = [rows[p] for p in preds[node] if p in rows]
            centre = sum(placed) / len(placed) if placed else 0.0
            return (centre, by_id[node].kind, by_id[node].label, node)

        members.sort(key=key)
        rows.update({node: row for row, node in enumerate(members)})
        columns.append(members)
    tallest = max((len(c) for c in columns), default=0)
    placed = []
    for index, members in enumerate(columns):
        offset = (tallest - len(members)) * (NODE_H + GAP_Y) / 2
        for row, node in enumerate(members):
            x = PAD + index * (NODE_W + GAP_X)
            y = PAD + offset + row * (NODE_H + GAP_Y)
            placed.append(Placed(node=by_id[node], layer=index, row=row, x=x, y=y))
    return placed


def _shape(p: Placed, stroke: str, fill: str) -> str:
    x, y, w, h = p.x, p.y, NODE_W, NODE_H
    width = "3" if p.node.focus else "1.4"
    paint = f'fill="{fill}" stroke="{INK if p.node.focus else stroke}" stroke-width="{width}"'
    kind = family(p.node.kind)
    if kind == "dataset":
        return f'<rect x="{f(x)}" y="{f(y)}" width="{w}" height="{h}" rx="14" {paint}/>'
    if kind == "job":
        pts = [
            (x + 10, y),
            (x + w - 10, y),
            (x + w, y + h / 2),
            (x + w - 10, y + h),
            (x + 10, y + h),
            (x, y + h / 2),
        ]
        return f'<polygon points="{" ".join(f"{f(a)},{f(b)}" for a, b in pts)}" {paint}/>'
    if kind == "model":
        return f'<rect x="{f(x)}" y="{f(y)}" width="{w}" height="{h}" rx="2" {paint}/>'
    return f'<ellipse cx="{f(x + w / 2)}" cy="{f(y + h / 2)}" rx="{w / 2}" ry="{h / 2}" {paint}/>'


def _node(p: Placed) -> str:
    stroke, fill = _FAMILIES[family(p.node.kind)]
    label = p.node.label if len(p.node.label) <= 24 else p.node.label[:23] + "…"
    weight = ' font-weight="bold"' if p.node.focus else ""
    cx = f(p.x + NODE_W / 2)
    focus = " (focus)" if p.node.focus else ""
    return (
        f"<g><title>{esc(p.node.label)}{focus} — {esc(p.node.kind)}:{esc(p.node.id)}</title>"
        + _shape(p, stroke, fill)
        + f'<text x="{cx}" y="{f(p.y + 19)}" text-anchor="middle" fill="{INK}"{weight}>'
        f"{esc(label)}</text>"
        f'<text x="{cx}" y="{f(p.y + 34)}" text-anchor="middle" fill="{MUTED}" font-size="10">'
        f"{esc(p.node.kind[:28])}</text></g>"
    )


def _edge(a: Placed, b: Placed, label: str, uid: str) -> str:
    x1, y1 = a.x + NODE_W, a.y + NODE_H / 2
    x2, y2 = b.x - 2, b.y + NODE_H / 2
    if b.layer <= a.layer:  # a back edge of a broken cycle: leave from the bottom
        x1, y1 = a.x + NODE_W / 2, a.y + NODE_H
    bend = max((x2 - x1) / 2, 30)
    path = (
        f'<path d="M{f(x1)} {f(y1)}C{f(x1 + bend)} {f(y1)} {f(x2 - bend)} {f(y2)} '
        f'{f(x2)} {f(y2)}" fill="none" stroke="{MUTED}" stroke-width="1.3" '
        f'marker-end="url(#{uid}-arrow)"/>'
    )
    if not label:
        return path
    return path + (
        f'<text x="{f((x1 + x2) / 2)}" y="{f((y1 + y2) / 2 - 4)}" '
        f'text-anchor="middle" fill="{MUTED}" font-size="10">{esc(label[:20])}</text>'
    )


def _legend(graph: Graph, top: float) -> str:
    present = sorted({family(n.kind) for n in graph.nodes})
    out, x = [], float(PAD)
    for name in present:
        stroke, fill = _FAMILIES[name]
        out.append(
            f'<rect x="{f(x)}" y="{f(top)}" width="14" height="14" fill="{fill}" '
            f'stroke="{stroke}"/><text x="{f(x + 20)}" y="{f(top + 11)}" '
            f'fill="{INK}">{name}</text>'
        )
        x += 90
    if any(n.focus for n in graph.nodes):
        out.append(
            f'<rect x="{f(x)}" y="{f(top)}" width="14" height="14" fill="#ffffff" '
            f'stroke="{INK}" stroke-width="3"/><text x="{f(x + 20)}" '
            f'y="{f(top + 11)}" fill="{INK}">focus (thick outline)</text>'
        )
    return "".join(out)


def description(graph: Graph) -> str:
    """The edge list as a sentence (the SVG's <desc>; the page also shows it as a table)."""
    names = {n.id: n.label for n in graph.nodes}
    edges = [f"{names[s]} → {names[t]}" for s, t in _edges(graph)]
    focus = [n.label for n in graph.nodes if n.focus]
    head = f"{len(graph.nodes)} nodes, {len(edges)} edges" + (
        f"; focus: {', '.join(focus)}" if focus else ""
    )
    shown = "; ".join(edges[:40]) + (f"; and {len(edges) - 40} more" if len(edges) > 40 else "")
    return f"{head}. {shown}" if edges else head + "."


def graph_svg(graph: Graph, uid: str) -> str:
    """The laid-out graph as an SVG element (ids prefixed by ``uid``)."""
    placed = layout(graph)
    where = {p.node.id: p for p in placed}
    width = max((p.x + NODE_W for p in placed), default=NODE_W) + PAD
    bottom = max((p.y + NODE_H for p in placed), default=0.0) + GAP_Y
    height = bottom + LEGEND_H
    labels = {(e.source, e.target): e.label for e in sorted(graph.edges, key=lambda e: e.label)}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {f(width)} {f(height)}" '
        f'width="{f(width)}" height="{f(height)}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" font-size="11" '
        f'font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">',
        f'<title id="{uid}-t">{esc(graph.title)}</title>'
        f'<desc id="{uid}-d">{esc(description(graph))}</desc>',
        f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        f'<path d="M0 0L10 5L0 10z" fill="{MUTED}"/></marker></defs>',
        f'<rect width="{f(width)}" height="{f(height)}" fill="#ffffff"/>',
    ]
    out += [_edge(where[s], where[t], labels.get((s, t), ""), uid) for s, t in _edges(graph)]
    out += [_node(p) for p in placed]
    out.append(_legend(graph, bottom) + "</svg>")
    return "".join(out)


def edge_rows(graph: Graph) -> list[tuple[GraphNode, GraphNode | None, str]]:
    """The edges in a stable order with their end nodes and label, then each node without an
    edge (target None), for tables."""
    by_id = {n.id: n for n in graph.nodes}
    labels = {(e.source, e.target): e.label for e in sorted(graph.edges, key=lambda e: e.label)}
    order = {p.node.id: (p.layer, p.row) for p in layout(graph)}
    edges = sorted(_edges(graph), key=lambda e: (order[e[0]], order[e[1]]))
    rows: list[tuple[GraphNode, GraphNode | None, str]] = [
        (by_id[s], by_id[t], labels.get((s, t), "")) for s, t in edges
    ]
    linked = {end for edge in edges for end in edge}
    rows += [(by_id[n], None, "") for n in sorted(by_id) if n not in linked]
    return rows
