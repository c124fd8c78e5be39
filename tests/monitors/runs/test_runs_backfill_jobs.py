"""Backfills as jobs: queued over HTTP, worked by the app's worker thread, polled and cancelled.

The app runs with its lifespan (so its real worker thread runs) on the in-memory traffic of the
run tests, whose window reader lets a window be read only when the test allows it: that is how
a test sees a backfill queued, part-way and finished, and cancels it between two windows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.runs.backfills import (
    claim_backfill,
    execute_backfill,
    list_backfills,
    request_backfill,
)
from monitors.runs.schemas import Backfill, BackfillStatus, RerunScope, RunTrigger
from monitors.runs.service import backfill, list_runs, run_window
from monitors.runs.sources import RunEnvironment, WindowReader
from monitors.runs.worker import BackfillWorker
from monitors.specs.schemas import Monitor, Target
from monitors.specs.service import create_monitor
from monitors.specs.windows import Span
from steward.api.app import create_app
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.cli.runner import run_steward
from tests.monitors.runs.conftest import HOUR, START
from tests.monitors.runs.jobs import wait_for

BASE = "/api/v1/projects/alpha/monitors"
SINCE, UNTIL = START - HOUR, START + 11 * HOUR  # twelve hourly windows, the first without data
WINDOWS = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}


class Gate:
    """A window reader that reads a window only once the test allows it."""

    def __init__(self, inner: WindowReader) -> None:
        self.inner = inner
        self.permits = threading.Semaphore(0)

    def read(self, *, project: str, target: Target, span: Span, labels: bool = False) -> pa.Table:
        """The inner reader's window, after waiting for a permit."""
        if not self.permits.acquire(timeout=20):
            raise TimeoutError("the test never let this window be read")
        return self.inner.read(project=project, target=target, span=span, labels=labels)

    def allow(self, windows: int) -> None:
        """Let ``windows`` more windows be read."""
        self.permits.release(windows)


@contextmanager
def serving(services: Services, env: RunEnvironment) -> Iterator[tuple[TestClient, Gate]]:
    """The app with its lifespan, its backfill worker running on ``env`` behind a gate."""
    gate = Gate(env.windows)
    env.windows = gate
    app = create_app(services=services, seal_in_background=False, backfill_env=lambda: env)
    with TestClient(app, raise_server_exceptions=False) as client:
        try:
            yield client, gate
        finally:
            gate.allow(1000)  # the worker finishes its window before the lifespan ends


def _post(client: TestClient, world: World, body: dict[str, Any] = WINDOWS) -> tuple[str, Any]:
    r = client.post(f"{BASE}/drift/backfill", json=body, headers=world.headers("ml-engineer"))
    assert r.status_code == 202, r.text
    return r.headers["Location"], r.json()


def _runs(db: Database) -> list[tuple[datetime, int]]:
    """(window end, attempt) of every run of the monitor, oldest window first."""
    runs = list_runs(db, project="alpha", name="drift", limit=1000)
    return sorted((r.window_end, r.attempt) for r in runs)


def _audit(client: TestClient, world: World, action: str) -> list[dict[str, Any]]:
    r = client.get("/api/v1/audit", params={"action": action}, headers=world.headers("admin"))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_a_backfill_is_queued_at_once_then_worked_with_progress(
    services: Services, env: RunEnvironment, world: World, monitor: Monitor, db: Database
) -> None:
    viewer = world.headers("viewer")
    with serving(services, env) as (client, gate):
        location, job = _post(client, world)
        assert location == f"{BASE}/drift/backfills/{job['id']}"
        assert (job["status"], job["windows_done"], job["windows_total"]) == ("queued", 0, 12)
        assert job["requested_by"] == "user:ml-engineer-user" and job["rerun"] is None
        running = wait_for(client, location, viewer, lambda j: j["status"] == "running")
        assert running["windows_done"] == 0 and running["worker"].startswith("serve:")
        assert _runs(db) == []  # answered before any window ran
        gate.allow(5)
        part = wait_for(client, location, viewer, lambda j: j["windows_done"] == 5)
        assert part["status"] == "running" and part["counts"]["created"] == 5
        assert len(_runs(db)) == 5
        gate.allow(1000)
        done = wait_for(client, location, viewer)
        late = client.post(f"{location}/cancel", headers=world.headers("ml-engineer"))
        assert late.status_code == 409 and late.json()["code"] == "invalid_state"
        listed = client.get(f"{BASE}/drift/backfills", headers=viewer).json()
        finished = _audit(client, world, "monitor.backfill.finish")
        requested = _audit(client, world, "monitor.backfill.request")
    runs = list_runs(db, project="alpha", name="drift", limit=100)
    breached = sum(r.breached for r in runs)
    assert (done["status"], done["windows_done"], done["error"]) == ("succeeded", 12, None)
    assert done["counts"] == {
        "created": 12, "existing": 0, "rerun": 0, "breached": breached, "failed": 0
    }  # fmt: skip
    assert breached == 3 and {r.trigger for r in runs} == {RunTrigger.backfill}
    assert done["started_at"] <= done["finished_at"] and done["heartbeat_at"]
    assert [b["id"] for b in listed] == [job["id"]]
    assert [e["details"]["windows"] for e in requested] == [12]
    [entry] = finished
    assert entry["details"]["created"] == 12 and entry["details"]["breached"] == 3
    assert entry["details"]["status"] == "succeeded" and entry["target"] == "monitor:drift"


def test_cancel_stops_a_running_backfill_after_its_window_and_a_queued_one_never_runs(
    services: Services, env: RunEnvironment, world: World, monitor: Monitor, db: Database
) -> None:
    eng = world.headers("ml-engineer")
    with serving(services, env) as (client, gate):
        first, _ = _post(client, world)
        gate.allow(2)
        wait_for(client, first, eng, lambda j: j["windows_done"] == 2)
        second, _ = _post(client, world)  # the worker is busy with the first: this one waits
        for location in (second, first):
            r = client.post(f"{location}/cancel", headers=eng)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "cancelled" and r.json()["finished_at"]
        again = client.post(f"{first}/cancel", headers=eng)
        assert again.status_code == 200 and again.json()["status"] == "cancelled"
        viewer = client.post(f"{first}/cancel", headers=world.headers("viewer"))
        assert viewer.status_code == 403
        gate.allow(1000)  # the window being read finishes; no other starts
        client.app.state.backfills.stop()  # type: ignore[attr-defined]
        stopped = client.get(first, headers=eng).json()
        queued = client.get(second, headers=eng).json()
        cancels = _audit(client, world, "monitor.backfill.cancel")
    assert (stopped["status"], stopped["windows_done"], stopped["counts"]["created"]) == (
        "cancelled", 2, 2,
    )  # fmt: skip
    assert len(_runs(db)) == 3  # the two counted and the one in flight when it was cancelled
    assert (queued["status"], queued["windows_done"], queued["started_at"]) == (
        "cancelled",
        0,
        None,
    )
    assert len(cancels) == 2 and {e["actor"] for e in cancels} == {"user:ml-engineer-user"}


def test_a_worker_that_stops_finishes_its_window_and_another_resumes_the_backfill(
    services: Services, env: RunEnvironment, world: World, monitor: Monitor, db: Database
) -> None:
    viewer = world.headers("viewer")
    with serving(services, env) as (client, gate):
        location, _ = _post(client, world)
        gate.allow(2)
        wait_for(client, location, viewer, lambda j: j["windows_done"] == 2)
        worker: BackfillWorker = client.app.state.backfills  # type: ignore[attr-defined]
        stopper = threading.Thread(target=worker.stop)
        stopper.start()
        while not worker.stopping():
            time.sleep(0.01)
        gate.allow(1)  # the window being read when the server stops
        stopper.join()
        left = client.get(location, headers=viewer).json()
    assert (left["status"], left["windows_done"], left["worker"]) == ("queued", 3, None)
    assert len(_runs(db)) == 3
    with serving(services, env) as (client, gate):  # a server starts again: it resumes
        gate.allow(1000)
        done = wait_for(client, location, viewer)
    assert done["status"] == "succeeded" and done["counts"]["created"] == 12
    assert _runs(db) == [(SINCE + (i + 1) * HOUR, 0) for i in range(12)]


class Died(Exception):
    """The worker's process ended here."""


def _die_after(windows: int) -> Callable[[Backfill], None]:
    def progress(job: Backfill) -> None:
        if job.windows_done == windows:
            raise Died

    return progress


def test_a_backfill_whose_worker_died_is_resumed_and_runs_each_window_once(
    services: Services, env: RunEnvironment, world: World, monitor: Monitor, db: Database
) -> None:
    clock = ManualClock(UNTIL)
    backfill(db, project="alpha", name="drift", since=SINCE, until=None, env=env, clock=clock)
    # A rerun of every window: the first worker reran three, then a fourth that it never
    # counted, and died; its heartbeat is an hour old.
    then = ManualClock(datetime.now(UTC) - timedelta(hours=1))
    job = request_backfill(
        db, project="alpha", name="drift", since=SINCE, until=UNTIL, rerun=RerunScope.all,
        actor=OPERATOR, wall=then, worker="dead",
    )  # fmt: skip
    with pytest.raises(Died):
        execute_backfill(db, job=job, worker="dead", env=env, wall=then, on_progress=_die_after(3))
    run_window(
        db, monitor=monitor, window_end=START + 3 * HOUR, env=env, trigger=RunTrigger.backfill,
        holder=f"backfill:{job.id}", rerun=True,
    )  # fmt: skip
    with serving(services, env) as (client, gate):
        gate.allow(1000)
        location = f"{BASE}/drift/backfills/{job.id}"
        done = wait_for(client, location, world.headers("viewer"))
    assert done["status"] == "succeeded" and done["worker"].startswith("serve:")
    assert (done["windows_done"], done["counts"]["rerun"]) == (12, 11)  # the fourth was not
    ends = [SINCE + (i + 1) * HOUR for i in range(12)]
    assert _runs(db) == sorted((end, attempt) for end in ends for attempt in (0, 1))


def test_two_workers_racing_claim_a_backfill_once(
    db: Database, env: RunEnvironment, monitor: Monitor
) -> None:
    job = request_backfill(
        db, project="alpha", name="drift", since=SINCE, until=UNTIL, rerun=None, actor=OPERATOR
    )
    start = threading.Barrier(6)
    claims: list[Backfill | None] = []

    def claim(worker: str) -> None:
        start.wait()
        claims.append(claim_backfill(db, worker=worker))

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [won] = [c for c in claims if c is not None]
    assert len(claims) == 6 and won.id == job.id and won.status is BackfillStatus.running

    # Two whole workers on a second backfill: one runs it, the other finds nothing to do.
    other = request_backfill(
        db, project="alpha", name="drift", since=SINCE, until=UNTIL, rerun=RerunScope.all,
        actor=OPERATOR,
    )  # fmt: skip
    workers = [BackfillWorker(db, env=lambda: env, worker_id=f"v{i}") for i in range(2)]
    both = threading.Barrier(2)
    results: list[Backfill | None] = []

    def work(worker: BackfillWorker) -> None:
        both.wait()
        results.append(worker.work_once())

    pair = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in pair:
        t.start()
    for t in pair:
        t.join()
    [ran] = [r for r in results if r is not None]
    assert ran.id == other.id and ran.status is BackfillStatus.succeeded
    assert ran.counts.created == 12 and len(_runs(db)) == 12  # each window once


def test_another_projects_or_monitors_backfill_is_not_found(
    client: TestClient, world: World, db: Database, monitor: Monitor
) -> None:
    create_monitor(db, project="beta", spec=monitor.spec, actor=OPERATOR)
    other = monitor.spec.model_copy(update={"name": "other"})
    create_monitor(db, project="alpha", spec=other, actor=OPERATOR)
    theirs = request_backfill(
        db, project="beta", name="drift", since=SINCE, until=UNTIL, rerun=None, actor=OPERATOR
    )
    ours = request_backfill(
        db, project="alpha", name="drift", since=SINCE, until=UNTIL, rerun=None, actor=OPERATOR
    )
    owner = world.headers("owner")
    for path in (f"drift/backfills/{theirs.id}", f"other/backfills/{ours.id}"):
        for r in (
            client.get(f"{BASE}/{path}", headers=owner),
            client.post(f"{BASE}/{path}/cancel", headers=owner),
        ):
            assert r.status_code == 404 and r.json()["code"] == "not_found", r.text
    beta = f"/api/v1/projects/beta/monitors/drift/backfills/{theirs.id}"
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    assert client.get(beta, headers=outsider).json()["id"] == str(theirs.id)
    assert client.get(beta, headers=owner).status_code == 404  # alpha's owner: no such project


def test_a_backfill_over_too_many_windows_is_refused(
    client: TestClient, world: World, monitor: Monitor
) -> None:
    body = {"since": START.isoformat(), "until": (START + 3000 * HOUR).isoformat()}
    r = client.post(f"{BASE}/drift/backfill", json=body, headers=world.headers("ml-engineer"))
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    assert r.json()["errors"] == [
        {"loc": ["body", "since"], "msg": "3000 windows from here; at most 2000 at once"}
    ]
    listed = client.get(f"{BASE}/drift/backfills", headers=world.headers("viewer"))
    assert listed.status_code == 200 and listed.json() == []


def test_the_cli_runs_a_backfill_here_with_a_progress_bar_and_a_summary(
    settings: Settings, world: World, db: Database, monitor: Monitor
) -> None:
    env = {"STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url}
    window = ("--since", SINCE.isoformat(), "--until", (START + 3 * HOUR).isoformat())
    done = run_steward("monitor", "backfill", "drift", "-p", "alpha", *window, env=env)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "backfill drift" in text and "4/4 windows, 0 breached" in text  # the bar, at its end
    # No endpoint 'scorer' in the capture store: every window ran, and failed.
    assert "drift: 4 windows run, 0 already done, 0 breached, 4 failed" in text
    [job] = [
        j
        for j in list_backfills(db, project="alpha", name="drift")
        if j.requested_by.startswith("system:cli@")
    ]
    assert job.status is BackfillStatus.succeeded and job.worker and job.worker.startswith("cli:")
    assert f"backfill {job.id} succeeded" in text
    again = run_steward("monitor", "backfill", "drift", "-p", "alpha", *window, env=env)
    assert "0 windows run, 4 already done" in " ".join(again.stdout.split())
