"""The demo end to end: 7 days from Adult, a shift from day 5, the daemon on a manual clock."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rich.console import Console

from governance.core.db import Database
from governance.core.settings import Settings
from lineage import service as lineage
from monitors.runs.service import list_results
from steward.demo.report import render
from steward.demo.scenario import FIRST_DAY, DemoOptions, run_demo
from tests.builders import OPERATOR


@pytest.mark.slow
def test_seven_days_alert_on_day_five_and_signed_webhook(db: Database, settings: Settings) -> None:
    out = Console(file=io.StringIO(), width=120)
    # the demo's own size: at 1,200 rows the seeded draw of day 3 has a prediction-drift p-value
    # of 0.044, one of the 5% false alarms a single test at alpha 0.05 is allowed
    report = run_demo(db, settings, operator=OPERATOR, console=out, options=DemoOptions())
    ends = [d.run.window_end for d in report.days]
    assert ends == [FIRST_DAY + timedelta(days=n) for n in range(1, 8)]  # a result every window
    assert all(d.run.status == "succeeded" and d.run.row_count == 2000 for d in report.days)
    assert all(d.run.lineage_ref for d in report.days)  # every run is a lineage node
    assert all(0.7 < d.run.summary["performance"]["accuracy"] < 0.95 for d in report.days)
    node = lineage.get_run(db, project="adult-demo", run_id=str(report.days[4].run.id))
    assert node.job == "monitor.income-drift" and len(node.inputs) == 2  # endpoint, reference
    assert [d.number for d in report.days if d.run.breached] == [5, 6, 7]  # day 5, not before
    (alert,) = [a for a in report.alerts if a.signal == "data_drift"]
    assert alert.opened_at >= FIRST_DAY + timedelta(days=5)
    assert alert.opened_at < FIRST_DAY + timedelta(days=6)
    opened = [w for w in report.webhooks if w.event == "opened"]
    assert opened and all(w.valid for w in report.webhooks)
    assert opened[0].body["event"] == "opened"
    assert opened[0].body["alert"]["monitor"] == "income-drift"
    assert opened[0].body["alert"]["signal"] in {"data_drift", "prediction_drift"}
    drift = report.days[0].run.summary["prediction_drift"]
    assert drift["compared_with"] == "reference_predictions"  # the scored held-out rows
    assert report.audit is not None and report.audit.ok
    page = list_results(db, project="adult-demo", name="income-drift", since=FIRST_DAY)
    assert {p.window_end for p in page.items} == set(ends)
    render(report, out)
    assert "verified" in out.file.getvalue()  # type: ignore[attr-defined]

    again = run_demo(db, settings, operator=OPERATOR, console=out, options=DemoOptions())
    assert not again.trained and [d.run.id for d in again.days] == [d.run.id for d in report.days]
    assert all(d.stored == 0 for d in again.days)  # the replayed batches were recognised
    assert again.audit is not None and again.audit.ok
