"""Every record the model report reads, collected once and shared by its sections.

Reads are bounded by the report's period where records have a time (monitor results, runs,
alerts); each monitor's results and runs are one query each, however many windows ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from governance.core.errors import NotFound
from lineage import service as lineage
from lineage.schemas import Deployment, Endpoint, ModelVersion, Run
from monitors.alerts import service as alerts
from monitors.alerts.schemas import Alert
from monitors.runs import service as runs
from monitors.runs.schemas import MonitorRun, ResultPoint
from monitors.specs import service as monitors
from monitors.specs.schemas import Monitor, TargetKind
from retrain.approvals import service as approvals
from retrain.approvals.schemas import Approval
from retrain.gate import service as gates
from retrain.gate.schemas import GateDecision, ModelRef
from retrain.pipelines import service as pipelines
from retrain.pipelines.schemas import PipelineRun
from retrain.rollout import service as rollouts
from retrain.rollout.schemas import Rollout
from steward.reports.document import ReportContext
from steward.reports.paging import PAGE, pages

# More runs or values than a monitor makes in the longest period a report covers (a value per
# minute for a year is 525,600 windows; a run stores at most a few hundred values).
MAX_ROWS = 10_000_000


@dataclass(frozen=True, kw_only=True)
class MonitorHistory:
    """A monitor watching an endpoint that served the version, and its history in the period."""

    monitor: Monitor
    runs: list[MonitorRun]  # current and superseded runs, oldest window first
    points: list[ResultPoint]  # values of current runs, oldest window first
    alerts: list[Alert]  # opened in the period, oldest first


@dataclass(frozen=True, kw_only=True)
class ModelRecords:
    """The version, where it served, what watched it and how it was made and released."""

    version: ModelVersion
    served: list[tuple[Endpoint, Deployment]]  # every deployment of the version
    monitors: list[MonitorHistory]
    pipeline_runs: list[PipelineRun]
    lineage_run: Run | None
    gates: list[GateDecision]  # as challenger or champion, oldest first
    approvals: list[Approval]  # of the version, oldest first
    rollouts: list[Rollout]  # of the version, or replacing it, oldest first
    notes: list[str] = field(default_factory=list)


def collect(ctx: ReportContext, *, model: str, version: int) -> ModelRecords:
    """Read every record of ``model`` version ``version`` the report needs."""
    db, project = ctx.db, ctx.project
    found = lineage.get_model_version(db, project=project, model=model, version=version)
    every = _endpoints(ctx)
    served = _served(ctx, found, every)
    endpoints = sorted({e.name for e, _ in served})
    ref = ModelRef(model=model, version=version)
    return ModelRecords(
        version=found,
        served=served,
        monitors=[_history(ctx, m) for m in _monitors(ctx, endpoints)],
        pipeline_runs=_pipeline_runs(ctx, found),
        lineage_run=_lineage_run(ctx, found),
        gates=_gates(ctx, ref),
        approvals=sorted(
            (
                a
                for a in approvals.list_approvals(db, project=project, limit=PAGE)
                if a.challenger == ref
            ),
            key=lambda a: (a.created_at, str(a.id)),
        ),
        rollouts=_rollouts(ctx, [e.name for e in every], ref),
    )


def _endpoints(ctx: ReportContext) -> list[Endpoint]:
    out: list[Endpoint] = []
    after = ""
    while True:
        page = lineage.list_endpoints(ctx.db, project=ctx.project, after=after, limit=PAGE)
        out += page
        if len(page) < PAGE:
            return out
        after = page[-1].name


def _served(
    ctx: ReportContext, found: ModelVersion, endpoints: list[Endpoint]
) -> list[tuple[Endpoint, Deployment]]:
    out: list[tuple[Endpoint, Deployment]] = []
    for endpoint in endpoints:
        deployments = lineage.list_deployments(ctx.db, project=ctx.project, endpoint=endpoint.name)
        out += [(endpoint, d) for d in deployments if d.model_version_id == found.id]
    return sorted(out, key=lambda p: (p[1].started_at, p[0].name))


def _monitors(ctx: ReportContext, endpoints: list[str]) -> list[Monitor]:
    found = monitors.list_monitors(ctx.db, project=ctx.project, skip_refused=True)
    watched = set(endpoints)
    return sorted(
        (
            m
            for m in found
            if m.spec.target.kind is TargetKind.endpoint and m.spec.target.name in watched
        ),
        key=lambda m: m.spec.name,
    )


def _history(ctx: ReportContext, monitor: Monitor) -> MonitorHistory:
    """The monitor's runs, values and alerts in the period: one query for each."""
    db, name = ctx.db, monitor.spec.name
    start, end = ctx.period_start, ctx.period_end
    listed = runs.list_runs(db, project=ctx.project, name=name, since=start, limit=MAX_ROWS)
    in_period = sorted(
        (r for r in listed if r.window_end < end), key=lambda r: (r.window_end, r.attempt)
    )
    points = runs.list_results(
        db, project=ctx.project, name=name, since=start, until=end, limit=MAX_ROWS
    ).items
    opened = [
        a
        for a in pages(
            lambda last: alerts.list_alerts(
                db,
                project=ctx.project,
                monitor=name,
                limit=PAGE,
                before=None if last is None else last.id,
            )
        )
        if start <= a.opened_at < end
    ]
    return MonitorHistory(
        monitor=monitor,
        runs=in_period,
        points=points,
        alerts=sorted(opened, key=lambda a: (a.opened_at, str(a.id))),
    )


def _pipeline_runs(ctx: ReportContext, found: ModelVersion) -> list[PipelineRun]:
    """The pipeline run that registered the version (its ``pipeline_run`` tag)."""
    tag = found.tags.get("pipeline_run")
    if not tag:
        return []
    try:
        return [pipelines.get_run(ctx.db, project=ctx.project, run_id=UUID(tag))]
    except (NotFound, ValueError):
        return []


def _lineage_run(ctx: ReportContext, found: ModelVersion) -> Run | None:
    if found.run_id is None:
        return None
    try:
        return lineage.get_run(ctx.db, project=ctx.project, run_id=str(found.run_id))
    except NotFound:
        return None


def _gates(ctx: ReportContext, ref: ModelRef) -> list[GateDecision]:
    decisions = pages(
        lambda last: gates.list_decisions(
            ctx.db, project=ctx.project, limit=PAGE, before=None if last is None else last.id
        )
    )
    mine = [d for d in decisions if ref in (d.challenger, d.champion)]
    return sorted(mine, key=lambda d: (d.decided_at, str(d.id)))


def _rollouts(ctx: ReportContext, endpoints: list[str], ref: ModelRef) -> list[Rollout]:
    found: list[Rollout] = []
    for name in endpoints:
        listed = rollouts.list_rollouts(ctx.db, project=ctx.project, endpoint=name, limit=PAGE)
        found += [
            r
            for r in listed
            if (r.model, r.version) == (ref.model, ref.version)
            or (r.previous_model, r.previous_version) == (ref.model, ref.version)
        ]
    return sorted(found, key=lambda r: (r.started_at, str(r.id)))


def served_between(records: ModelRecords, endpoint: str) -> list[tuple[datetime, datetime | None]]:
    """When the version served ``endpoint``: (start, end or None while it still serves)."""
    return [(d.started_at, d.ended_at) for e, d in records.served if e.name == endpoint]
