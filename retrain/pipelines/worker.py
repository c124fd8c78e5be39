"""The pipeline worker: a thread that claims queued runs and executes them on a StepRunner."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.scheduler.daemon import LeaderJob
from retrain.pipelines.execute import BEAT_EVERY, execute_run
from retrain.pipelines.schemas import PipelineRun
from retrain.pipelines.service import STALE_AFTER, claim_run, detect_orphans
from retrain.runners.base import StepRunner

log = logging.getLogger(__name__)
ORPHAN_CHECK_EVERY = 60.0


def new_worker_id(kind: str = "pipeline") -> str:
    """A worker id naming the host and process, unique per start."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PipelineWorker:
    """Claims queued runs (one worker wins each) and executes them one at a time, in a thread.

    Idle, it makes one indexed read every ``poll`` seconds (and at once after ``wake``: a run
    was just launched in this process), and every ``orphan_every`` seconds declares orphaned
    the running runs whose worker stopped beating. ``stop`` lets the run being executed end
    and joins the thread (a run left behind by a killed process is declared orphaned). After
    a run ends, each ``on_finished`` callback gets it; a callback's error is logged and never
    changes the run.
    """

    def __init__(
        self,
        db: Database,
        *,
        settings: Settings,
        runner: StepRunner,
        clock: Clock | None = None,
        on_finished: Sequence[Callable[[PipelineRun], None]] = (),
        poll: float = 2.0,
        beat_every: float = BEAT_EVERY,
        stale_after: timedelta = STALE_AFTER,
        orphan_every: float = ORPHAN_CHECK_EVERY,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.runner = runner
        self.clock = clock or SystemClock()
        self.on_finished = tuple(on_finished)
        self.poll = poll
        self.beat_every = beat_every
        self.stale_after = stale_after
        self.orphan_every = orphan_every
        self.id = worker_id or new_worker_id()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pipeline-worker", daemon=True)
        self._next_orphan_check = 0.0

    def start(self) -> None:
        """Start working in the background."""
        self._thread.start()

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 120.0) -> None:
        """End the thread after the run it executes (if any) ends."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def work_once(self) -> PipelineRun | None:
        """Claim one queued run and execute it to its end; None when there was none."""
        run = claim_run(self.db, worker=self.id, runner=self.runner.name, clock=self.clock)
        if run is None:
            return None
        log.info("pipeline run %s of %s/%s claimed by %s", run.id, run.project, run.pipeline,
                 self.id)  # fmt: skip
        ended = execute_run(
            self.db, settings=self.settings, run=run, worker=self.id, runner=self.runner,
            clock=self.clock, beat_every=self.beat_every,
        )  # fmt: skip
        self._finished(ended)
        return ended

    def check_orphans(self) -> list[PipelineRun]:
        """Declare orphaned the running runs whose heartbeat went stale."""
        return detect_orphans(self.db, clock=self.clock, stale_after=self.stale_after)

    def _finished(self, run: PipelineRun) -> None:
        for callback in self.on_finished:
            try:
                callback(run)
            except Exception:  # a callback never fails the run, nor the worker
                log.exception("pipeline run %s: an on_finished callback failed", run.id)

    def _loop(self) -> None:
        import time

        while not self._stop.is_set():
            busy = False
            try:
                if time.monotonic() >= self._next_orphan_check:
                    self._next_orphan_check = time.monotonic() + self.orphan_every
                    self.check_orphans()
                busy = self.work_once() is not None
            except Exception:  # keep working: a broken run or a lost connection is logged
                log.exception("pipeline worker %s: claiming or running a run failed", self.id)
            if not busy:
                self._wake.wait(self.poll)
                self._wake.clear()


def pipeline_worker(
    db: Database,
    *,
    settings: Settings,
    runner: StepRunner,
    clock: Clock | None = None,
    on_finished: Sequence[Callable[[PipelineRun], None]] = (),
) -> PipelineWorker:
    """A worker for ``steward daemon`` to start and stop (every daemon runs one, leader or not)."""
    return PipelineWorker(
        db, settings=settings, runner=runner, clock=clock, on_finished=on_finished
    )


def pipeline_leader_job(db: Database, *, clock: Clock | None = None) -> LeaderJob:
    """The leader's sweep declaring orphaned the runs whose worker went silent."""
    wall = clock or SystemClock()
    return LeaderJob(
        name="pipeline-orphans", every=ORPHAN_CHECK_EVERY,
        run=lambda: detect_orphans(db, clock=wall),
    )  # fmt: skip
