"""The backfill worker of ``steward serve``: a thread that claims queued backfills and runs them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from monitors.runs.backfills import STALE_AFTER, claim_backfill, execute_backfill, new_worker_id
from monitors.runs.schemas import Backfill
from monitors.runs.sources import RunEnvironment

log = logging.getLogger(__name__)


class BackfillWorker:
    """Claims backfills (one process wins each) and runs them, one at a time, in a thread.

    It looks for work every ``poll`` seconds, and at once after ``wake`` (a backfill was just
    requested in this process). ``stop`` lets the window being run finish, puts its backfill
    back in the queue (another worker resumes it) and joins the thread. ``env`` builds the
    collaborators of one backfill's runs; ``clock`` is the monitors' clock, ``wall`` the
    wall clock of heartbeats.
    """

    def __init__(
        self,
        db: Database,
        *,
        env: Callable[[], RunEnvironment],
        clock: Clock | None = None,
        wall: Clock | None = None,
        poll: float = 2.0,
        stale_after: timedelta = STALE_AFTER,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.env = env
        self.clock = clock or SystemClock()
        self.wall = wall or SystemClock()
        self.poll = poll
        self.stale_after = stale_after
        self.id = worker_id or new_worker_id("serve")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="backfill-worker", daemon=True)

    def start(self) -> None:
        """Start working in the background."""
        self._thread.start()

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 120.0) -> None:
        """Finish the current window, hand the backfill back, and end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def stopping(self) -> bool:
        """Whether ``stop`` was called."""
        return self._stop.is_set()

    def work_once(self) -> Backfill | None:
        """Claim one backfill and run it until it ends or the worker stops; None when idle."""
        job = claim_backfill(self.db, worker=self.id, wall=self.wall, stale_after=self.stale_after)
        if job is None:
            return None
        log.info("backfill %s of %s/%s claimed by %s", job.id, job.project, job.monitor, self.id)
        return execute_backfill(
            self.db, job=job, worker=self.id, env=self.env(), clock=self.clock, wall=self.wall,
            stopping=self.stopping,
        )  # fmt: skip

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.work_once() is not None
            except Exception:  # keep working: a broken backfill or a lost connection is logged
                log.exception("backfill worker %s: claiming or running a backfill failed", self.id)
                busy = False
            if not busy:
                self._wake.wait(self.poll)
                self._wake.clear()
