"""Raw OpenLineage events as received; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.core.ids import new_id
from lineage.models import EventRow
from lineage.schemas import RawEvent


class EventStore(Protocol):
    """Raw OpenLineage events, kept as evidence of what was applied to the graph.

    An event is known by its fingerprint (a hash of its canonical payload): a retried event
    finds its fingerprint seen and is not applied again. Nothing here commits.
    """

    def seen(self, fingerprints: Sequence[str]) -> set[str]:
        """Which of these fingerprints belong to events already kept."""
        ...

    def keep(self, event: RawEvent) -> None:
        """Keep an event (its fingerprint must be new)."""
        ...


class SqlEventStore:
    """EventStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def seen(self, fingerprints: Sequence[str]) -> set[str]:
        """Which of these fingerprints belong to events already kept."""
        if not fingerprints:
            return set()
        stmt = select(EventRow.fingerprint).where(EventRow.fingerprint.in_(list(fingerprints)))
        return set(self.session.scalars(stmt))

    def keep(self, event: RawEvent) -> None:
        """Keep an event (its fingerprint must be new)."""
        self.session.add(
            EventRow(
                id=new_id(),
                project=event.project,
                fingerprint=event.fingerprint,
                kind=event.kind,
                event_type=event.event_type,
                run_id=event.run_id,
                event_time=event.event_time,
                received_at=event.received_at,
                payload=event.payload,
            )
        )
