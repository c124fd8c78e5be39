"""The regulatory mapping: the shipped file loads and is checked; statuses follow coverage."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from governance.core.errors import InvalidInput
from steward.reports.blocks import Coverage, Facts, Section, Table
from steward.reports.document import ReportKind
from steward.reports.regulatory import (
    SECTION_IDS,
    Status,
    load_mapping,
    parse_mapping,
    regulatory_section,
)


def _shipped() -> str:
    return resources.files("steward.reports.mappings").joinpath("regulatory.yaml").read_text()


def _section(id_: str, coverage: Coverage) -> Section:
    return Section(id=id_, title=id_, coverage=coverage, blocks=[])


def test_the_shipped_mapping_names_annex_iv_points_and_the_rmf_functions() -> None:
    mapping = load_mapping()
    assert mapping.version
    assert {s.id for s in mapping.sources} == {"eu-ai-act", "nist-ai-rmf"}
    assert any("2024/1689" in s.citation for s in mapping.sources)
    annex, rmf = mapping.frameworks
    points = {h.id.split("(")[0] for h in annex.headings}
    assert points == {str(n) for n in range(1, 10)}
    assert {"2(b)", "5"} <= {h.id for h in annex.headings}
    functions = {h.id.split()[0] for h in rmf.headings}
    assert functions == {"GOVERN", "MAP", "MEASURE", "MANAGE"}
    # Every section of both reports covers at least one heading: none is shown for nothing.
    for kind in ReportKind:
        used = {s for f in mapping.frameworks for h in f.headings
                for s in getattr(h.sections, kind.value)}  # fmt: skip
        assert used == set(SECTION_IDS[kind]), kind


def test_an_unknown_section_id_is_refused() -> None:
    data = yaml.safe_load(_shipped())
    data["frameworks"][0]["headings"][0]["sections"]["model"].append("model_zoo")
    with pytest.raises(InvalidInput, match="model_zoo"):
        parse_mapping(yaml.safe_dump(data))
    data = yaml.safe_load(_shipped())
    data["frameworks"][1]["headings"][0]["sections"]["project"] = ["identity"]  # a model section
    with pytest.raises(InvalidInput, match="identity"):
        parse_mapping(yaml.safe_dump(data))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("version"),
        lambda d: d["frameworks"][0]["headings"][0].update(sectoins={}),
        lambda d: d["frameworks"][0].update(source="iso-42001"),
        lambda d: d["frameworks"][1]["headings"].append(d["frameworks"][1]["headings"][0]),
    ],
    ids=["no-version", "unknown-key", "uncited-source", "repeated-heading"],
)
def test_malformed_mappings_are_refused(change: object) -> None:
    data = yaml.safe_load(_shipped())
    change(data)  # type: ignore[operator]
    with pytest.raises(InvalidInput):
        parse_mapping(yaml.safe_dump(data))


MAPPING = """
version: "t1"
sources: [{id: s, citation: "Test source", url: "https://example.org"}]
frameworks:
  - id: f
    title: F
    source: s
    headings:
      - {id: all-filled, heading: A, sections: {model: [identity, card]}}
      - {id: one-partial, heading: B, sections: {model: [identity, fairness]}}
      - {id: filled-but-text, heading: C, sections: {model: [identity]}, team_must_write: why}
      - {id: none, heading: D, sections: {model: []}, team_must_write: the plan}
      - {id: all-empty, heading: E, sections: {model: [monitoring]}}
      - {id: missing-section, heading: G, sections: {model: [audit]}}
"""


def test_statuses_follow_the_coverage_of_the_sections() -> None:
    sections = [
        _section("identity", Coverage.filled),
        _section("card", Coverage.filled),
        _section("fairness", Coverage.partial),
        _section("monitoring", Coverage.empty),
    ]
    section = regulatory_section(ReportKind.model, sections, parse_mapping(MAPPING))
    assert section.id == "regulatory" and section.coverage is Coverage.partial
    table = next(b for b in section.blocks if isinstance(b, Table))
    got = {row[0]: (row[2], row[3], row[4]) for row in table.rows}
    assert got == {
        "all-filled": ("identity, card", Status.covered, ""),
        "one-partial": ("identity, fairness (partial)", Status.partly, ""),
        "filled-but-text": ("identity", Status.partly, "why"),
        "none": ("", Status.team, "the plan"),
        "all-empty": ("monitoring (empty)", Status.team, ""),
        "missing-section": ("audit (empty)", Status.team, ""),
    }
    facts = next(b for b in section.blocks if isinstance(b, Facts))
    assert facts.facts[0].value == "t1"


def test_every_heading_covered_makes_a_filled_section() -> None:
    mapping = parse_mapping(MAPPING.split("      - {id: one-partial")[0])
    section = regulatory_section(
        ReportKind.model,
        [_section("identity", Coverage.filled), _section("card", Coverage.filled)],
        mapping,
    )
    assert section.coverage is Coverage.filled


def test_the_project_report_uses_its_own_sections() -> None:
    # A project report has no "identity": a heading covered only by model sections is the
    # team's to write there, whatever a model section's coverage says.
    everything = [_section(s, Coverage.filled) for k in ReportKind for s in SECTION_IDS[k]]
    section = regulatory_section(ReportKind.project, everything)
    annex = next(b for b in section.blocks if isinstance(b, Table))
    rows = {r[0]: r for r in annex.rows}
    assert rows["2(d)"][2:4] == ["", Status.team]  # training data: model sections only
    assert rows["6"][2:4] == ["activity, audit", Status.covered]
    assert len(section.blocks) == 2 + len(load_mapping().frameworks)
