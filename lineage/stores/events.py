"""Raw OpenLineage events as received; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.core.ids import new_id
from lineage.models import EventRow
from lineage.schemas import RawEvent

# (project, fingerprint): what makes a kept event unique.
EventKey = tuple[str, str]


class EventStore(Protocol):
    """Raw OpenLineage events, kept as evidence of what was applied to the graph.

    An event is known by its project and fingerprint (a hash of its canonical payload): a
    retried event finds its key seen and is not applied again, while the same event sent to
    another project is that project's own event. Nothing here commits.
    """

    def seen(self, keys: Sequence[EventKey]) -> set[EventKey]:
        """Which of these (project, fingerprint) keys belong to events already kept."""
        ...

    def keep(self, event: RawEvent) -> None:
        """Keep an event (its (project, fingerprint) key must be new)."""
        ...


class SqlEventStore:
    """EventStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def seen(self, keys: Sequence[EventKey]) -> set[EventKey]:
        """Which of these (project, fingerprint) keys belong to events already kept."""
        if not keys:
            return set()
        # Both IN lists hit the (project, fingerprint) unique index; the exact pairs are matched
        # here, which keeps the SQL portable (no row-value IN on every backend).
        stmt = select(EventRow.project, EventRow.fingerprint).where(
            EventRow.project.in_({project for project, _ in keys}),
            EventRow.fingerprint.in_({fingerprint for _, fingerprint in keys}),
        )
        wanted = set(keys)
        return {key for key in self.session.execute(stmt).tuples() if key in wanted}

    def keep(self, event: RawEvent) -> None:
        """Keep an event (its (project, fingerprint) key must be new)."""
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
