"""SQL storage of the daemons' leader lease; never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from monitors.scheduler.models import LeaseRow
from monitors.scheduler.schemas import LeaseInfo


class LeaseStore(Protocol):
    """Named leases: one holder at a time, until the lease expires.

    Methods work inside the caller's transaction and never commit. Every change is one
    conditional statement, so two daemons racing for a lease cannot both win: ``take`` succeeds
    only for the current holder or once the lease has expired, and ``add`` raises IntegrityError
    when another daemon created the lease first. ``epoch`` grows with every change of holder (a
    fencing token) and stays when the holder renews.
    """

    def take(self, name: str, holder: str, *, now: datetime, expires_at: datetime) -> bool:
        """Renew the lease for its holder, or take it over once expired; True when taken."""
        ...

    def add(self, name: str, holder: str, *, now: datetime, expires_at: datetime) -> None:
        """Create the lease held by ``holder`` (IntegrityError when it exists)."""
        ...

    def expire(self, name: str, holder: str, *, at: datetime) -> None:
        """Let the lease lapse at ``at`` if ``holder`` holds it."""
        ...

    def find(self, name: str) -> LeaseInfo | None:
        """The lease as stored (held or expired), or None before anyone took it."""
        ...

    def all(self) -> dict[str, LeaseInfo]:
        """Every lease as stored, by name."""
        ...


class SqlLeaseStore:
    """LeaseStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def take(self, name: str, holder: str, *, now: datetime, expires_at: datetime) -> bool:
        """Renew the lease for its holder, or take it over once expired; True when taken."""
        mine = LeaseRow.holder == holder
        result = self.session.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, mine | (LeaseRow.expires_at < now))
            .values(
                holder=holder,
                expires_at=expires_at,
                acquired_at=case((mine, LeaseRow.acquired_at), else_=now),
                epoch=case((mine, LeaseRow.epoch), else_=LeaseRow.epoch + 1),
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def add(self, name: str, holder: str, *, now: datetime, expires_at: datetime) -> None:
        """Create the lease held by ``holder`` (IntegrityError when it exists)."""
        self.session.add(
            LeaseRow(name=name, holder=holder, expires_at=expires_at, acquired_at=now, epoch=1)
        )
        self.session.flush()

    def expire(self, name: str, holder: str, *, at: datetime) -> None:
        """Let the lease lapse at ``at`` if ``holder`` holds it."""
        self.session.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.holder == holder)
            .values(expires_at=at)
            .execution_options(synchronize_session=False)
        )

    def find(self, name: str) -> LeaseInfo | None:
        """The lease as stored (held or expired), or None before anyone took it."""
        row = self.session.scalars(select(LeaseRow).where(LeaseRow.name == name)).first()
        return None if row is None else _info(row)

    def all(self) -> dict[str, LeaseInfo]:
        """Every lease as stored, by name."""
        rows = self.session.scalars(select(LeaseRow).order_by(LeaseRow.name))
        return {row.name: _info(row) for row in rows}


def _info(row: LeaseRow) -> LeaseInfo:
    return LeaseInfo(
        holder=row.holder,
        expires_at=row.expires_at,
        acquired_at=row.acquired_at,
        epoch=row.epoch,
    )
