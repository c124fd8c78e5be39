"""Failed authentications, audited per source and reason per interval and counted exactly."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from governance.audit.service import record_denial
from governance.core.context import client_var, request_id_var
from governance.core.db import Database

ACTION = "auth.fail"
_Key = tuple[str, str]  # (source, reason)


@dataclass(kw_only=True, slots=True)
class _Window:
    start: datetime
    pending: int = 0  # failures after the first, not yet written


class FailureTally:
    """Audit failed authentications without writing one entry per failure.

    Per (source, reason), the first failure of an interval is written at once with ``count``
    1, so a single failure is visible immediately. Later failures of the same interval are
    counted in memory and written as one entry carrying their ``count`` when the interval has
    passed (checked on every ``record`` and ``flush_due``) or on ``flush`` (at shutdown). The
    counts of all entries add up to the number of failures exactly. Safe across threads: the
    counting happens under a lock, the writes outside it.
    """

    def __init__(self, db: Database, *, interval: timedelta) -> None:
        self.db = db
        self.interval = interval
        self._lock = threading.Lock()
        self._windows: dict[_Key, _Window] = {}
        self._next_due: datetime | None = None  # the earliest end of an open window

    def record(self, *, source: str, reason: str, now: datetime) -> None:
        """Count one failed authentication from ``source`` for ``reason``."""
        key = (source, reason)
        with self._lock:
            due = self._take_due(now)
            window = self._windows.get(key)
            if window is not None:
                window.pending += 1
            else:
                self._windows[key] = _Window(start=now)
                end = now + self.interval
                if self._next_due is None or end < self._next_due:
                    self._next_due = end
        self._write_counts(due)
        if window is None:
            self._write(source, reason, 1)

    def flush_due(self, now: datetime) -> None:
        """Write the counts of the intervals that have passed."""
        if self._next_due is None or now < self._next_due:  # the common case, without the lock
            return
        with self._lock:
            due = self._take_due(now)
        self._write_counts(due)

    def flush(self) -> None:
        """Write every count held in memory and close every interval."""
        with self._lock:
            due = [(key, w.pending) for key, w in self._windows.items() if w.pending]
            self._windows.clear()
            self._next_due = None
        self._write_counts(due)

    def _take_due(self, now: datetime) -> list[tuple[_Key, int]]:
        if self._next_due is None or now < self._next_due:
            return []
        ended = [key for key, w in self._windows.items() if w.start + self.interval <= now]
        closed = [(key, self._windows.pop(key).pending) for key in ended]
        starts = [w.start for w in self._windows.values()]
        self._next_due = min(starts) + self.interval if starts else None
        return [(key, n) for key, n in closed if n]

    def _write_counts(self, counts: list[tuple[_Key, int]]) -> None:
        if not counts:
            return
        # Counted failures came from other requests: the entry names their source as its
        # client and no request id, not those of the request that happens to flush them.
        rid, client = request_id_var.set(None), client_var.set(None)
        try:
            for (source, reason), count in counts:
                client_var.set(source)
                self._write(source, reason, count)
        finally:
            request_id_var.reset(rid)
            client_var.reset(client)

    def _write(self, source: str, reason: str, count: int) -> None:
        record_denial(
            self.db,
            actor=f"anonymous@{source}",
            action=ACTION,
            details={"reason": reason, "count": count},
        )
