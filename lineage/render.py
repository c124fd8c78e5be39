"""Renderings of a subgraph: JSON, Graphviz DOT and Mermaid."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from uuid import UUID

from lineage.schemas import Graph, Node, NodeKind, PathResult

_SHAPES = {
    NodeKind.dataset: "cylinder",
    NodeKind.dataset_version: "cylinder",
    NodeKind.job: "box",
    NodeKind.run: "box",
    NodeKind.model: "component",
    NodeKind.model_version: "component",
    NodeKind.endpoint: "doubleoctagon",
}
_MERMAID = {
    NodeKind.dataset: ('[("', '")]'),
    NodeKind.dataset_version: ('[("', '")]'),
    NodeKind.job: ('["', '"]'),
    NodeKind.run: ('["', '"]'),
    NodeKind.model: ('[["', '"]]'),
    NodeKind.model_version: ('[["', '"]]'),
    NodeKind.endpoint: ('{{"', '"}}'),
}


class Format(StrEnum):
    """Output formats of ``steward lineage show`` and the render route."""

    json = "json"
    dot = "dot"
    mermaid = "mermaid"


def label(node: Node) -> str:
    """A short human label: kind, name and version."""
    version = f"@{node.version[:12]}" if node.version else ""
    return f"{node.kind}: {node.name}{version}"


def _key(node_id: UUID) -> str:
    return "n" + node_id.hex


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _mermaid_text(text: str) -> str:
    # Mermaid has no escape for a double quote inside a quoted label; use its entity instead.
    return re.sub(r'["\n\r]', lambda m: "#quot;" if m.group() == '"' else " ", text)


def to_dot(graph: Graph | PathResult) -> str:
    """Graphviz DOT, left to right in the direction data flows."""
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    root = graph.root if isinstance(graph, Graph) else None
    for node in graph.nodes:
        style = ', style="bold"' if node.id == root else ""
        shape = _SHAPES.get(node.kind, "ellipse")
        lines.append(f'  {_key(node.id)} [label="{_dot_text(label(node))}", shape={shape}{style}];')
    lines.extend(f'  {_key(e.src)} -> {_key(e.dst)} [label="{e.kind}"];' for e in graph.edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: Graph | PathResult) -> str:
    """A Mermaid flowchart, left to right."""
    lines = ["flowchart LR"]
    for node in graph.nodes:
        opening, closing = _MERMAID.get(node.kind, ('["', '"]'))
        lines.append(f"  {_key(node.id)}{opening}{_mermaid_text(label(node))}{closing}")
    lines.extend(f"  {_key(e.src)} -->|{e.kind}| {_key(e.dst)}" for e in graph.edges)
    return "\n".join(lines) + "\n"


def to_json(graph: Graph | PathResult) -> str:
    """The subgraph as indented JSON (the API's own shape)."""
    return json.dumps(graph.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def render(graph: Graph | PathResult, fmt: Format) -> str:
    """Render in ``fmt``."""
    if fmt == Format.dot:
        return to_dot(graph)
    if fmt == Format.mermaid:
        return to_mermaid(graph)
    return to_json(graph)
