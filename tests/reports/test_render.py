"""Rendering a report: self-contained HTML that Chromium draws, a PDF whose pages pdftoppm turns
into images with the charts on them, well-formed Markdown, the embedded canonical JSON, and the
same bytes for the same report."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from steward.reports.blocks import (
    Bar,
    BarChart,
    Coverage,
    Fact,
    Facts,
    Graph,
    GraphEdge,
    GraphNode,
    LineChart,
    Paragraph,
    Point,
    Section,
    Series,
    Source,
    Table,
    Threshold,
)
from steward.reports.canonical import canonical_bytes, digest
from steward.reports.document import Report, ReportFormat, ReportKind, ReportMeta
from steward.reports.render import extract_canonical, render
from steward.reports.render.charts import y_ticks
from steward.reports.render.graph import layers, layout
from steward.reports.render.markdown import paragraph
from steward.reports.render.text import COVERAGE_COLOURS, INK, MUTED, PALETTE, THRESHOLD

START = datetime(2025, 1, 1, tzinfo=UTC)
NASTY = 'evil </script><script>alert("x")</script> <!-- <script> | pipe * _em_'


def _psi_chart() -> LineChart:
    points = [
        Point(x=(START + timedelta(days=d)).isoformat(), y=None if d == 100 else 0.1 + d / 3650)
        for d in range(365)
    ]
    runs = [Source(kind="monitor_run", id=f"3f2a9c1e-0000-4000-8000-{d:012d}") for d in range(365)]
    return LineChart(
        title="Drift (PSI) of feature income",
        y_label="PSI",
        series=[Series(name="income", points=points)],
        thresholds=[Threshold(label="alert", value=0.2)],
        band=(0.05, 0.15),
        sources=runs,
    )


def _lineage() -> Graph:
    nodes = [
        GraphNode(id="n-raw", kind="dataset", label="raw/customers.parquet"),
        GraphNode(id="n-job", kind="job", label="prepare"),
        GraphNode(id="n-feat", kind="dataset", label="features v3"),
        GraphNode(id="n-train", kind="job", label="train"),
        GraphNode(id="n-model", kind="model_version", label="churn v2 ✓", focus=True),
        GraphNode(id="n-ref", kind="dataset", label="reference window"),
    ]
    edges = [
        GraphEdge(source="n-raw", target="n-job"),
        GraphEdge(source="n-job", target="n-feat", label="writes"),
        GraphEdge(source="n-feat", target="n-train"),
        GraphEdge(source="n-train", target="n-model", label="produces"),
        GraphEdge(source="n-feat", target="n-ref"),
    ]
    return Graph(title="Upstream lineage of churn v2", nodes=nodes, edges=edges)


def _sections() -> list[Section]:
    mv = Source(kind="model_version", id="8d1b2c3a-4e5f-4a6b-9c7d-0e1f2a3b4c5d")
    identity = Section(
        id="identity",
        title="Identity",
        coverage=Coverage.filled,
        blocks=[
            Paragraph(text="Churn classifier — München office. Ünïcödé: 模型 ✓.\n\nSecond part."),
            Facts(
                facts=[
                    Fact(label="Model", value="churn", source=mv),
                    Fact(label="Version", value=2, source=mv),
                    Fact(label="Accuracy", value=0.912345678, source=mv),
                    Fact(label="Deployed", value=True, source=None),
                    Fact(label="Note", value=NASTY, source=mv),
                ]
            ),
        ],
    )
    data = Section(
        id="training_data",
        title="Training data",
        coverage=Coverage.partial,
        blocks=[
            _lineage(),
            Table(
                caption="Dataset versions",
                columns=["Dataset", "Version", "Hash", "Rows"],
                rows=[
                    ["customers", 3, "sha256:" + "ab" * 32, 120_000],
                    ["features | joined", 1, None, 99_500],
                ],
                sources=[Source(kind="dataset_version", id="dv-1"), None],
            ),
        ],
    )
    fairness = Section(
        id="fairness",
        title="Fairness",
        coverage=Coverage.filled,
        blocks=[
            BarChart(
                title="Selection rate by group",
                x_label="selection rate",
                bars=[
                    Bar(label="women", value=0.31, error=0.02),
                    Bar(label="men", value=0.35, error=0.015),
                    Bar(label="non-binary (small sample)", value=-0.05, error=0.08),
                ],
                sources=[Source(kind="monitor_run", id="mr-fair-1")],
            )
        ],
    )
    monitoring = Section(
        id="monitoring", title="Monitoring", coverage=Coverage.filled, blocks=[_psi_chart()]
    )
    audit = Section(
        id="audit",
        title="Audit trail",
        coverage=Coverage.empty,
        blocks=[Paragraph(text="No audit entries in the period.")],
    )
    return [identity, data, fairness, monitoring, audit]


@pytest.fixture(scope="module")
def report() -> Report:
    meta = ReportMeta(
        kind=ReportKind.model,
        title="Model card: churn v2 </script>",
        project="acme-risk",
        model="churn",
        version=2,
        period_start=START,
        period_end=START + timedelta(days=365),
        generated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        generator="steward 0.12.0",
    )
    return Report(meta=meta, sections=_sections())


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots and page images go: STEWARD_TEST_ARTIFACTS, else the pytest basetemp
    (outside the checkout, so nothing to ignore in git)."""
    root = os.environ.get("STEWARD_TEST_ARTIFACTS")
    folder = Path(root) if root else tmp_path_factory.getbasetemp() / "report-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is required (.ci/run installs it); it is not on PATH"
    return path


class _Refs(HTMLParser):
    """Every tag and every src/href/xlink:href/style url in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.refs += [v or "" for k, v in attrs if k in {"src", "href", "xlink:href", "action"}]
        if tag == "script":
            self.scripts.append(dict(attrs))


def _distinct_colours(png: Path) -> int:
    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours) if colours is not None else 1 << 20


def test_json_is_the_canonical_bytes(report: Report) -> None:
    assert render(report, ReportFormat.json) == canonical_bytes(report)


def test_html_is_self_contained_and_embeds_the_canonical_json(report: Report) -> None:
    page = render(report, ReportFormat.html)
    parser = _Refs()
    parser.feed(page.decode())
    assert "link" not in parser.tags and "img" not in parser.tags
    assert parser.refs and all(ref.startswith("#") for ref in parser.refs)
    assert not re.search(rb"url\((?!#)", page), "no url() other than fragment references"
    assert parser.scripts == [{"type": "application/json", "id": "steward-report"}]
    # the nasty value never closes the data block early: one script element, one end tag
    assert page.count(b"</script>") == 1
    embedded = extract_canonical(page, "html")
    assert embedded == canonical_bytes(report)
    assert "sha256:" + hashlib.sha256(embedded).hexdigest() == digest(report)
    block = page.split(b'id="steward-report">')[1].split(b"</script>")[0]
    assert json.loads(block) == json.loads(canonical_bytes(report))
    assert digest(report).encode() in page
    for section in report.sections:
        assert f'href="#sec-{section.id}"'.encode() in page
        assert f"Coverage: {section.coverage.value}".encode() in page


def test_html_shows_sources_and_text_alternatives(report: Report) -> None:
    page = render(report, ReportFormat.html).decode()
    assert 'title="model_version:8d1b2c3a-4e5f-4a6b-9c7d-0e1f2a3b4c5d"' in page
    assert ">model_version:8d1b2c3a…<" in page
    assert "365 records (365 monitor_run)" in page
    assert page.count("<svg") == 3 and page.count("<desc") == 3
    assert 'role="img"' in page and '<th scope="col">' in page
    assert "&lt;/script&gt;" in page and "Ünïcödé: 模型 ✓" in page
    assert "stroke-dasharray" in page  # the alert threshold


def _relative_luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_relative_luminance(a), _relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_colours_meet_wcag_aa() -> None:
    for colour in (INK, MUTED, THRESHOLD, *PALETTE):
        assert _contrast(colour, "#ffffff") >= 4.5, colour
        assert _contrast(colour, "#f7f7f7") >= 4.5, colour  # zebra rows
    for ink, background in COVERAGE_COLOURS.values():
        assert _contrast(ink, background) >= 4.5, (ink, background)


@pytest.mark.slow
def test_chromium_draws_the_html(report: Report, artefacts: Path) -> None:
    chromium = _tool("chromium")
    page = artefacts / "report.html"
    page.write_bytes(render(report, ReportFormat.html))
    shot = artefacts / "report-screenshot.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1100,2400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 20_000
    with Image.open(shot) as image:
        assert image.size == (1100, 2400)
    assert _distinct_colours(shot) > 50, "the screenshot is (almost) one colour"


def _pixels_near(image: Image.Image, colour: str, tolerance: int = 40) -> int:
    """How many pixels are within ``tolerance`` (per channel) of ``colour``."""
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return int((np.abs(rgb - target) <= tolerance).all(axis=-1).sum())


def _run(*command: str) -> str:
    done = subprocess.run(command, check=True, capture_output=True, timeout=120)
    return done.stdout.decode()


@pytest.mark.slow
def test_pdf_pages_show_the_charts(report: Report, artefacts: Path) -> None:
    pdftoppm, pdftotext = _tool("pdftoppm"), _tool("pdftotext")
    pdf = render(report, ReportFormat.pdf)
    assert pdf.startswith(b"%PDF-")
    target = artefacts / "report.pdf"
    target.write_bytes(pdf)
    _run(pdftoppm, "-png", "-r", "40", str(target), str(artefacts / "page"))
    pages = sorted(artefacts.glob("page-*.png"))
    texts = _run(pdftotext, "-layout", str(target), "-").split("\f")[: len(pages)]
    assert len(pages) > 1 and all(_distinct_colours(page) > 5 for page in pages)
    # every section starts a page; the page holding the drift chart shows its line and its
    # dashed threshold in their colours
    number = next(i for i, text in enumerate(texts, start=1) if "Figure 3. Drift" in text)
    assert "4. Monitoring" in texts[number - 1]
    _run(pdftoppm, "-png", "-r", "100", "-f", str(number), "-l", str(number), "-singlefile",
         str(target), str(artefacts / "chart-page"))  # fmt: skip
    with Image.open(artefacts / "chart-page.png") as image:
        assert _pixels_near(image, PALETTE[0]) > 200, "no series line on the chart page"
        assert _pixels_near(image, THRESHOLD) > 100, "no threshold line on the chart page"
    assert digest(report) in texts[0].replace("\n", "")


def test_pdf_attaches_the_canonical_json(report: Report, tmp_path: Path) -> None:
    pdfdetach = _tool("pdfdetach")
    target = tmp_path / "report.pdf"
    target.write_bytes(render(report, ReportFormat.pdf))
    _run(pdfdetach, "-saveall", "-o", str(tmp_path), str(target))
    attached = (tmp_path / "steward-report.json").read_bytes()
    assert attached == canonical_bytes(report)
    assert "sha256:" + hashlib.sha256(attached).hexdigest() == digest(report)


def _tables(markdown: str) -> Iterator[list[str]]:
    block: list[str] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            yield block
            block = []


def _cells(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line)) - 1


def test_markdown_tables_are_well_formed_and_embed_the_json(report: Report) -> None:
    text = render(report, ReportFormat.md).decode()
    tables = list(_tables(text))
    assert len(tables) >= 6
    for rows in tables:
        assert re.fullmatch(r"\|( --- \|)+", rows[1]), rows[1]
        assert {_cells(row) for row in rows} == {_cells(rows[0])}, rows
    assert digest(report) in text.split("## Contents")[0]
    assert "</script>" not in text.split("<!-- steward-report-json")[0]
    assert extract_canonical(text.encode(), "md") == canonical_bytes(report)
    assert "| From | To | Relation |" in text and "| 365 |" in text
    assert "model_version:8d1b2c3a-4e5f-4a6b-9c7d-0e1f2a3b4c5d" in text


def test_markdown_text_cannot_become_markup() -> None:
    text = paragraph("# not a heading\n1. not a list\n  - nor this\n*x* <b>y</b> [z](http://q)")
    assert text.splitlines() == [
        "\\# not a heading",
        "1\\. not a list",
        "\\- nor this",
        "\\*x\\* \\<b\\>y\\</b\\> \\[z\\](http://q)",
    ]


def test_rendering_is_deterministic(report: Report) -> None:
    again = Report.model_validate_json(canonical_bytes(report))
    for fmt in ReportFormat:
        assert render(report, fmt) == render(again, fmt), fmt


def test_y_axis_pads_the_data_without_forcing_zero() -> None:
    points = [Point(x=f"2025-01-{d:02d}", y=0.93 + d / 1000) for d in range(1, 31)]
    ticks = y_ticks(LineChart(title="accuracy", series=[Series(name="a", points=points)]))
    assert 0.9 <= ticks[0] < 0.931 and 0.96 < ticks[-1] <= 1.0
    flat = y_ticks(LineChart(title="f", series=[Series(name="a", points=points[:1])]))
    assert flat[0] < 0.931 < flat[-1]
    assert y_ticks(LineChart(title="z", series=[Series(name="a", points=[
        Point(x="a", y=0.0), Point(x="b", y=19.4)])])) == [0, 5, 10, 15, 20]  # fmt: skip


def test_graph_layers_follow_edge_depth_and_survive_cycles() -> None:
    graph = _lineage()
    depth = layers(graph)
    assert depth == {"n-raw": 0, "n-job": 1, "n-feat": 2, "n-train": 3, "n-ref": 3, "n-model": 4}
    cyclic = Graph(
        title="c",
        nodes=[GraphNode(id=i, kind="job", label=i) for i in "abc"],
        edges=[
            GraphEdge(source="a", target="b"),
            GraphEdge(source="b", target="a"),
            GraphEdge(source="b", target="c"),
        ],
    )
    assert layers(cyclic) == {"a": 0, "b": 1, "c": 2}
    assert [p.node.id for p in layout(graph)] == [p.node.id for p in layout(graph)]


def test_degenerate_blocks_still_render(report: Report) -> None:
    blocks = [
        LineChart(title="nothing", series=[]),
        LineChart(title="gaps", series=[Series(name="s", points=[Point(x="a", y=None)])]),
        LineChart(title="flat", series=[Series(name="s", points=[Point(x="a", y=3.0)])]),
        LineChart(
            title="categories",
            series=[Series(name="s", points=[Point(x=f"g{i}", y=float(i)) for i in range(20)])],
        ),
        BarChart(title="no bars", bars=[]),
        Graph(title="empty", nodes=[], edges=[]),
        Graph(title="lonely", nodes=[GraphNode(id="x", kind="endpoint", label="x")], edges=[]),
        Table(columns=["a"], rows=[]),
        Facts(facts=[]),
    ]
    odd = report.model_copy(
        update={
            "sections": [Section(id="odd", title="Odd", coverage=Coverage.empty, blocks=blocks)]
        }
    )
    for fmt in (ReportFormat.html, ReportFormat.md):
        document = render(odd, fmt)
        assert extract_canonical(document, fmt.value) == canonical_bytes(odd)
    assert render(odd, ReportFormat.html).count(b"<svg") == 7
