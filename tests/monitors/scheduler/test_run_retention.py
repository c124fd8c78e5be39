"""Retention of monitor runs by the leader: the monitor's, else the project's, else none.

Twelve hourly windows run over in-memory traffic whose windows ending at +3h..+5h drift, so
the real alert sink opens one alert and leaves it naming the run of +5h. Retention is then
edited through the API (or the CLI) and applied by the leader's retention job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.runs.adapters import AlertsSink
from monitors.runs.models import ResultRow
from monitors.runs.retention import apply_run_retention
from monitors.runs.service import list_runs
from monitors.runs.sources import (
    NoLineage,
    ProfileCache,
    RunEnvironment,
    StaticReferenceLoader,
    TableWindowReader,
)
from monitors.scheduler.daemon import Daemon, DaemonOptions
from monitors.scheduler.main import Acceleration, build_daemon
from monitors.specs.schemas import Monitor
from monitors.specs.service import get_monitor
from steward.api.deps import Services
from tests.builders import World
from tests.cli.runner import CliResult, run_steward
from tests.monitors.runs.synthetic import reference_table, traffic
from tests.monitors.scheduler.conftest import HOUR, START

MONITORS = "/api/v1/projects/alpha/monitors"
NOW = START + 11 * HOUR  # the newest of the twelve windows has just ended


@pytest.fixture
def ran(db: Database, monitor: Monitor, services: Services) -> ManualClock:
    """Twelve windows ending at START..START+11h, run by a leader; its clock stays at NOW."""
    burst = traffic(START, windows=5, shift_from=2)  # windows ending +3h, +4h, +5h drift
    calm = traffic(START + 5 * HOUR, windows=7, seed=3)  # no false alarm
    clock = ManualClock(NOW)
    env = RunEnvironment(
        windows=TableWindowReader({"scorer": pa.concat_tables([burst, calm])}),
        references=StaticReferenceLoader({"train": reference_table()}, default="train"),
        alerts=AlertsSink(services.settings, clock=clock),
        lineage=NoLineage(),
        profiles=ProfileCache(),
    )
    leader = Daemon(db, env=env, clock=clock, options=DaemonOptions(tick=60))
    leader.leading = True
    assert leader.run_due(monitor) == 12
    return clock


def _ends(db: Database) -> list[datetime]:
    runs = list_runs(db, project="alpha", name="drift", limit=100)
    return sorted(r.window_end for r in runs)


def _results(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(ResultRow)) or 0)


def _deletions(client: TestClient, world: World) -> list[dict[str, Any]]:
    page = client.get(
        "/api/v1/projects/alpha/audit",
        params={"action": "monitor.retention.delete"},
        headers=world.headers("owner"),
    )
    assert page.status_code == 200, page.text
    return [e["details"] for e in page.json()["items"]]


def _patch_monitor(client: TestClient, world: World, body: dict[str, Any]) -> Any:
    return client.patch(f"{MONITORS}/drift", json=body, headers=world.headers("data-scientist"))


def test_monitor_retention_deletes_old_runs_in_audited_batches_keeping_alerted_ones(
    client: TestClient, world: World, db: Database, env: RunEnvironment, ran: ManualClock
) -> None:
    (alert,) = client.get("/api/v1/projects/alpha/alerts", headers=world.headers("viewer")).json()
    assert alert["window_end"].startswith("2026-03-01T05:00")  # names the run of +5h
    before = _results(db)
    assert apply_run_retention(db, clock=ran, batch=3).runs == {}  # no retention: all kept
    r = _patch_monitor(client, world, {"retention": "PT3H"})
    assert r.status_code == 200 and r.json()["spec"]["retention"] == "PT3H", r.text

    done = apply_run_retention(db, clock=ran, batch=3)
    # Windows ending before NOW - 3h = +8h go, except the alerted one of +5h.
    kept = [START + 5 * HOUR] + [START + h * HOUR for h in range(8, 12)]
    assert _ends(db) == kept
    assert done.runs == {"alpha/drift": 7}
    batches = _deletions(client, world)
    assert [b["runs"] for b in batches] == [3, 3, 1]
    assert sum(b["results"] for b in batches) == done.results["alpha/drift"] > 0
    assert before - _results(db) == done.results["alpha/drift"]
    assert batches[0]["retention"] == "PT3H" and batches[0]["before"].startswith("2026-03-01T08")

    # A leader that starts afresh does not run the deleted windows again.
    fresh = Daemon(db, env=env, clock=ran)
    assert fresh.due(get_monitor(db, project="alpha", name="drift")) == []

    resolved = client.post(
        f"/api/v1/projects/alpha/alerts/{alert['id']}/resolve",
        json={"note": "seen"},
        headers=world.headers("ml-engineer"),
    )
    assert resolved.status_code == 200, resolved.text
    assert apply_run_retention(db, clock=ran, batch=3).runs == {"alpha/drift": 1}
    assert _ends(db) == kept[1:]
    assert [b["runs"] for b in _deletions(client, world)] == [3, 3, 1, 1]


def test_the_project_retention_applies_when_the_monitor_has_none(
    client: TestClient, world: World, db: Database, settings: Settings, ran: ManualClock
) -> None:
    r = client.patch(
        "/api/v1/projects/alpha", json={"retention_days": 1}, headers=world.headers("owner")
    )
    assert r.status_code == 200, r.text
    # The leader's own retention job, as ``steward daemon`` wires it, at NOW + 19.5h.
    later = Acceleration(origin=NOW + 19.5 * HOUR, speed=1)
    leader = build_daemon(db, settings, accelerate=later)
    leader.leading = True
    leader.apply_retention()
    assert _ends(db) == [START + 5 * HOUR] + [START + h * HOUR for h in range(7, 12)]
    (batch,) = _deletions(client, world)
    assert batch["runs"] == 6 and batch["retention"] == "P1D"
    # The monitor's own retention wins over the project's.
    assert _patch_monitor(client, world, {"retention": "PT22H"}).status_code == 200
    leader.apply_retention()
    assert _ends(db) == [START + 5 * HOUR] + [START + h * HOUR for h in range(9, 12)]
    assert [(b["runs"], b["retention"]) for b in _deletions(client, world)][1:] == [(2, "PT22H")]


@pytest.mark.parametrize("retention", ["P0D", "-P1D", "soon", "PT0.5S"])
def test_a_bad_retention_is_refused_naming_it(
    client: TestClient, world: World, monitor: Monitor, retention: str
) -> None:
    r = _patch_monitor(client, world, {"retention": retention})
    assert r.status_code == 422 and "retention" in r.text, r.text


def test_a_viewer_cannot_change_retention(
    client: TestClient, world: World, monitor: Monitor
) -> None:
    r = client.patch(
        f"{MONITORS}/drift", json={"retention": "P1D"}, headers=world.headers("viewer")
    )
    assert r.status_code == 403, r.text


def steward(settings: Settings, *args: str) -> CliResult:
    """Run the CLI (in this process) against the test's home and database."""
    env = {"STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url}
    return run_steward(*args, env=env)


def test_monitor_set_edits_the_rule_and_retention_from_the_cli(
    client: TestClient, world: World, settings: Settings, monitor: Monitor
) -> None:
    args = ("monitor", "set", "drift", "-p", "alpha")
    done = steward(settings, *args, "--cooldown", "PT30M", "--retention", "P90D",
                   "--breaches", "2", "--of", "3")  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    spec = client.get(f"{MONITORS}/drift", headers=world.headers("viewer")).json()["spec"]
    assert spec["alert"] == {"breaches": 2, "of": 3, "cooldown": "PT30M"}
    assert spec["retention"] == "P90D"
    done = steward(settings, *args, "--cooldown", "PT45M")
    assert done.returncode == 0, done.stderr + done.stdout
    spec = client.get(f"{MONITORS}/drift", headers=world.headers("viewer")).json()["spec"]
    assert spec["retention"] == "P90D"  # not named: kept
    done = steward(settings, *args, "--retention", "default", "--cooldown", "default")
    assert done.returncode == 0, done.stderr + done.stdout
    spec = client.get(f"{MONITORS}/drift", headers=world.headers("viewer")).json()["spec"]
    assert spec["retention"] is None and spec["alert"]["cooldown"] is None
    assert spec["alert"]["breaches"] == 2  # what was not named kept its value
    for bad, option in [(("--retention", "-P1D"), "--retention"), (("--breaches", "4"), "of")]:
        refused = steward(settings, *args, *bad)
        assert refused.returncode == 2 and option in refused.stderr, refused.stderr
