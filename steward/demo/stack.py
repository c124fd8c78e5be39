"""The demo's running Steward: the real app over HTTP and the monitor daemon, on one clock.

The app (scoring, capture, the pipeline worker and its release loop) is served by uvicorn on a
free loopback port; the daemon runs the monitors and the leader's jobs (triggers, rollout
watch, missed releases). Both read a ``ManualClock`` the demo moves a day at a time, so a week
of traffic passes in seconds while every record carries its simulated time.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from governance.core.clock import ManualClock
from governance.core.settings import Settings
from monitors.scheduler.daemon import Daemon, DaemonOptions, LeaderJob
from retrain.loop import release_missed
from retrain.rollout.watch import check_rollouts
from retrain.runners.local import LocalRunner
from retrain.triggers.evaluate import trigger_leader_job
from steward.api.app import build_services, create_app
from steward.api.deps import Services
from steward.client import Steward
from steward.environment import run_environment

PROJECT = "adult-demo"
# The leader's jobs run this often (wall seconds): the demo's days pass in seconds.
JOB_EVERY = 0.5


@dataclass(kw_only=True)
class Stack:
    """What a running demo offers: its services, its clock and its URL."""

    services: Services
    clock: ManualClock
    url: str

    def client(self, token: str) -> Steward:
        """An SDK client of the demo's server, working in the demo project."""
        return Steward(self.url, token, project=PROJECT, timeout=120.0)

    def flush_capture(self) -> None:
        """Write every scored row to its Parquet file (the scorer batches them)."""
        if self.services.scorer is not None:
            self.services.scorer.capture.flush()


def _leader_jobs(services: Services, clock: ManualClock) -> list[LeaderJob]:
    db, settings = services.db, services.settings
    return [
        trigger_leader_job(db, settings, clock, every=JOB_EVERY),
        LeaderJob(
            name="rollout-watch",
            every=JOB_EVERY,
            run=lambda: check_rollouts(db, settings=settings, clock=clock),
        ),
        LeaderJob(
            name="release-missed",
            every=JOB_EVERY * 4,
            run=lambda: release_missed(db, settings=settings, clock=clock),
        ),
    ]


def _daemon(services: Services, clock: ManualClock) -> Daemon:
    options = DaemonOptions(
        lease_ttl=5, renew_every=0.5, sync_every=0.5, tick=0.05, deliver_every=1,
        lease_name="monitor-daemon-demo", project=PROJECT,
    )  # fmt: skip
    env = run_environment(services.db, services.settings, clock=clock)
    return Daemon(
        services.db, env=env, clock=clock, options=options, jobs=_leader_jobs(services, clock)
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(settings: Settings, clock: ManualClock) -> Iterator[Stack]:
    """Serve the app and run the daemon until the block ends."""
    import uvicorn

    services = build_services(settings, clock=clock)
    app = create_app(services=services, seal_in_background=False, pipeline_runner=LocalRunner())
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the demo's server did not start")
        time.sleep(0.02)
    daemon = _daemon(services, clock)
    # The daemon ticks every 50 ms on purpose; APScheduler's "skipped: maximum number of
    # running instances" for ticks that land during a run is expected here, not news; nor is
    # casbin's line for the refusal the demo provokes (the audit log keeps it).
    quiet = {name: logging.getLogger(name) for name in ("apscheduler", "casbin")}
    levels = {name: log.level for name, log in quiet.items()}
    for log in quiet.values():
        log.setLevel(logging.ERROR)
    daemon.start()
    try:
        yield Stack(services=services, clock=clock, url=f"http://127.0.0.1:{port}")
    finally:
        daemon.stop()
        server.should_exit = True
        thread.join(timeout=30)
        for name, log in quiet.items():
            log.setLevel(levels[name])
        services.db.dispose()
