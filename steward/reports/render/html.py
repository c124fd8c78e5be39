"""A report as one self-contained HTML page: inline CSS and SVG, no script but the embedded
canonical JSON (``<script type="application/json" id="steward-report">``), nothing fetched.

The embedded block is the canonical JSON with ``</`` written ``<\\/`` and ``<!`` written
``<\\u0021`` (the same JSON value); ``text.extract_canonical`` reverses that to get the exact
bytes whose SHA-256 is the digest shown in the header.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from steward.reports.blocks import (
    BarChart,
    Block,
    Cell,
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
from steward.reports.document import Report, ReportKind
from steward.reports.render.charts import (
    SUMMARY_COLUMNS,
    bar_chart_svg,
    line_chart_svg,
    series_rows,
)
from steward.reports.render.css import STYLE
from steward.reports.render.graph import edge_rows, graph_svg
from steward.reports.render.text import (
    EMBED_TAG_OPEN,
    cell_text,
    html_embed,
    number,
    source_label,
    source_short,
)
from steward.reports.render.text import escape as esc

INLINE_SOURCES = 8  # a figure with more sources lists them by kind, and in full on screen


def when(moment: datetime) -> str:
    """An ISO-8601 time, ``Z`` for UTC."""
    return moment.isoformat().replace("+00:00", "Z")


def subject(report: Report) -> str:
    """What the report is about: ``model v3`` or ``project p``."""
    meta = report.meta
    if meta.kind is ReportKind.model:
        return f"model {meta.model} version {meta.version}"
    return f"project {meta.project}"


def render_html(report: Report, *, for_print: bool = False) -> bytes:
    """The report as HTML bytes (UTF-8), deterministic for the same report. ``for_print`` (the
    PDF's input) leaves out what print hides anyway: the embedded JSON (the PDF attaches it as
    a file) and the full source lists of figures."""
    meta = report.meta
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(meta.title)}</title>",
        f'<meta name="generator" content="{esc(meta.generator)}">',
        f'<meta name="dcterms.created" content="{esc(when(meta.generated_at))}">',
        f'<meta name="description" content="{meta.kind.value} report, {esc(subject(report))}">',
        f'<meta name="steward-report-digest" content="{digest(report)}">',
        f"<style>{STYLE}</style>\n</head>\n<body>",
        _header(report),
        _toc(report.sections),
        "<main>",
    ]
    counter = _Figures(for_print=for_print)
    for number_, section in enumerate(report.sections, start=1):
        parts.append(_section(number_, section, counter))
    parts += ["</main>", _footer(report, for_print=for_print)]
    if not for_print:
        parts.append(EMBED_TAG_OPEN + html_embed(canonical_bytes(report)) + "</script>")
    parts.append("</body>\n</html>\n")
    return "\n".join(parts).encode()


def _footer(report: Report, *, for_print: bool) -> str:
    where = (
        "attached to this PDF as <code>steward-report.json</code>"
        if for_print
        else "embedded below (element <code>#steward-report</code>; replace "
        "<code>&lt;\\/</code> by <code>&lt;/</code> and <code>&lt;\\u0021</code> by "
        "<code>&lt;!</code> to get the exact bytes)"
    )
    return (
        f'<footer class="footer"><p>Report digest <code class="digest">{digest(report)}</code>: '
        f"the SHA-256 of the report's canonical JSON, {where}.</p></footer>"
    )


def _header(report: Report) -> str:
    meta = report.meta
    rows = [
        ("Project", meta.project),
        ("Subject", subject(report)),
        ("Period", f"{when(meta.period_start)} to {when(meta.period_end)}"),
        ("Generated at", when(meta.generated_at)),
        ("Generator", meta.generator),
        ("Schema", meta.schema_version),
    ]
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    items += f'<dt>Digest</dt><dd><code class="digest">{digest(report)}</code></dd>'
    return (
        f'<header class="report-header"><h1>{esc(meta.title)}</h1>'
        f'<dl class="meta">{items}</dl></header>'
    )


def _badge(section: Section) -> str:
    value = section.coverage.value
    return f'<span class="badge badge-{value}">Coverage: {value}</span>'


def _toc(sections: list[Section]) -> str:
    items = "".join(
        f'<li><a href="#sec-{esc(s.id)}">{esc(s.title)}</a>{_badge(s)}</li>' for s in sections
    )
    return (
        '<nav class="toc" aria-labelledby="toc-title"><h2 id="toc-title">Contents</h2>'
        f"<ol>{items}</ol></nav>"
    )


class _Figures:
    """Numbers the figures of a page in reading order (and gives their SVG ids)."""

    def __init__(self, *, for_print: bool) -> None:
        self.count = 0
        self.for_print = for_print

    def next(self) -> tuple[int, str]:
        self.count += 1
        return self.count, f"fig{self.count}"


def _section(index: int, section: Section, figures: _Figures) -> str:
    body = "".join(_block(block, figures) for block in section.blocks)
    return (
        f'<section class="report-section" id="sec-{esc(section.id)}" '
        f'aria-labelledby="h-{esc(section.id)}"><h2 id="h-{esc(section.id)}">'
        f"{index}. {esc(section.title)}{_badge(section)}</h2>{body}</section>"
    )


def _block(block: Block, figures: _Figures) -> str:
    if isinstance(block, Paragraph):
        return "".join(f"<p>{esc(p)}</p>" for p in block.text.split("\n\n"))
    if isinstance(block, Facts):
        return _facts(block)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, LineChart):
        return _line_chart(block, *figures.next(), full=not figures.for_print)
    if isinstance(block, BarChart):
        return _bar_chart(block, *figures.next(), full=not figures.for_print)
    return _graph(block, *figures.next())


def source_cell(source: Source | None) -> str:
    """A Source table cell: short id shown, full ``kind:id`` in the title attribute."""
    if source is None:
        return '<td class="src">—</td>'
    full, short = esc(source_label(source)), esc(source_short(source))
    return f'<td class="src"><span title="{full}">{short}</span></td>'


def _cell(value: Cell) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return (
        f'<td class="num">{esc(cell_text(value))}</td>'
        if numeric
        else f"<td>{esc(cell_text(value))}</td>"
    )


def _facts(block: Facts) -> str:
    rows = "".join(
        f'<tr><th scope="row">{esc(fact.label)}</th>{_cell(fact.value)}'
        f"{source_cell(fact.source)}</tr>"
        for fact in block.facts
    )
    head = "".join(f'<th scope="col">{name}</th>' for name in ("Item", "Value", "Source"))
    head = f"<thead><tr>{head}</tr></thead>"
    return f'<table class="facts">{head}<tbody>{rows}</tbody></table>'


def _table(block: Table) -> str:
    with_sources = any(s is not None for s in block.sources)
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in block.columns)
    head += '<th scope="col">Source</th>' if with_sources else ""
    rows = []
    for i, row in enumerate(block.rows):
        cells = "".join(_cell(v) for v in row)
        if with_sources:
            cells += source_cell(block.sources[i] if i < len(block.sources) else None)
        rows.append(f"<tr>{cells}</tr>")
    caption = f"<caption>{esc(block.caption)}</caption>" if block.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def sources_html(sources: list[Source], *, full_list: bool = True) -> str:
    """A figure's sources: listed when few, else counted by kind (and all of them, folded,
    when ``full_list``)."""
    if not sources:
        return '<p class="sources">Sources: none recorded.</p>'
    if len(sources) <= INLINE_SOURCES:
        spans = ", ".join(
            f'<span class="src" title="{esc(source_label(s))}">{esc(source_short(s))}</span>'
            for s in sources
        )
        return f'<p class="sources">Sources: {spans}</p>'
    counts = Counter(s.kind for s in sources)
    summary = ", ".join(f"{n} {esc(kind)}" for kind, n in sorted(counts.items()))
    first, last = source_label(sources[0]), source_label(sources[-1])
    head = (
        f'<p class="sources">Sources: {len(sources)} records ({summary}); first '
        f'<span class="src">{esc(first)}</span>, last <span class="src">{esc(last)}</span>.</p>'
    )
    if not full_list:
        return head
    items = "".join(f"<li>{esc(source_label(s))}</li>" for s in sources)
    return (
        f'{head}<details class="all-sources"><summary>All {len(sources)} sources</summary>'
        f'<ol class="src">{items}</ol></details>'
    )


def _figure(number_: int, title: str, svg: str, extra: str) -> str:
    return (
        f'<figure class="chart" id="figure-{number_}"><figcaption>Figure {number_}. '
        f"{esc(title)}</figcaption>{svg}{extra}</figure>"
    )


def _line_chart(chart: LineChart, number_: int, uid: str, *, full: bool) -> str:
    head = "".join(f'<th scope="col">{c}</th>' for c in SUMMARY_COLUMNS)
    rows = "".join(
        "<tr>"
        + f'<th scope="row">{esc(r[0])}</th>'
        + "".join(f"<td>{esc(v)}</td>" for v in r[1:])
        + "</tr>"
        for r in series_rows(chart)
    )
    notes = [f"threshold {esc(t.label)} = {esc(number(t.value))}" for t in chart.thresholds]
    if chart.band:
        notes.append(f"reference band {esc(number(chart.band[0]))} to {esc(number(chart.band[1]))}")
    note = f'<p class="sources">{"; ".join(notes)}.</p>' if notes else ""
    table = (
        f'<table class="chart-data"><caption>Figure {number_} data summary '
        "(every point is in the embedded JSON)</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )
    return _figure(
        number_,
        chart.title,
        line_chart_svg(chart, uid),
        table + note + sources_html(chart.sources, full_list=full),
    )


def _bar_chart(chart: BarChart, number_: int, uid: str, *, full: bool) -> str:
    label = esc(chart.x_label or "Value")
    rows = "".join(
        f'<tr><th scope="row">{esc(b.label)}</th><td class="num">{esc(number(b.value))}</td>'
        f'<td class="num">{esc(number(b.error)) if b.error is not None else "—"}</td></tr>'
        for b in chart.bars
    )
    table = (
        f'<table class="chart-data"><caption>Figure {number_} data</caption><thead><tr>'
        f'<th scope="col">Label</th><th scope="col">{label}</th><th scope="col">± error</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    return _figure(
        number_,
        chart.title,
        bar_chart_svg(chart, uid),
        table + sources_html(chart.sources, full_list=full),
    )


def _graph(graph: Graph, number_: int, uid: str) -> str:
    def node(n: GraphNode | None) -> str:
        if n is None:
            return "—"
        source = Source(kind=n.kind, id=n.id)
        return (
            f'{esc(n.label)} <span class="src" title="{esc(source_label(source))}">'
            f"{esc(source_short(source))}</span>"
        )

    rows = "".join(
        f"<tr><td>{node(a)}</td><td>{node(b)}</td><td>{esc(label) or '—'}</td></tr>"
        for a, b, label in edge_rows(graph)
    )
    table = (
        f'<table class="chart-data"><caption>Figure {number_} edges (upstream to downstream)'
        '</caption><thead><tr><th scope="col">From</th><th scope="col">To</th>'
        f'<th scope="col">Relation</th></tr></thead><tbody>{rows}</tbody></table>'
    )
    return _figure(number_, graph.title, graph_svg(graph, uid), table)
