"""What scoring needs of rollouts: the endpoint's active one (cached briefly) and its counts.

Looking up the active rollout costs one query per endpoint per ``ttl`` seconds, so scoring an
endpoint without a rollout pays nothing more per request than a dictionary look-up. A
candidate's requests and failures are counted in memory and added to the database in batches
(every ``every`` seconds or ``batch`` requests), and at once when the counts this server knows
of would pass the rollback limit, so the rollback never waits for a batch to fill.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import StewardError
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import ModelVersion
from retrain.rollout import service
from retrain.rollout.schemas import Rollout, RolloutState

log = logging.getLogger(__name__)
_BUCKETS = 10_000


def canary_takes(key: str | None, percent: int) -> bool:
    """Whether a request goes to the canary: its key's hash below ``percent`` (sticky)."""
    if key is None:
        return random.random() * 100 < percent
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % _BUCKETS < percent * (_BUCKETS // 100)


@dataclass(frozen=True, kw_only=True, slots=True)
class Route:
    """An endpoint's active rollout and its candidate version."""

    rollout: Rollout
    candidate: ModelVersion


@dataclass
class _Tally:
    requests: int = 0
    errors: int = 0
    known_requests: int = 0  # the database's totals at the last flush (every server's)
    known_errors: int = 0
    flushed_at: float = 0.0


@dataclass(kw_only=True)
class RolloutTraffic:
    """Active rollouts by endpoint and the candidates' outcome counts of one server."""

    db: Database
    settings: Settings
    clock: Clock
    ttl: float = 2.0
    every: float = 1.0
    batch: int = 50
    monotonic: Callable[[], float] = time.monotonic
    _routes: dict[tuple[str, str], tuple[float, Route | None]] = field(default_factory=dict)
    _tallies: dict[UUID, _Tally] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, project: str, endpoint: str) -> Route | None:
        """The endpoint's active rollout, as looked up at most ``ttl`` seconds ago."""
        now = self.monotonic()
        held = self._routes.get((project, endpoint))
        if held is not None and held[0] > now:
            return held[1]
        found = self._lookup(project, endpoint)
        self._routes[(project, endpoint)] = (now + self.ttl, found)
        return found

    def _lookup(self, project: str, endpoint: str) -> Route | None:
        rollout = service.get_active_rollout(self.db, project=project, endpoint=endpoint)
        if rollout is None:
            return None
        candidate = lineage.get_model_version(
            self.db, project=project, model=rollout.model, version=rollout.version
        )
        with self._lock:
            tally = self._tallies.setdefault(rollout.id, _Tally(flushed_at=self.monotonic()))
            tally.known_requests = max(tally.known_requests, rollout.requests)
            tally.known_errors = max(tally.known_errors, rollout.errors)
        return Route(rollout=rollout, candidate=candidate)

    def forget(self, project: str, endpoint: str) -> None:
        """Look the endpoint's rollout up again at its next request (it changed)."""
        self._routes.pop((project, endpoint), None)

    def count(self, rollout: Rollout, *, failed: bool) -> None:
        """Count one request of a candidate (``failed``: it could not score)."""
        with self._lock:
            tally = self._tallies.setdefault(rollout.id, _Tally(flushed_at=self.monotonic()))
            tally.requests += 1
            tally.errors += int(failed)
            due = self._due(tally)
        if due:
            self.flush(rollout)

    def _due(self, tally: _Tally) -> bool:
        if tally.requests >= self.batch or self.monotonic() - tally.flushed_at >= self.every:
            return True
        total = tally.known_requests + tally.requests
        return service.failing(total, tally.known_errors + tally.errors, self.settings)

    def flush(self, rollout: Rollout) -> Rollout | None:
        """Add this server's counts of ``rollout`` to the database (which may roll it back)."""
        with self._lock:
            tally = self._tallies.get(rollout.id)
            if tally is None or tally.requests == 0:
                return None
            requests, errors = tally.requests, tally.errors
            tally.requests = tally.errors = 0
            tally.flushed_at = self.monotonic()
        try:
            after = service.record_outcomes(
                self.db, settings=self.settings, rollout_id=rollout.id, requests=requests,
                errors=errors, clock=self.clock,
            )  # fmt: skip
        except StewardError as exc:
            log.error("counts of rollout %s not stored, kept: %s", rollout.id, exc)
            with self._lock:
                tally.requests, tally.errors = tally.requests + requests, tally.errors + errors
            return None
        return self._flushed(rollout, tally, after)

    def _flushed(self, rollout: Rollout, tally: _Tally, after: Rollout | None) -> Rollout | None:
        if after is None or after.state is not RolloutState.active:
            self.forget(rollout.project, rollout.endpoint)
            with self._lock:
                self._tallies.pop(rollout.id, None)
            return after
        with self._lock:
            tally.known_requests, tally.known_errors = after.requests, after.errors
        return after

    def flush_all(self) -> None:
        """Store every count still held (the server is stopping)."""
        routes = [r for _, r in list(self._routes.values()) if r is not None]
        for route in routes:
            self.flush(route.rollout)
