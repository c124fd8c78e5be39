"""Model report benchmark: a model whose endpoint has a year of daily monitor results.

    .venv/bin/python benchmarks/report_generation.py [--days 365] [--repeat 3]

Builds the records through the real stores and services (a project, a model version, an
endpoint serving it, a monitor with data-drift, performance and fairness signals, and one run a
day with its values, as the monitors store them), then times ``build_model_report`` and the
HTML rendering, against a baseline measured in the same run: a bare SQL SELECT of the same
monitor values. Target: the report in at most 10 s on two cores. Everything is made in a
temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from governance.access import service as access
from governance.audit.service import record_audit
from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import (
    ColumnSpec,
    ColumnType,
    EndpointCreate,
    ModelCreate,
    Signature,
    TaskType,
)
from monitors.runs.models import ResultRow
from monitors.runs.schemas import Metric, RunCreate, RunStatus, RunTrigger
from monitors.runs.store import SqlRunStore
from monitors.specs import service as monitors
from monitors.specs.schemas import MonitorSpec
from steward.api.app import build_services
from steward.api.deps import Services
from steward.migrations import upgrade
from steward.reports.document import ReportContext, ReportFormat
from steward.reports.model_report import build_model_report
from steward.reports.render import render

PROJECT = "bench"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
FEATURES = ("f1", "f2", "f3", "f4", "f5", "group")
ACTOR = Principal(id=None, name="bench", kind=PrincipalKind.system, via="cli")
SPEC = {
    "name": "daily",
    "target": {"name": "scorer"},
    "schedule": {"interval": "P1D", "start": T0.isoformat()},
    "signals": [
        {"kind": "data_drift", "features": list(FEATURES[:5])},
        {"kind": "performance"},
        {"kind": "fairness", "options": {"sensitive_features": ["group"]}},
    ],
}
PERFORMANCE = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
GROUP = ("group_count", "selection_rate", "accuracy", "true_positive_rate", "false_positive_rate")


def setup(services: Services, clock: ManualClock) -> None:
    """A project, a version serving an endpoint, and its monitor."""
    db = services.db
    access.bootstrap(db, owner="admin", project=PROJECT, actor=ACTOR, clock=clock)
    signature = Signature(
        inputs=[ColumnSpec(name=f, type=ColumnType.float) for f in FEATURES],
        task=TaskType.binary, classes=["0", "1"],
    )  # fmt: skip
    data = ModelCreate(sha256=hashlib.sha256(b"bench").hexdigest(), signature=signature)
    lineage.register_model_version(db, project=PROJECT, name="scorer", data=data, actor=ACTOR,
                                   clock=clock)  # fmt: skip
    endpoint = EndpointCreate(name="scorer")
    lineage.create_endpoint(db, project=PROJECT, data=endpoint, actor=ACTOR, clock=clock)
    lineage.deploy(db, project=PROJECT, endpoint="scorer", model="scorer", version=1,
                   actor=ACTOR, clock=clock)  # fmt: skip
    spec = MonitorSpec.model_validate(SPEC)
    monitors.create_monitor(db, project=PROJECT, spec=spec, actor=ACTOR, clock=clock)


def _metrics(day: int) -> list[tuple[str, Metric]]:
    wave = (day % 30) / 30
    out = [("data_drift", Metric(metric="share_of_drifted_columns", value=wave / 2,
                                 threshold=0.0, breached=wave > 0.5))]  # fmt: skip
    out += [("data_drift", Metric(metric="ks_p_value", feature=f, value=1 - wave, threshold=0.05))
            for f in FEATURES[:5]]  # fmt: skip
    out += [("performance", Metric(metric=m, value=0.8 + wave / 10)) for m in PERFORMANCE]
    out += [("fairness", Metric(metric=m, value=wave / 4, threshold=0.1))
            for m in ("demographic_parity_difference", "equalized_odds_difference")]  # fmt: skip
    out += [("fairness", Metric(metric=m, feature=f"group={g}", value=0.5 + g * wave / 10))
            for g in (0, 1) for m in GROUP]  # fmt: skip
    return out


def add_runs(services: Services, days: int) -> int:
    """One run a day with its values, stored as the monitors store them; the values stored."""
    monitor = monitors.get_monitor(services.db, project=PROJECT, name="daily")
    stored = 0
    with services.db.transaction() as session:
        store = SqlRunStore(session)
        for day in range(days):
            end = T0 + timedelta(days=day + 1)
            run = store.add_run(RunCreate(
                monitor_id=monitor.id, monitor="daily", project=PROJECT,
                window_start=end - timedelta(days=1), window_end=end, status=RunStatus.succeeded,
                trigger=RunTrigger.schedule, row_count=1000, reference_rows=5000, breached=False,
                started_at=end, finished_at=end, duration_seconds=0.5, reference="bench",
                error=None, summary={"data_drift": {"status": "succeeded"}},
            ))  # fmt: skip
            metrics = _metrics(day)
            store.add_results(run.id, metrics)
            stored += len(metrics)
        record_audit(session, actor=ACTOR, action="monitor.backfill", project=PROJECT,
                     target="monitor:daily", details={"days": days})  # fmt: skip
    return stored


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Build the records, time the report, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="steward-report-bench-") as tmp:
        home = Path(tmp) / "home"
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'steward.db'}")
        home.mkdir()
        clock = ManualClock(T0)
        fresh = Database(settings.database_url)
        upgrade(fresh)
        fresh.dispose()
        services = build_services(settings, clock=clock)
        try:
            _run(services, clock, args.days, args.repeat)
        finally:
            services.db.dispose()


def _run(services: Services, clock: ManualClock, days: int, repeat: int) -> None:
    setup(services, clock)
    values = add_runs(services, days)
    end = T0 + timedelta(days=days + 1)
    ctx = ReportContext(db=services.db, settings=services.settings, clock=clock, project=PROJECT,
                        period_start=T0, period_end=end, generated_at=end)  # fmt: skip
    monitor = monitors.get_monitor(services.db, project=PROJECT, name="daily")

    columns = (ResultRow.run_id, ResultRow.window_end, ResultRow.signal, ResultRow.metric,
               ResultRow.feature, ResultRow.value, ResultRow.threshold)  # fmt: skip
    query = select(*columns).where(ResultRow.monitor_id == monitor.id)

    def baseline() -> object:
        with services.db.engine.connect() as conn:
            found = conn.execute(query.order_by(ResultRow.window_end)).fetchall()
        assert len(found) == values, (len(found), values)
        return found

    report = build_model_report(ctx, model="scorer", version=1)
    rows = [("bare SQL SELECT of the values (baseline)", timed(baseline, repeat))]
    rows.append(("build_model_report", timed(
        lambda: build_model_report(ctx, model="scorer", version=1), repeat)))  # fmt: skip
    rows.append(("render HTML", timed(lambda: render(report, ReportFormat.html), repeat)))
    _print(rows, days, values)


def _print(rows: list[tuple[str, float]], days: int, values: int) -> None:
    base = rows[0][1]
    table = Table(title=f"Model report: {days} daily monitor runs, {values} stored values")
    for column in ("step", "seconds", "x baseline", "target"):
        table.add_column(column, justify="left" if column == "step" else "right")
    total = sum(s for name, s in rows[1:])
    for name, seconds in rows:
        table.add_row(name, f"{seconds:.3f}", f"{seconds / base:.0f}", "")
    ok = "[green]ok[/]" if total <= 10 else "[red]over[/]"
    table.add_row("report total (build + render)", f"{total:.3f}", f"{total / base:.0f}",
                  f"<= 10 s {ok}")  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
