"""A report as Markdown (CommonMark with GitHub tables): the same content as the HTML, charts as
small data tables, the lineage graph as an edge list, and the canonical JSON at the end as a
base64 HTML comment (``<!-- steward-report-json`` ... ``-->``) that ``text.extract_canonical``
decodes to the exact bytes of the digest."""

from __future__ import annotations

import re
from collections import Counter

from steward.reports.blocks import (
    BarChart,
    Block,
    Facts,
    Graph,
    GraphNode,
    LineChart,
    Paragraph,
    Section,
    Source,
    Table,
)
from steward.reports.canonical import canonical_bytes, digest
from steward.reports.document import Report
from steward.reports.render.charts import SUMMARY_COLUMNS, series_rows
from steward.reports.render.graph import edge_rows
from steward.reports.render.html import INLINE_SOURCES, subject, when
from steward.reports.render.text import cell_text, markdown_embed, number, source_label

_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
_BLOCK_START = re.compile(r"^([#>+=-]|\d+(?=[.)]))")


def inline(text: str) -> str:
    """Text that Markdown shows literally (no emphasis, links, HTML or table breaks)."""
    return _INLINE.sub(r"\\\1", text).replace("\r", "").replace("\n", " ")


def paragraph(text: str) -> str:
    """A paragraph whose lines cannot start a heading, list or quote."""
    lines = [_INLINE.sub(r"\\\1", line.strip()) for line in text.split("\n")]
    return "\n".join(_BLOCK_START.sub(_escape_start, line) for line in lines)


def _escape_start(match: re.Match[str]) -> str:
    """``1.`` becomes ``1\\.`` (a digit cannot be escaped), ``#`` becomes ``\\#``."""
    marker = match.group(1)
    return marker + "\\" if marker.isdigit() else "\\" + marker


class Code(str):
    """A cell shown as code (ids): not escaped, but kept free of backticks and pipes."""

    __slots__ = ()


def _cell(value: str) -> str:
    if isinstance(value, Code):
        return "`" + value.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"
    return inline(value) or " "


def table(columns: list[str], rows: list[list[str]]) -> str:
    """A GitHub table; every cell escaped, so each row has exactly len(columns) cells."""
    head = "| " + " | ".join(inline(c) or " " for c in columns) + " |"
    rule = "|" + "|".join(" --- " for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def render_markdown(report: Report) -> bytes:
    """The report as Markdown bytes (UTF-8), deterministic for the same report."""
    meta = report.meta
    out = [
        f"# {inline(meta.title)}",
        table(
            ["Field", "Value"],
            [
                ["Project", meta.project],
                ["Subject", subject(report)],
                ["Period", f"{when(meta.period_start)} to {when(meta.period_end)}"],
                ["Generated at", when(meta.generated_at)],
                ["Generator", meta.generator],
                ["Schema", meta.schema_version],
                ["Digest", digest(report)],
            ],
        ),
        "## Contents",
        "\n".join(
            f"{i}. [{inline(s.title)}](#{_anchor(s)}) (coverage: {s.coverage.value})"
            for i, s in enumerate(report.sections, start=1)
        ),
    ]
    figures = 0
    for index, section in enumerate(report.sections, start=1):
        out.append(_heading(index, section))
        for block in section.blocks:
            if isinstance(block, LineChart | BarChart | Graph):
                figures += 1
            out.append(_block(block, figures))
    out += [
        "---",
        f"Report digest `{digest(report)}`: the SHA-256 of the canonical JSON embedded below "
        "(base64, in the `steward-report-json` comment).",
        markdown_embed(canonical_bytes(report)),
    ]
    return ("\n\n".join(out) + "\n").encode()


def _anchor(section: Section) -> str:
    return "sec-" + re.sub(r"[^A-Za-z0-9_-]", "-", section.id)


def _heading(index: int, section: Section) -> str:
    return (
        f'<a id="{_anchor(section)}"></a>\n\n## {index}. {inline(section.title)}\n\n'
        f"**Coverage: {section.coverage.value}**"
    )


def _source(source: Source | None) -> str:
    return "—" if source is None else Code(source_label(source))


def _block(block: Block, figure: int) -> str:
    if isinstance(block, Paragraph):
        return "\n\n".join(paragraph(p) for p in block.text.split("\n\n"))
    if isinstance(block, Facts):
        rows = [[f.label, cell_text(f.value), _source(f.source)] for f in block.facts]
        return table(["Item", "Value", "Source"], rows)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, LineChart):
        return _line_chart(block, figure)
    if isinstance(block, BarChart):
        return _bar_chart(block, figure)
    return _graph(block, figure)


def _table(block: Table) -> str:
    with_sources = any(s is not None for s in block.sources)
    columns = [*block.columns, "Source"] if with_sources else list(block.columns)
    rows = []
    for i, row in enumerate(block.rows):
        cells = [cell_text(v) for v in row]
        if with_sources:
            cells.append(_source(block.sources[i] if i < len(block.sources) else None))
        rows.append(cells)
    caption = f"**{inline(block.caption)}**\n\n" if block.caption else ""
    return caption + table(columns, rows)


def sources_markdown(sources: list[Source]) -> str:
    """A figure's sources: all of them when few, else counted by kind with the first and last
    (the full list is in the embedded JSON)."""
    if not sources:
        return "Sources: none recorded."
    if len(sources) <= INLINE_SOURCES:
        return "Sources: " + ", ".join(f"`{source_label(s)}`" for s in sources) + "."
    counts = Counter(s.kind for s in sources)
    summary = ", ".join(f"{n} {inline(kind)}" for kind, n in sorted(counts.items()))
    return (
        f"Sources: {len(sources)} records ({summary}); first `{source_label(sources[0])}`, "
        f"last `{source_label(sources[-1])}` (all of them in the embedded JSON)."
    )


def _line_chart(chart: LineChart, figure: int) -> str:
    notes = [f"threshold {inline(t.label)} = {number(t.value)}" for t in chart.thresholds]
    if chart.band:
        notes.append(f"reference band {number(chart.band[0])} to {number(chart.band[1])}")
    y_axis = f"; y: {inline(chart.y_label)}" if chart.y_label else ""
    parts = [
        f"**Figure {figure}. {inline(chart.title)}** (line chart{y_axis}; data summary)",
        table(SUMMARY_COLUMNS, series_rows(chart)),
    ]
    if notes:
        parts.append("Drawn: " + "; ".join(notes) + ".")
    parts.append(sources_markdown(chart.sources))
    return "\n\n".join(parts)


def _bar_chart(chart: BarChart, figure: int) -> str:
    rows = [
        [b.label, number(b.value), "—" if b.error is None else number(b.error)] for b in chart.bars
    ]
    return "\n\n".join(
        [
            f"**Figure {figure}. {inline(chart.title)}** (bar chart)",
            table(["Label", chart.x_label or "Value", "± error"], rows),
            sources_markdown(chart.sources),
        ]
    )


def _node(node: GraphNode | None) -> str:
    return "—" if node is None else f"{node.label} ({node.kind}:{node.id})"


def _code_node(node: GraphNode | None) -> str:
    return "—" if node is None else Code(f"{node.label} ({node.kind}:{node.id})")


def _graph(graph: Graph, figure: int) -> str:
    rows = [[_code_node(a), _code_node(b), label or "—"] for a, b, label in edge_rows(graph)]
    focus = [_node(n) for n in graph.nodes if n.focus]
    parts = [
        f"**Figure {figure}. {inline(graph.title)}** (lineage graph as an edge list, "
        "upstream to downstream)",
        table(["From", "To", "Relation"], rows),
    ]
    if focus:
        parts.append("Focus: " + ", ".join(inline(f) for f in focus) + ".")
    return "\n\n".join(parts)
