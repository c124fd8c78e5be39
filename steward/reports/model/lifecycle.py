"""Section ``lifecycle``: the pipeline runs that produced the version, the gates that judged it
(every number), the approvals asked and given, and the rollouts (with rollbacks)."""

from __future__ import annotations

from typing import Any

from retrain.gate.schemas import GateDecision
from steward.reports.blocks import Block, Cell, Section, Source, Table
from steward.reports.document import ReportContext
from steward.reports.model.common import cell, section, src, when
from steward.reports.model.records import ModelRecords


def lifecycle_section(ctx: ReportContext, records: ModelRecords) -> Section:
    """Section ``lifecycle``: a table per kind of record; the kinds without records are named."""
    del ctx
    blocks: list[Block] = []
    missing: list[str] = []
    parts = (
        (_pipeline_runs(records), "no pipeline run registered the version"),
        (_gates(records), "no gate judged the version"),
        (_gate_metrics(records), None),
        (_approvals(records), "no approval was asked for the version"),
        (_rollouts(records), "no rollout involved the version"),
    )
    for table, why in parts:
        if table is not None:
            blocks.append(table)
        elif why is not None:
            missing.append(why)
    return section("lifecycle", "Retraining and deployment history", blocks, missing=missing)


def _table(
    caption: str, columns: list[str], rows: list[list[Cell]], sources: list[Source | None]
) -> Table | None:
    if not rows:
        return None
    return Table(caption=caption, columns=columns, rows=rows, sources=sources)


def _inputs(values: dict[str, Any]) -> str:
    parts = []
    for name, value in sorted(values.items()):
        if isinstance(value, dict) and value.get("kind") == "dataset":
            parts.append(f"{name}={value.get('dataset')}@{value.get('version')}")
        elif isinstance(value, dict) and value.get("kind") == "model":
            parts.append(f"{name}={value.get('model')}@{value.get('version')}")
        elif isinstance(value, dict):
            parts.append(f"{name}={value.get('value')}")
    return "; ".join(parts)


def _pipeline_runs(records: ModelRecords) -> Table | None:
    runs = records.pipeline_runs
    rows: list[list[Cell]] = [
        [
            f"{r.pipeline}@{r.pipeline_version}",
            str(r.state),
            r.launched_by,
            r.trigger_owner,
            when(r.created_at),
            when(r.ended_at),
            _inputs(r.inputs),
            r.error,
        ]
        for r in runs
    ]
    return _table(
        "Pipeline runs that produced the version",
        [
            "pipeline",
            "state",
            "launched by",
            "trigger owner",
            "created",
            "ended",
            "inputs",
            "error",
        ],
        rows,
        [src("pipeline_run", r.id) for r in runs],
    )


def _ref(ref: Any) -> str | None:
    return None if ref is None else f"{ref.model}@{ref.version}"


def _gates(records: ModelRecords) -> Table | None:
    gates = records.gates
    rows: list[list[Cell]] = [
        [
            when(g.decided_at),
            g.decided_by,
            g.endpoint,
            _ref(g.challenger),
            _ref(g.champion),
            g.passed,
            "; ".join(g.reasons) or None,
            (g.details.get("holdout") or {}).get("rows"),
        ]
        for g in gates
    ]
    return _table(
        "Gate decisions",
        [
            "decided",
            "by",
            "endpoint",
            "challenger",
            "champion",
            "passed",
            "reasons",
            "holdout rows",
        ],
        rows,
        [src("gate_decision", g.id) for g in gates],
    )


def _gate_metrics(records: ModelRecords) -> Table | None:
    rows: list[list[Cell]] = []
    sources: list[Source | None] = []
    for gate in records.gates:
        for row in _checks(gate):
            rows.append(row)
            sources.append(src("gate_decision", gate.id))
    return _table(
        "Gate thresholds: challenger against champion",
        [
            "challenger",
            "metric",
            "challenger value",
            "champion value",
            "threshold",
            "min absolute change",
            "min relative change",
            "passed",
        ],
        rows,
        sources,
    )


def _checks(gate: GateDecision) -> list[list[Cell]]:
    return [
        [
            _ref(gate.challenger),
            m.get("metric"),
            cell(m.get("challenger")),
            cell(m.get("champion")),
            cell(m.get("threshold")),
            cell(m.get("min_absolute_change")),
            cell(m.get("min_relative_change")),
            cell(m.get("passed")),
        ]
        for m in gate.details.get("metrics") or []
    ]


def _approvals(records: ModelRecords) -> Table | None:
    items = records.approvals
    rows: list[list[Cell]] = [
        [
            when(a.created_at),
            a.endpoint,
            f"{a.rollout.strategy}" + (f" {a.rollout.percent}%" if a.rollout.percent else ""),
            a.requested_by,
            a.trigger_owner,
            str(a.state),
            a.decided_by,
            when(a.decided_at),
            a.note or None,
        ]
        for a in items
    ]
    return _table(
        "Approvals",
        [
            "requested",
            "endpoint",
            "rollout",
            "requested by",
            "trigger owner",
            "state",
            "decided by",
            "decided",
            "note",
        ],
        rows,
        [src("approval", a.id) for a in items],
    )


def _rollouts(records: ModelRecords) -> Table | None:
    items = records.rollouts
    version = records.version.version
    rows: list[list[Cell]] = [
        [
            when(r.started_at),
            r.endpoint,
            "candidate" if r.version == version else "replaced",
            f"{r.model}@{r.version}",
            _ref_of(r.previous_model, r.previous_version),
            str(r.strategy),
            r.percent,
            str(r.state),
            r.started_by,
            r.reason or None,
            when(r.ended_at),
            r.ended_by,
            r.end_reason or None,
        ]
        for r in items
    ]
    return _table(
        "Rollouts",
        [
            "started",
            "endpoint",
            "role",
            "candidate",
            "previous",
            "strategy",
            "percent",
            "state",
            "started by",
            "reason",
            "ended",
            "ended by",
            "end or rollback reason",
        ],
        rows,
        [src("rollout", r.id) for r in items],
    )


def _ref_of(model: str | None, version: int | None) -> str | None:
    return None if model is None else f"{model}@{version}"
