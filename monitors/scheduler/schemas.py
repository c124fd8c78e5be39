"""Read models of the scheduler: the leader lease as stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaseInfo:
    """Who holds the lease, since when and until when; ``epoch`` counts changes of holder."""

    holder: str
    expires_at: datetime
    acquired_at: datetime
    epoch: int
