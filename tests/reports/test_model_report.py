"""The model report of a version that went through monitoring, an alert, a retrain and a
redeploy: every section present and filled from the records, its numbers equal to the stored
ones, every number sourced by a record that exists, the same records giving the same report,
and an audit row edited in the database reported as a failed chain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import text

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit, list_checkpoints
from lineage import service as lineage
from lineage.query import get_node
from monitors.alerts import service as alerts
from monitors.runs import service as runs
from monitors.specs import service as monitors
from retrain.approvals import service as approvals
from retrain.gate import service as gates
from retrain.pipelines import service as pipelines
from retrain.rollout import service as rollouts
from steward.reports.audit_status import audit_section
from steward.reports.blocks import (
    BarChart,
    Coverage,
    Facts,
    LineChart,
    Paragraph,
    Section,
    Source,
    Table,
)
from steward.reports.canonical import canonical_bytes
from steward.reports.document import Report
from steward.reports.model_report import build_model_report
from tests.audit.test_anchoring import attacker
from tests.reports import loop
from tests.reports.loop import PROJECT, T0, Loop

pytestmark = pytest.mark.slow

closed_loop = loop.closed_loop  # the shared fixture: one loop for this module
IDS = ["identity", "card", "training_data", "evaluation", "fairness", "explainability",
       "monitoring", "lifecycle", "audit", "regulatory"]  # fmt: skip


def _report(loop: Loop, version: int = 2, **period: Any) -> Report:
    return build_model_report(loop.context(**period), model="scorer", version=version)


def _section(report: Report, ident: str) -> Section:
    [found] = [s for s in report.sections if s.id == ident]
    return found


def _tables(section: Section) -> dict[str, Table]:
    return {b.caption: b for b in section.blocks if isinstance(b, Table)}


def _column(table: Table, name: str) -> list[Any]:
    index = table.columns.index(name)
    return [row[index] for row in table.rows]


def test_every_section_is_present_in_order_and_filled_from_records(closed_loop: Loop) -> None:
    report = _report(closed_loop)
    assert [s.id for s in report.sections] == IDS
    for section in report.sections[:-1]:  # the regulatory mapping says what the team must write
        assert section.coverage is Coverage.filled, (section.id, section.blocks)
    assert report.meta.model == "scorer" and report.meta.version == 2


def test_identity_card_and_training_data_equal_the_stored_records(closed_loop: Loop) -> None:
    db = closed_loop.services.db
    report = _report(closed_loop)
    stored = lineage.get_model_version(db, project=PROJECT, model="scorer", version=2)
    [facts, serving] = _section(report, "identity").blocks
    assert isinstance(facts, Facts) and isinstance(serving, Table)
    values = {f.label: f.value for f in facts.facts}
    assert values["Artifact SHA-256"] == stored.sha256 and values["Flavour"] == "sklearn"
    assert values["Registered by"] == "system:steward-trigger"
    assert serving.rows[0][:2] == ["scorer", "serving now"]
    card = {f.label: f.value for b in _section(report, "card").blocks
            if isinstance(b, Facts) for f in b.facts}  # fmt: skip
    assert card["Intended use"] == "Rank applications for manual review."
    data = _tables(_section(report, "training_data"))["Input dataset versions"]
    train = lineage.get_dataset_version(db, project=PROJECT, name="train-data")
    assert _column(data, "sha256") == [train.sha256] and _column(data, "rows") == [2000]
    [graph] = [b for b in _section(report, "training_data").blocks if b.type == "graph"]
    assert {n.kind for n in graph.nodes} >= {"dataset_version", "run", "model_version"}


def test_gate_approval_and_rollout_numbers_equal_the_stored_ones(closed_loop: Loop) -> None:
    db = closed_loop.services.db
    report = _report(closed_loop)
    decision = gates.get_decision(db, project=PROJECT, decision_id=UUID(closed_loop.gate))
    lifecycle = _tables(_section(report, "lifecycle"))
    checks = lifecycle["Gate thresholds: challenger against champion"]
    [stored_check] = decision.details["metrics"]
    assert checks.rows == [["scorer@2", "accuracy", stored_check["challenger"],
                            stored_check["champion"], 0.6, None, None, True]]  # fmt: skip
    fair = _tables(_section(report, "fairness"))["Disparities judged by the gate"]
    [limit] = decision.details["fairness"]
    judged = limit["challenger"]
    assert fair.rows[0][2:5] == [judged["value"], judged["standard_error"], judged["upper_bound"]]
    evaluation = _tables(_section(report, "evaluation"))["Metrics recorded for the version"]
    gate_rows = {r[1]: r[2] for r, s in zip(evaluation.rows, evaluation.sources, strict=True)
                 if s == Source(kind="gate_decision", id=closed_loop.gate)}  # fmt: skip
    assert gate_rows == decision.details["scores"]["challenger"]
    approval = approvals.get_approval(db, project=PROJECT, approval_id=UUID(closed_loop.approval))
    table = lifecycle["Approvals"]
    assert _column(table, "decided by") == [approval.decided_by] == ["user:admin"]
    rollout = rollouts.get_rollout(db, project=PROJECT, rollout_id=UUID(closed_loop.rollout))
    assert _column(lifecycle["Rollouts"], "state") == [str(rollout.state)] == ["promoted"]


def test_monitor_points_and_alerts_equal_the_stored_runs(closed_loop: Loop) -> None:
    db = closed_loop.services.db
    report = _report(closed_loop)
    stored = runs.list_results(db, project=PROJECT, name="watch", limit=100_000).items
    section = _section(report, "monitoring")
    charts = [b for b in section.blocks if isinstance(b, LineChart)]
    assert {c.title for c in charts} == {
        "watch: data_drift", "watch: performance", "watch: fairness", "watch: attribution_drift"
    }  # fmt: skip
    for chart in charts:
        signal = chart.title.split(": ", 1)[1]
        for series in chart.series:
            metric, _, feature = series.name.partition(" [")
            key = (signal, metric, feature[:-1])
            expected = [(p.window_end, p.value) for p in stored
                        if (p.signal, p.metric, p.feature) == key]  # fmt: skip
            assert [(pt.x, pt.y) for pt in series.points] == [(_iso(w), v) for w, v in expected], (
                series.name
            )
        assert [s.id for s in chart.sources] == sorted(
            {str(p.run_id) for p in stored if p.signal == signal},
            key=lambda r: next(p.window_end for p in stored if str(p.run_id) == r),
        )
    drift = next(c for c in charts if c.title == "watch: data_drift")
    assert [t.value for t in drift.thresholds if t.label.startswith("share")] == [0.0]
    table = _tables(section)["Alerts of monitor watch"]
    alert = alerts.get_alert(db, project=PROJECT, alert_id=UUID(closed_loop.alert))
    row = table.rows[table.sources.index(Source(kind="alert", id=closed_loop.alert))]
    assert row[3] == "resolved" and row[7] == alert.acknowledged_by == "user:owner-user"
    assert row[9] == alert.resolved_by == "user:ml-engineer-user"


def _iso(value: Any) -> str:
    from governance.core.clock import isoformat

    return isoformat(value)


def test_explainability_comes_from_the_attribution_run_of_this_version(closed_loop: Loop) -> None:
    db = closed_loop.services.db
    section = _section(_report(closed_loop), "explainability")
    [chart] = [b for b in section.blocks if isinstance(b, BarChart)]
    [source] = chart.sources
    stored = runs.list_results(db, project=PROJECT, name="watch", signal="attribution_drift",
                               limit=100_000).items  # fmt: skip
    shap = {p.feature: p.value for p in stored
            if str(p.run_id) == source.id and p.metric == "mean_abs_shap"}  # fmt: skip
    assert {b.label: b.value for b in chart.bars} == shap
    [run] = [r for r in runs.list_runs(db, project=PROJECT, name="watch") if str(r.id) == source.id]
    assert run.summary["attribution_drift"]["version"] == 2


def test_without_a_run_in_the_period_importance_is_computed_seeded(closed_loop: Loop) -> None:
    first = _section(_report(closed_loop, 1, until=T0), "explainability")
    again = _section(_report(closed_loop, 1, until=T0), "explainability")
    assert first == again and first.coverage is Coverage.filled
    [how, chart] = first.blocks
    assert isinstance(how, Paragraph) and "seed 0" in how.text and "500 rows" in how.text
    assert isinstance(chart, BarChart) and {b.label for b in chart.bars} == {"x1", "x2", "group"}
    monitoring = _section(_report(closed_loop, 1, until=T0), "monitoring")
    assert monitoring.coverage is Coverage.partial


def test_the_same_records_give_the_same_report(closed_loop: Loop) -> None:
    one = _report(closed_loop)
    later = build_model_report(
        closed_loop.context(closed_loop.until + timedelta(minutes=5)), model="scorer", version=2
    )
    assert later.meta.generated_at != one.meta.generated_at
    same = later.model_copy(update={"meta": one.meta})
    assert canonical_bytes(same) == canonical_bytes(one)


def _resolvers(loop: Loop) -> dict[str, Callable[[str], object]]:
    db = loop.services.db
    watch = monitors.get_monitor(db, project=PROJECT, name="watch")
    run_ids = {str(r.id) for r in runs.list_runs(db, project=PROJECT, name="watch")}
    sizes = {str(c.tree_size) for c in list_checkpoints(db)}

    def entry(seq: str) -> object:
        flt = AuditFilter()
        [found] = list_audit(db, flt=flt, cursor=None, limit=int(seq) + 1).items[int(seq) - 1 :][:1]
        assert found.seq == int(seq)
        return found

    def node(ident: str) -> object:
        return get_node(db, project=PROJECT, node_id=UUID(ident))

    return {
        "model_version": lambda i: lineage.get_model_version_by_id(
            db, project=PROJECT, version=UUID(i)),
        "dataset_version": node, "lineage_node": node, "endpoint": node,
        "pipeline_run": lambda i: pipelines.get_run(db, project=PROJECT, run_id=UUID(i)),
        "gate_decision": lambda i: gates.get_decision(db, project=PROJECT, decision_id=UUID(i)),
        "approval": lambda i: approvals.get_approval(db, project=PROJECT, approval_id=UUID(i)),
        "rollout": lambda i: rollouts.get_rollout(db, project=PROJECT, rollout_id=UUID(i)),
        "alert": lambda i: alerts.get_alert(db, project=PROJECT, alert_id=UUID(i)),
        "monitor": lambda i: i == str(watch.id) or pytest.fail(f"monitor {i}"),
        "monitor_run": lambda i: i in run_ids or pytest.fail(f"monitor run {i}"),
        "audit_entry": entry,
        "audit_checkpoint": lambda i: i in sizes or pytest.fail(f"checkpoint {i}"),
    }  # fmt: skip


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sourced(section: Section) -> list[tuple[Source | None, bool]]:
    """(source, whether it sources a number) of every figure of a section."""
    found: list[tuple[Source | None, bool]] = []
    for block in section.blocks:
        if isinstance(block, Facts):
            found += [(f.source, _numeric(f.value)) for f in block.facts]
        elif isinstance(block, Table):
            assert len(block.sources) == len(block.rows), block.caption
            found += [(s, any(_numeric(c) for c in r))
                      for r, s in zip(block.rows, block.sources, strict=True)]  # fmt: skip
        elif isinstance(block, LineChart | BarChart):
            assert block.sources, block.title
            found += [(s, True) for s in block.sources]
    return found


def test_every_number_has_a_source_that_exists(closed_loop: Loop) -> None:
    resolve = _resolvers(closed_loop)
    checked = 0
    for version in (1, 2):
        for section in _report(closed_loop, version).sections[:-1]:  # regulatory: D's tests
            for source, number in _sourced(section):
                assert source is not None or not number, section.id
                if source is not None:
                    assert resolve[source.kind](source.id), source
                    checked += 1
    assert checked > 50


def test_an_edited_audit_row_is_reported_as_a_failed_chain(closed_loop: Loop) -> None:
    """Runs last in this module: it edits the shared database (and puts the row back)."""
    db = closed_loop.services.db
    ctx = closed_loop.context()
    clean = audit_section(ctx, resources=None)
    assert "The audit chain verified." in [b.text for b in clean.blocks
                                            if isinstance(b, Paragraph)]  # fmt: skip
    [entry] = list_audit(db, flt=AuditFilter(action="gate.decide"), cursor=None, limit=1).items
    try:
        with attacker(db) as conn:
            conn.execute(text("UPDATE audit_entries SET actor = 'user:mallory' WHERE seq = :s"),
                         {"s": entry.seq})  # fmt: skip
        section = _section(_report(closed_loop), "audit")
    finally:
        with attacker(db) as conn:
            conn.execute(text("UPDATE audit_entries SET actor = :a WHERE seq = :s"),
                         {"a": entry.actor, "s": entry.seq})  # fmt: skip
    said = [b.text for b in section.blocks if isinstance(b, Paragraph)]
    assert f"modified (1); first bad sequence number {entry.seq}" in " ".join(said), said
    facts = {f.label: f.value for b in section.blocks if isinstance(b, Facts) for f in b.facts}
    assert facts["Chain"] == "failed" and facts["First bad sequence number"] == entry.seq
    assert "modified" in str(facts["Categories"])
