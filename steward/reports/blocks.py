"""What a report shows, independent of format: sections made of paragraphs, facts, tables, charts
and graphs. Renderers turn these into HTML, Markdown and PDF; every figure keeps its source."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    """The record a figure came from: its kind (``model_version``, ``monitor_run``, ``alert``,
    ``gate_decision``, ``approval``, ``rollout``, ``audit_entry``, ``audit_checkpoint``,
    ``dataset_version``, ``lineage_node``, ``pipeline_run``, ...) and its id."""

    kind: str
    id: str


Cell = str | int | float | bool | None


class Paragraph(_Frozen):
    type: Literal["paragraph"] = "paragraph"
    text: str


class Fact(_Frozen):
    label: str
    value: Cell
    source: Source | None = None


class Facts(_Frozen):
    """Label/value pairs (a definition list)."""

    type: Literal["facts"] = "facts"
    facts: list[Fact]


class Table(_Frozen):
    """Rows of cells; ``sources[i]`` is row i's record (renderers show it as the last column)."""

    type: Literal["table"] = "table"
    caption: str = ""
    columns: list[str]
    rows: list[list[Cell]]
    sources: list[Source | None] = Field(default_factory=list)


class Point(_Frozen):
    x: str  # ISO-8601 time or a category label
    y: float | None


class Series(_Frozen):
    name: str
    points: list[Point]


class Threshold(_Frozen):
    label: str
    value: float


class LineChart(_Frozen):
    """Values over time, with thresholds drawn as lines and an optional reference band."""

    type: Literal["line_chart"] = "line_chart"
    title: str
    y_label: str = ""
    series: list[Series]
    thresholds: list[Threshold] = Field(default_factory=list)
    band: tuple[float, float] | None = None
    sources: list[Source] = Field(default_factory=list)


class Bar(_Frozen):
    label: str
    value: float
    error: float | None = None  # half-width of an interval, drawn as an error bar


class BarChart(_Frozen):
    """Horizontal bars (importances, per-group metrics)."""

    type: Literal["bar_chart"] = "bar_chart"
    title: str
    x_label: str = ""
    bars: list[Bar]
    sources: list[Source] = Field(default_factory=list)


class GraphNode(_Frozen):
    id: str
    kind: str
    label: str
    focus: bool = False


class GraphEdge(_Frozen):
    source: str
    target: str
    label: str = ""


class Graph(_Frozen):
    """A lineage graph, laid out left (upstream) to right (downstream) by the renderer."""

    type: Literal["graph"] = "graph"
    title: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]


Block = Annotated[
    Paragraph | Facts | Table | LineChart | BarChart | Graph, Field(discriminator="type")
]


class Coverage(StrEnum):
    """How much of a section Steward's records fill."""

    filled = "filled"  # every statement comes from records
    partial = "partial"  # records fill some of it; the section says what is missing
    empty = "empty"  # no records of this kind yet (said so, never left out)


class Section(_Frozen):
    """One heading of a report (``id`` is stable: the regulatory mapping refers to it)."""

    id: str
    title: str
    coverage: Coverage
    blocks: list[Block]
