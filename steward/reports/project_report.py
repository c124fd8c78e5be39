"""The governance report of a project, from Steward's records.

Section ids, in order: production, alerts, access, policy, retention, audit, activity,
regulatory. The report states the project as of ``period_end`` (what served, which alerts were
open and for how long) and what happened in the period (after ``period_start``, up to and
including ``period_end``), so the same records and period give the same report whenever it is
generated; only ``meta.generated_at`` differs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from governance.access.enforcer import PolicyEngine
from governance.access.schemas import ROLES
from governance.access.service import get_project, list_bindings
from governance.audit.schemas import AuditEntry, AuditFilter
from governance.audit.service import list_audit
from governance.core.clock import isoformat
from governance.core.durations import iso_duration
from lineage import service as lineage
from lineage.schemas import Deployment, Endpoint
from monitors.alerts.schemas import Alert
from monitors.alerts.service import list_alerts
from monitors.runs.service import list_runs as list_monitor_runs
from monitors.specs.schemas import Monitor
from monitors.specs.service import list_monitors
from retrain.approvals.service import get_deploy_policy
from retrain.gate.schemas import GateDecision
from retrain.gate.service import list_decisions
from retrain.pipelines.service import list_runs as list_pipeline_runs
from retrain.rollout.schemas import Rollout, RolloutState
from retrain.rollout.service import list_rollouts
from steward.reports.audit_status import audit_section
from steward.reports.blocks import (
    Block,
    Cell,
    Coverage,
    Fact,
    Facts,
    Paragraph,
    Section,
    Source,
    Table,
)
from steward.reports.document import Report, ReportContext, ReportKind, ReportMeta
from steward.reports.paging import PAGE, pages
from steward.reports.regulatory import regulatory_section

# Rollouts of one endpoint read at most (newest first); far beyond any real history.
MAX_ROLLOUTS = 100_000
MAX_RUNS = 1_000_000


def src(kind: str, ident: UUID | str | int) -> Source:
    """The source of a figure: a record's kind and id."""
    return Source(kind=kind, id=str(ident))


def when(value: datetime | None) -> str | None:
    """A time as canonical UTC text (None stays None)."""
    return None if value is None else isoformat(value)


@dataclass(frozen=True, slots=True)
class _Period:
    start: datetime
    end: datetime

    def holds(self, at: datetime | None) -> bool:
        """Whether ``at`` falls in the period (after its start, up to and including its end)."""
        return at is not None and self.start < at <= self.end

    def live(self, start: datetime, end: datetime | None) -> bool:
        """Whether something that began at ``start`` and ended at ``end`` ran at the end."""
        return start <= self.end and (end is None or end > self.end)


def build_project_report(ctx: ReportContext) -> Report:
    """Collect every section of the project's governance report."""
    period = _Period(ctx.period_start, ctx.period_end)
    endpoints = _endpoints(ctx)
    rollouts = sorted(
        (r for e in endpoints for r in list_rollouts(ctx.db, project=ctx.project,
                                                     endpoint=e.name, limit=MAX_ROLLOUTS)),
        key=lambda r: (r.started_at, str(r.id)),
    )  # fmt: skip
    alerts = sorted(
        pages(lambda last: list_alerts(ctx.db, project=ctx.project, limit=PAGE,
                                        before=last.id if last else None)),
        key=lambda a: (a.opened_at, str(a.id)),
    )  # fmt: skip
    monitors = sorted(list_monitors(ctx.db, project=ctx.project), key=lambda m: m.spec.name)
    sections = [
        _production(ctx, period, endpoints, rollouts),
        _alerts(period, alerts, monitors),
        _access(ctx),
        _policy(ctx),
        _retention(ctx, monitors),
        audit_section(ctx, resources=None),
        _activity(ctx, period, monitors=monitors, alerts=alerts, rollouts=rollouts),
    ]
    sections.append(regulatory_section(ReportKind.project, sections))
    meta = ReportMeta(
        kind=ReportKind.project, title=f"Governance report: project {ctx.project}",
        project=ctx.project, period_start=ctx.period_start, period_end=ctx.period_end,
        generated_at=ctx.generated_at, generator=f"steward {_version()}",
    )  # fmt: skip
    return Report(meta=meta, sections=sections)


def _version() -> str:
    try:
        return importlib.metadata.version("steward")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _endpoints(ctx: ReportContext) -> list[Endpoint]:
    out: list[Endpoint] = []
    while page := lineage.list_endpoints(
        ctx.db, project=ctx.project, after=out[-1].name if out else "", limit=PAGE
    ):
        out += page
    return sorted(out, key=lambda e: e.name)


def _section(ident: str, title: str, blocks: list[Block], empty_because: str | None) -> Section:
    if empty_because is not None:
        text = Paragraph(text=f"No records: {empty_because}.")
        return Section(id=ident, title=title, coverage=Coverage.empty, blocks=[text, *blocks])
    return Section(id=ident, title=title, coverage=Coverage.filled, blocks=blocks)


# production


def _served_at(deployments: list[Deployment], period: _Period) -> Deployment | None:
    live = [d for d in deployments if period.live(d.started_at, d.ended_at)]
    return max(live, key=lambda d: d.started_at) if live else None


def _production(
    ctx: ReportContext, period: _Period, endpoints: list[Endpoint], rollouts: list[Rollout]
) -> Section:
    rows: list[list[Cell]] = []
    sources: list[Source | None] = []
    for endpoint in endpoints:
        history = lineage.list_deployments(ctx.db, project=ctx.project, endpoint=endpoint.name)
        served = _served_at(history, period)
        if served is None:
            rows.append([endpoint.name, None, None, None, None])
            sources.append(src("lineage_node", endpoint.id))
            continue
        rows.append([endpoint.name, served.model, served.version, when(served.started_at),
                     served.actor])  # fmt: skip
        sources.append(src("model_version", served.model_version_id))
    served_table = Table(
        caption="What each endpoint served at the end of the period",
        columns=["endpoint", "model", "version", "serving since", "deployed by"],
        rows=rows, sources=sources,
    )  # fmt: skip
    active = [r for r in rollouts if period.live(r.started_at, r.ended_at)]
    active_table = Table(
        caption="Rollouts active at the end of the period",
        columns=["endpoint", "model", "version", "strategy", "percent", "replacing",
                 "started", "started by"],
        rows=[[r.endpoint, r.model, r.version, r.strategy.value, r.percent,
               _ref(r.previous_model, r.previous_version), when(r.started_at), r.started_by]
              for r in sorted(active, key=lambda r: (r.endpoint, r.started_at))],
        sources=[src("rollout", r.id) for r in sorted(active, key=lambda r: (r.endpoint,
                                                                            r.started_at))],
    )  # fmt: skip
    none = "the project has no endpoints" if not endpoints else None
    return _section("production", "Models in production", [served_table, active_table], none)


def _ref(model: str | None, version: int | None) -> str | None:
    return None if model is None else f"{model}@{version}"


# alerts


def _alerts(period: _Period, alerts: list[Alert], monitors: list[Monitor]) -> Section:
    open_ = [a for a in alerts if period.live(a.opened_at, a.resolved_at)]
    open_.sort(key=lambda a: (a.monitor, a.signal, a.opened_at, str(a.id)))
    listed = Table(
        caption="Alerts open at the end of the period, with their age then",
        columns=["monitor", "signal", "severity", "state", "opened", "age (hours)", "breaches"],
        rows=[[a.monitor, a.signal, a.severity.value, a.state.value, when(a.opened_at),
               _hours(period.end - a.opened_at), a.breach_count] for a in open_],
        sources=[src("alert", a.id) for a in open_],
    )  # fmt: skip
    groups: dict[tuple[str, str, str], list[Alert]] = {}
    for a in open_:
        groups.setdefault((a.monitor, a.signal, a.severity.value), []).append(a)
    grouped = Table(
        caption="Open alerts by monitor, signal and severity",
        columns=["monitor", "signal", "severity", "open", "oldest age (hours)"],
        rows=[[*key, len(group), _hours(period.end - group[0].opened_at)]
              for key, group in sorted(groups.items())],
        sources=[_single(group, "alert") for _, group in sorted(groups.items())],
    )  # fmt: skip
    note = Paragraph(text=f"{len(open_)} alert(s) open at the end of the period.")
    none = "the project has no monitors and no alerts" if not (alerts or monitors) else None
    return _section("alerts", "Open alerts", [note, grouped, listed], none)


def _hours(age: timedelta) -> float:
    return round(age.total_seconds() / 3600, 2)


def _single(records: Sequence[Alert | Rollout | GateDecision], kind: str) -> Source | None:
    """A count's source when it counts exactly one record."""
    return src(kind, records[0].id) if len(records) == 1 else None


# access


def _grants(ctx: ReportContext) -> dict[tuple[str, str], AuditEntry]:
    """The latest ``role.grant`` entry of each (principal, role) of the project."""
    flt = AuditFilter(action="role.grant", project=ctx.project)
    found: dict[tuple[str, str], AuditEntry] = {}
    cursor: str | None = None
    while True:
        page = list_audit(ctx.db, flt=flt, cursor=cursor, limit=PAGE)
        for entry in page.items:
            who = (entry.target or "").removeprefix("principal:")
            key = (who, str(entry.details.get("role", "")))
            if key not in found or found[key].seq < entry.seq:
                found[key] = entry
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _access(ctx: ReportContext) -> Section:
    bindings = sorted(list_bindings(ctx.db, project=ctx.project),
                      key=lambda b: (ROLES.index(b.role) if b.role in ROLES else len(ROLES),
                                     b.principal))  # fmt: skip
    grants = _grants(ctx)
    rows: list[list[Cell]] = []
    sources: list[Source | None] = []
    for b in bindings:
        entry = grants.get((b.principal, b.role))
        rows.append([b.principal, b.role, when(b.created_at), entry.actor if entry else None])
        sources.append(src("audit_entry", entry.seq) if entry else
                       src("role_binding", f"{b.project}/{b.principal}/{b.role}"))  # fmt: skip
    table = Table(caption="Role bindings of the project (granted by: from the audit trail)",
                  columns=["principal", "role", "granted at", "granted by"], rows=rows,
                  sources=sources)  # fmt: skip
    counts = Counter(b.role for b in bindings)
    summary = Facts(facts=[Fact(label=role, value=counts[role]) for role in ROLES])
    none = "nobody holds a role in the project" if not bindings else None
    return _section("access", "Who holds which role", [summary, table], none)


# policy


def _policy(ctx: ReportContext) -> Section:
    policy_dir = ctx.settings.policy_dir
    lines = PolicyEngine(policy_dir, reload_seconds=0).policy_lines()
    digest = hashlib.sha256((policy_dir / "policy.csv").read_bytes()).hexdigest()
    file_src = src("policy_file", f"policy.csv@sha256:{digest}")
    grants: dict[str, dict[str, set[str]]] = {}
    for obj, act, role in lines:
        grants.setdefault(obj, {}).setdefault(role, set()).add(act)
    matrix = Table(
        caption="What each role may do (object: actions), from the loaded policy file",
        columns=["object", *ROLES],
        rows=[[obj, *(", ".join(sorted(grants[obj].get(role, ()))) or None for role in ROLES)]
              for obj in sorted(grants)],
        sources=[file_src for _ in grants],
    )  # fmt: skip
    deploy = get_deploy_policy(ctx.db, project=ctx.project)
    deploy_src = src("deploy_policy", ctx.project) if deploy.updated_at else None
    facts = Facts(facts=[
        Fact(label="deploy mode", value=deploy.mode.value, source=deploy_src),
        Fact(label="approver role", value=deploy.approver_role, source=deploy_src),
        Fact(label="set by", value=deploy.updated_by or "default (never set)", source=deploy_src),
        Fact(label="set at", value=when(deploy.updated_at), source=deploy_src),
    ])  # fmt: skip
    return _section("policy", "Policy summary", [matrix, facts], None)


# retention


def _retention(ctx: ReportContext, monitors: list[Monitor]) -> Section:
    project = get_project(ctx.db, name=ctx.project)
    days = project.retention_days
    psrc = src("project", project.id)
    cooldown = project.alert_cooldown
    facts = Facts(facts=[
        Fact(label="project retention (days)", value=days, source=psrc),
        Fact(label="inference data (capture)", value=_kept(days), source=psrc),
        Fact(label="alert cooldown",
             value=iso_duration(cooldown) if cooldown else "server default", source=psrc),
    ])  # fmt: skip
    table = Table(
        caption="Monitor runs and results: kept for the monitor's retention, else the project's",
        columns=["monitor", "own retention", "effective retention"],
        rows=[[m.spec.name, iso_duration(m.spec.retention) if m.spec.retention else None,
               iso_duration(m.spec.retention) if m.spec.retention else _kept(days)]
              for m in monitors],
        sources=[src("monitor", m.id) for m in monitors],
    )  # fmt: skip
    return _section("retention", "Retention settings", [facts, table], None)


def _kept(days: int | None) -> str:
    return "kept indefinitely" if days is None else f"P{days}D"


# activity


def _activity(
    ctx: ReportContext, period: _Period, *, monitors: list[Monitor], alerts: list[Alert],
    rollouts: list[Rollout],
) -> Section:  # fmt: skip
    runs = _monitor_runs(ctx, period, monitors)
    pipelines = _pipeline_states(ctx, period)
    gates = sorted(_gates(ctx, period), key=lambda g: (g.decided_at, str(g.id)))
    started = [r for r in rollouts if period.holds(r.started_at)]
    rolled_back = [r for r in rollouts
                   if r.state is RolloutState.rolled_back and period.holds(r.ended_at)]  # fmt: skip
    rows: list[tuple[str, int, Source | None]] = [
        *((f"monitor runs: {status}", n, None) for status, n in sorted(runs.items())),
        *((f"pipeline runs: {state}", n, None) for state, n in sorted(pipelines.items())),
        *_count("gate decisions: passed", [g for g in gates if g.passed], "gate_decision"),
        *_count("gate decisions: failed", [g for g in gates if not g.passed], "gate_decision"),
        *_count("rollouts started", started, "rollout"),
        *_count("rollbacks", rolled_back, "rollout"),
        *_count("alerts opened", [a for a in alerts if period.holds(a.opened_at)], "alert"),
        *_count("alerts resolved", [a for a in alerts if period.holds(a.resolved_at)], "alert"),
    ]
    summary = Table(caption="What happened in the period", columns=["activity", "count"],
                    rows=[[label, n] for label, n, _ in rows],
                    sources=[s for _, _, s in rows])  # fmt: skip
    blocks: list[Block] = [summary, _gate_table(gates), _rollout_table(started, rolled_back)]
    return _section("activity", "Activity in the period", blocks, None)


def _count(
    label: str, records: Sequence[Alert | Rollout | GateDecision], kind: str
) -> list[tuple[str, int, Source | None]]:
    return [(label, len(records), _single(records, kind))]


def _monitor_runs(ctx: ReportContext, period: _Period, monitors: list[Monitor]) -> Counter[str]:
    """Current runs (not superseded by a rerun) of windows ending in the period, by status."""
    counts: Counter[str] = Counter()
    for m in monitors:
        runs = list_monitor_runs(ctx.db, project=ctx.project, name=m.spec.name,
                                 since=period.start, limit=MAX_RUNS)  # fmt: skip
        counts.update(r.status.value for r in runs
                      if r.superseded_by is None and period.holds(r.window_end))  # fmt: skip
    return counts


def _pipeline_states(ctx: ReportContext, period: _Period) -> Counter[str]:
    """Pipeline runs created in the period, by state."""
    counts: Counter[str] = Counter()
    cursor: str | None = None
    while True:
        page = list_pipeline_runs(ctx.db, project=ctx.project, limit=PAGE, cursor=cursor)
        counts.update(r.state.value for r in page.items if period.holds(r.created_at))
        if page.next_cursor is None or any(r.created_at <= period.start for r in page.items):
            return counts
        cursor = page.next_cursor


def _gates(ctx: ReportContext, period: _Period) -> Iterable[GateDecision]:
    before: UUID | None = None
    while True:
        page = list_decisions(ctx.db, project=ctx.project, before=before, limit=PAGE)
        yield from (g for g in page if period.holds(g.decided_at))
        if len(page) < PAGE or page[-1].decided_at <= period.start:
            return
        before = page[-1].id


def _gate_table(gates: list[GateDecision]) -> Table:
    return Table(
        caption="Gate decisions in the period",
        columns=["decided", "challenger", "champion", "endpoint", "passed", "reasons"],
        rows=[[when(g.decided_at), f"{g.challenger.model}@{g.challenger.version}",
               f"{g.champion.model}@{g.champion.version}" if g.champion else None, g.endpoint,
               g.passed, "; ".join(g.reasons) or None] for g in gates],
        sources=[src("gate_decision", g.id) for g in gates],
    )  # fmt: skip


def _rollout_table(started: list[Rollout], rolled_back: list[Rollout]) -> Table:
    both = sorted({r.id: r for r in [*started, *rolled_back]}.values(),
                  key=lambda r: (r.started_at, str(r.id)))  # fmt: skip
    return Table(
        caption="Rollouts started or rolled back in the period",
        columns=["started", "endpoint", "model", "version", "strategy", "state", "ended",
                 "end reason"],
        rows=[[when(r.started_at), r.endpoint, r.model, r.version, r.strategy.value,
               r.state.value, when(r.ended_at), r.end_reason or None] for r in both],
        sources=[src("rollout", r.id) for r in both],
    )  # fmt: skip
