"""The background sealer of ``serve`` and ``daemon``: seal on start, every interval, on shutdown."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime

from governance.audit.service import latest_note, seal
from governance.audit.witness import Witnesses
from governance.core.clock import utcnow
from governance.core.db import Database

log = logging.getLogger(__name__)
# A failed seal is retried after 1, 2, 4 … seconds, never later than the next interval.
FIRST_RETRY_SECONDS = 1.0


@dataclass(kw_only=True, slots=True)
class SealerStatus:
    """What the sealer last did: reported by /health and /metrics."""

    last_sealed_at: datetime | None = None
    last_error: str | None = None
    failures: int = 0


class Sealer:
    """Seals the log every ``interval`` seconds and tells witnesses that are behind.

    It seals once at start (entries left unsealed by a crash), retries a failed seal with
    backoff (each failure logged and counted), and seals a last time on ``stop``.
    """

    def __init__(self, db: Database, *, interval: float) -> None:
        self.db = db
        self.interval = interval
        witness = db.audit.witness if db.audit is not None else None
        self.witnesses = witness if isinstance(witness, Witnesses) else None
        self.status = SealerStatus()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = self.witnesses.wake if self.witnesses is not None else threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> None:
        """Start sealing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then seal what is left and tell the witnesses."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.seal_once()

    def snapshot(self) -> SealerStatus:
        """A copy of the status."""
        with self._lock:
            return replace(self.status)

    def seal_once(self) -> bool:
        """Seal and catch the witnesses up; False (logged, counted) when sealing failed."""
        try:
            seal(self.db)
            if self.witnesses is not None:
                self.witnesses.catch_up(latest_note(self.db))
        except Exception as exc:  # keep going: the next attempt retries, the failure is reported
            with self._lock:
                self.status.failures += 1
                self.status.last_error = f"{type(exc).__name__}: {exc}"
            log.error("audit seal failed (will retry): %s", self.status.last_error)
            log.debug("audit seal failure", exc_info=True)
            return False
        with self._lock:
            self.status.last_sealed_at = utcnow()
            self.status.last_error = None
        return True

    def _run(self) -> None:
        delay = self.interval
        while not self._stop.is_set():
            ok = self.seal_once()
            delay = self.interval if ok else min(self.interval, _backoff(delay, self.interval))
            self._wake.wait(delay)
            self._wake.clear()


def _backoff(previous: float, interval: float) -> float:
    return FIRST_RETRY_SECONDS if previous >= interval else previous * 2
