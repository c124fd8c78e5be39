"""Per-caller token-bucket rate limiting (in process; each replica limits its own share)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from governance.core.errors import Throttled

_MAX_KEYS = 100_000


class RateLimiter:
    """Allow ``per_minute`` requests per key on average, with bursts of ``burst``."""

    def __init__(self, *, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Take one token for ``key`` or raise Throttled with the wait in seconds."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise Throttled("rate limit exceeded", retry_after=(1.0 - tokens) / self.rate)
            self._buckets[key] = (tokens - 1.0, now)
            while len(self._buckets) > _MAX_KEYS:  # bounded memory under key floods
                self._buckets.popitem(last=False)
