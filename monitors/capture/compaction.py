"""Compaction of a day's small ingest files into larger row groups (owner: helper B, issue 13)."""

from __future__ import annotations

from governance.core.db import Database
from governance.core.settings import Settings


def compact_due(db: Database, settings: Settings) -> int:
    """Compact every day that has enough small published files; how many days were compacted."""
    return 0
