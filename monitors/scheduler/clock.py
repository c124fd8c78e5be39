"""Accelerated time for the daemon: simulated time that runs N times faster than the wall."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from governance.core.clock import to_utc


class AcceleratedClock:
    """``origin + (wall - wall_start) * speed``: processes given the same numbers agree."""

    def __init__(self, origin: datetime, *, speed: float, wall_start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.origin = to_utc(origin)
        self.speed = speed
        self.wall_start = time.time() if wall_start is None else wall_start

    def now(self) -> datetime:
        """The simulated current time."""
        elapsed = (time.time() - self.wall_start) * self.speed
        return self.origin + timedelta(seconds=max(elapsed, 0.0))

    def wall_seconds(self, simulated: timedelta) -> float:
        """How many wall seconds a stretch of simulated time takes."""
        return simulated.total_seconds() / self.speed


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant; naive values are UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
