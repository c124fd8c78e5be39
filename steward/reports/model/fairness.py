"""Section ``fairness``: the gates' disparities with their sampling error and limits, and the
newest fairness monitor run of an endpoint while the version served it, per group."""

from __future__ import annotations

from typing import Any

from monitors.runs.schemas import ResultPoint
from retrain.gate.schemas import GateDecision
from steward.reports.blocks import Bar, BarChart, Block, Cell, Paragraph, Section, Table
from steward.reports.document import ReportContext
from steward.reports.model.common import cell, section, src, when
from steward.reports.model.history import latest_signal_run
from steward.reports.model.records import ModelRecords

GROUP_COLUMNS = (
    "group_count",
    "small_group",
    "selection_rate",
    "accuracy",
    "true_positive_rate",
    "false_positive_rate",
    "precision",
)


def fairness_section(ctx: ReportContext, records: ModelRecords) -> Section:
    """Section ``fairness``: gate checks and the latest monitored disparities."""
    del ctx
    blocks: list[Block] = []
    missing: list[str] = []
    for gate in records.gates:
        blocks += _gate_blocks(gate, records.version.version)
    if not blocks:
        missing.append("no gate judged the version against fairness limits")
    monitored = latest_signal_run(records, "fairness")
    if monitored is None:
        missing.append("no fairness monitor ran while the version served")
    else:
        history, key, points = monitored
        blocks += _monitor_blocks(history.monitor.spec.name, key, points)
    return section("fairness", "Fairness", blocks, missing=missing)


def _gate_blocks(gate: GateDecision, version: int) -> list[Block]:
    checks = gate.details.get("fairness") or []
    if not checks:
        return []
    role = "challenger" if gate.challenger.version == version else "champion"
    source = src("gate_decision", gate.id)
    rows: list[list[Cell]] = []
    groups: list[list[Cell]] = []
    for check in checks:
        judged: dict[str, Any] = check.get(role) or {}
        rows.append(
            [
                check.get("metric"),
                check.get("sensitive_feature"),
                cell(judged.get("value")),
                cell(judged.get("standard_error")),
                cell(judged.get("upper_bound")),
                cell(check.get("confidence")),
                cell(check.get("limit")),
                cell(check.get("min_group_size")),
                cell(judged.get("passed", check.get("passed"))),
                cell(judged.get("reason") or check.get("reason") or ""),
            ]
        )
        for group, count in sorted((judged.get("groups") or {}).items()):
            groups.append([check.get("sensitive_feature"), group, cell(count)])
    blocks: list[Block] = [
        Paragraph(
            text=(
                f"Gate decision {gate.id} judged the version as {role} on its holdout. A disparity "
                "passes when its one-sided upper confidence bound (bootstrap standard error) is at "
                "most the limit; groups smaller than the minimum group size are left out, and "
                "fewer than two groups left fails the check."
            )
        ),
        Table(
            caption="Disparities judged by the gate",
            columns=[
                "metric",
                "sensitive feature",
                "value",
                "standard error",
                "upper bound",
                "confidence",
                "limit",
                "min group size",
                "passed",
                "reason",
            ],
            rows=rows,
            sources=[source] * len(rows),
        ),
    ]
    if groups:
        blocks.append(
            Table(
                caption="Holdout rows per group",
                columns=["feature", "group", "rows"],
                rows=groups,
                sources=[source] * len(groups),
            )
        )
    return blocks


def _monitor_blocks(monitor: str, key: str, points: list[ResultPoint]) -> list[Block]:
    run = src("monitor_run", points[0].run_id)
    overall = [p for p in points if not p.feature]
    rows: list[list[Cell]] = [
        [p.metric, cell(p.value), cell(p.threshold), p.breached]
        for p in sorted(overall, key=lambda p: p.metric)
    ]
    per_group: dict[str, dict[str, float | None]] = {}
    for p in points:
        if p.feature and p.metric in GROUP_COLUMNS:
            per_group.setdefault(p.feature, {})[p.metric] = p.value
    groups = sorted(per_group)
    blocks: list[Block] = [
        Paragraph(
            text=(
                f"Monitor {monitor}, signal {key}, window ending {when(points[0].window_end)}: "
                "disparities over the window's labelled rows; groups below the signal's minimum "
                "group size are flagged small and make the window too small to judge."
            )
        ),
        Table(
            caption="Disparities in the newest monitored window",
            columns=["metric", "value", "limit", "breached"],
            rows=rows,
            sources=[run] * len(rows),
        ),
        Table(
            caption="Per group",
            columns=["group", *GROUP_COLUMNS],
            rows=[[g, *(cell(per_group[g].get(c)) for c in GROUP_COLUMNS)] for g in groups],
            sources=[run] * len(groups),
        ),
    ]
    bars = [
        Bar(label=g, value=v)
        for g in groups
        if (v := per_group[g].get("selection_rate")) is not None
    ]
    if bars:
        blocks.append(
            BarChart(
                title="Selection rate per group", x_label="selection rate", bars=bars, sources=[run]
            )
        )
    return blocks
