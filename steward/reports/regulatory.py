"""The regulatory mapping (EU AI Act Annex IV, NIST AI RMF) as a report section; the mapping
itself is data (``mappings/regulatory.yaml``, versioned), checked when it is loaded.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from governance.core.errors import InvalidInput
from steward.reports.blocks import Cell, Coverage, Fact, Facts, Paragraph, Section, Source, Table
from steward.reports.document import ReportKind

SECTION_IDS: dict[ReportKind, tuple[str, ...]] = {
    ReportKind.model: (
        "identity", "card", "training_data", "evaluation", "fairness", "explainability",
        "monitoring", "lifecycle", "audit",
    ),
    ReportKind.project: (
        "production", "alerts", "access", "policy", "retention", "audit", "activity",
    ),
}  # fmt: skip
MAPPING_FILE = "regulatory.yaml"
_SCOPE = {
    ReportKind.model: "",
    ReportKind.project: " Headings about one model (its data, design and evaluation) are "
    "covered by that model's report, not by the project's.",
}
COLUMNS = ["heading", "title", "report sections", "status", "the team must still write"]


class Status(StrEnum):
    """How far Steward's records document a heading."""

    covered = "covered by records"
    partly = "partly"
    team = "team must write"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Covering(_Strict):
    """The sections of each kind of report that cover a heading."""

    model: list[str] = Field(default_factory=list)
    project: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_ids(self) -> Covering:
        for kind in ReportKind:
            unknown = sorted(set(getattr(self, kind.value)) - set(SECTION_IDS[kind]))
            if unknown:
                raise ValueError(f"unknown {kind.value} report section ids: {unknown}")
        return self


class Heading(_Strict):
    """One heading of a framework, the report sections covering it, and what no record says."""

    id: str
    heading: str
    sections: Covering
    team_must_write: str = ""


class Framework(_Strict):
    """A framework (Annex IV, AI RMF) and its headings in order."""

    id: str
    title: str
    source: str
    headings: list[Heading] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> Framework:
        ids = [h.id for h in self.headings]
        if len(set(ids)) != len(ids):
            raise ValueError(f"framework {self.id!r} repeats a heading id")
        return self


class Citation(_Strict):
    """A cited source text."""

    id: str
    citation: str
    url: str


class Mapping(_Strict):
    """The whole mapping file."""

    version: str = Field(min_length=1)
    sources: list[Citation] = Field(min_length=1)
    frameworks: list[Framework] = Field(min_length=1)

    @model_validator(mode="after")
    def _cited(self) -> Mapping:
        cited = {s.id for s in self.sources}
        missing = sorted({f.source for f in self.frameworks} - cited)
        if missing:
            raise ValueError(f"frameworks cite unknown sources: {missing}")
        return self


def parse_mapping(text: str) -> Mapping:
    """Check a mapping document; anything unknown or malformed is refused with the reason."""
    try:
        return Mapping.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise InvalidInput(f"invalid regulatory mapping: {exc}") from exc


@cache
def load_mapping() -> Mapping:
    """The mapping shipped with Steward (package data), checked once per process."""
    text = resources.files("steward.reports.mappings").joinpath(MAPPING_FILE).read_text("utf-8")
    return parse_mapping(text)


def heading_status(covering: list[str], coverage: dict[str, Coverage], must_write: str) -> Status:
    """Covered when every covering section is filled and nothing is left to write; the team's
    job when no section covers it (or none has records); partly otherwise."""
    found = [coverage.get(s, Coverage.empty) for s in covering]
    if not found or all(c is Coverage.empty for c in found):
        return Status.team
    if all(c is Coverage.filled for c in found) and not must_write.strip():
        return Status.covered
    return Status.partly


def _row(heading: Heading, kind: ReportKind, coverage: dict[str, Coverage]) -> list[Cell]:
    covering = list(getattr(heading.sections, kind.value))
    status = heading_status(covering, coverage, heading.team_must_write)
    shown = [
        s if coverage.get(s, Coverage.empty) is Coverage.filled
        else f"{s} ({coverage.get(s, Coverage.empty).value})"
        for s in covering
    ]  # fmt: skip
    return [heading.id, heading.heading, ", ".join(shown), status.value, heading.team_must_write]


def regulatory_section(
    kind: ReportKind, sections: list[Section], mapping: Mapping | None = None
) -> Section:
    """Section ``regulatory``: per heading of each framework, which report sections cover it,
    whether records fill them (from each section's coverage), and what the team must write."""
    mapping = mapping or load_mapping()
    coverage = {s.id: s.coverage for s in sections if s.id in SECTION_IDS[kind]}
    tables = []
    statuses = []
    for framework in mapping.frameworks:
        rows = [_row(h, kind, coverage) for h in framework.headings]
        statuses += [r[3] for r in rows]
        tables.append(Table(caption=framework.title, columns=COLUMNS, rows=rows))
    facts = Facts(
        facts=[Fact(label="mapping version", value=mapping.version,
                    source=Source(kind="regulatory_mapping", id=mapping.version))]
        + [Fact(label=f"source: {c.id}", value=f"{c.citation} <{c.url}>") for c in mapping.sources]
    )  # fmt: skip
    counts = {s: statuses.count(s.value) for s in Status}
    summary = Paragraph(
        text=f"{counts[Status.covered]} headings covered by records, {counts[Status.partly]} "
        f"partly, {counts[Status.team]} for the team to write. A section marked (partial) or "
        "(empty) lacks records; the last column is what no record can say." + _SCOPE[kind]
    )
    filled = counts[Status.covered] == len(statuses)
    return Section(
        id="regulatory",
        title="Regulatory mapping",
        coverage=Coverage.filled if filled else Coverage.partial,
        blocks=[summary, facts, *tables],
    )
