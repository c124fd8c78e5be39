"""Leader election through the database: one lease row, renewed by a conditional UPDATE."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.principal import SYSTEM
from monitors.scheduler.schemas import LeaseInfo
from monitors.scheduler.store import LeaseStore, SqlLeaseStore

DEFAULT_LEASE = "monitor-daemon"


def list_leases(db: Database) -> dict[str, LeaseInfo]:
    """Every lease as stored (held or expired), by name: who leads each fleet of daemons."""
    with db.read() as session:
        return SqlLeaseStore(session).all()


def new_holder_id() -> str:
    """A holder id naming the host and process, unique per daemon start."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """A named lease held by one holder at a time; expires ``ttl`` after the last renewal.

    Times are wall-clock times of the daemons (never the accelerated monitor clock): hosts of
    one deployment must keep their clocks in sync to well under ``ttl`` (NTP does).
    """

    def __init__(
        self,
        db: Database,
        *,
        holder: str,
        ttl: float = 15.0,
        name: str = DEFAULT_LEASE,
        wall: Clock | None = None,
    ) -> None:
        self.db = db
        self.holder = holder
        self.ttl = timedelta(seconds=ttl)
        self.name = name
        self.wall = wall or SystemClock()

    def acquire(self) -> bool:
        """Take the lease if it is free or expired, or renew it if held; True when held."""
        now = self.wall.now()
        with self.db.transaction() as session:
            store: LeaseStore = SqlLeaseStore(session)
            if store.take(self.name, self.holder, now=now, expires_at=now + self.ttl):
                return True
        return self._insert(now)

    def _insert(self, now: datetime) -> bool:
        try:
            with self.db.transaction() as session:
                store = SqlLeaseStore(session)
                if store.find(self.name) is not None:
                    return False
                store.add(self.name, self.holder, now=now, expires_at=now + self.ttl)
        except IntegrityError:
            return False  # another daemon inserted the row first
        return True

    def record_takeover(self, info: LeaseInfo) -> None:
        """Audit that this daemon became the leader."""
        with self.db.transaction() as session:
            record_audit(
                session,
                actor=SYSTEM,
                action="daemon.lead",
                target=f"lease:{self.name}",
                details={"holder": self.holder, "epoch": info.epoch},
            )

    def release(self) -> None:
        """Give the lease up now (a clean shutdown lets a standby take over at once)."""
        with self.db.transaction() as session:
            lapsed = self.wall.now() - timedelta(seconds=1)
            SqlLeaseStore(session).expire(self.name, self.holder, at=lapsed)

    def current(self) -> LeaseInfo | None:
        """The lease as stored (held or expired), or None before anyone took it."""
        with self.db.read() as session:
            return SqlLeaseStore(session).find(self.name)
