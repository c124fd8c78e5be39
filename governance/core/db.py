"""Database access: engine, transactions, declarative base, column types, the audit guard."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from governance.core.clock import to_utc
from governance.core.errors import AuditMissing, InvalidInput

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Tables whose writes are the audit trail itself, or bookkeeping that is not governed state.
AUDIT_TABLES = frozenset({"audit_entries", "audit_checkpoints", "audit_blobs"})
_DML = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


class Base(DeclarativeBase):
    """Declarative base of every Steward table; ``info={"governed": False}`` opts out of audit."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC and always returned timezone-aware (UTC)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to naive UTC before storing."""
        return None if value is None else to_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC on the way out."""
        return None if value is None else to_utc(value)


class CanonicalJSON(TypeDecorator[Any]):
    """JSON stored with sorted keys, so equal documents are equal text on every backend."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Round-trip through canonical JSON (rejects NaN, which JSON cannot carry)."""
        if value is None:
            return None
        return json.loads(json.dumps(value, sort_keys=True, allow_nan=False, default=str))


class CheckpointSigner(Protocol):
    """Signs the audit log's checkpoints; ``governance.audit.signing.Signer`` implements it.

    Declared here, with text and bytes only, so that a database can carry how its audit log is
    sealed without the kernel importing the audit package (imports only flow downward).
    """

    @property
    def origin(self) -> str:
        """The log's name: the first line of every checkpoint it signs."""
        ...

    def sign_checkpoint(self, *, size: int, root: bytes) -> str:
        """The signed note stating that the log had ``size`` entries with Merkle ``root``."""
        ...

    def stated(self, note: str) -> tuple[int, bytes] | None:
        """``(size, root)`` of a note this key signed; None if it did not sign it."""
        ...


class CheckpointWitness(Protocol):
    """Keeps signed checkpoints outside the database (``governance.audit.witness.Witnesses``)."""

    def published(self, notes: Iterable[str]) -> None:
        """Checkpoints a transaction signed have just committed."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditSealing:
    """How appends seal the audit log: who signs checkpoints, how often, and who witnesses them."""

    signer: CheckpointSigner
    checkpoint_every: int = 256
    witness: CheckpointWitness | None = None


# Session.info key under which a transaction collects the checkpoint notes it signed.
SIGNED_NOTES = "steward_signed_notes"


def _governed(table_name: str) -> bool:
    table = Base.metadata.tables.get(table_name)
    if table_name in AUDIT_TABLES:
        return False
    return table is None or bool(table.info.get("governed", True))


def _track_writes(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
    match = _DML.match(statement)
    # After the statement: one that changed no row wrote nothing to audit (a guarded UPDATE
    # that lost a race to another writer, which audited its own change).
    if match is None or getattr(cursor, "rowcount", -1) == 0:
        return
    table = match.group(1).lower()
    if table == "audit_entries":
        conn.info["steward_audited"] = True
    elif _governed(table):
        conn.info.setdefault("steward_writes", set()).add(table)


def _refuse_nul(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    # PostgreSQL cannot store NUL in text and fails the statement with a DataError (a 500);
    # refuse it as invalid input on every backend, so both behave the same.
    for row in (parameters if many else [parameters]) or ():
        values = row.values() if isinstance(row, dict) else row
        if any(isinstance(v, str) and "\x00" in v for v in values or ()):
            raise InvalidInput("text may not contain NUL characters")


def _reset_tracking(conn: Connection) -> None:
    conn.info.pop("steward_writes", None)
    conn.info.pop("steward_audited", None)


def check_audited(session: Session) -> None:
    """Refuse to commit a transaction that wrote governed tables without an audit entry."""
    if not session.in_transaction():
        return
    info = session.connection().info
    writes = info.get("steward_writes")
    if writes and not info.get("steward_audited"):
        raise AuditMissing(
            f"transaction writes governed tables {sorted(writes)} without an audit entry"
        )


def database_of(session: Session) -> Database | None:
    """The Database a session was opened by (None for foreign sessions)."""
    db = session.info.get("steward_db")
    return db if isinstance(db, Database) else None


def normalise_url(url: str) -> str:
    """Route ``postgresql://`` URLs to psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    """An engine plus the transaction helpers every service function uses."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 5) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine = self._make_engine(echo=echo, pool_size=pool_size)
        event.listen(self.engine, "after_cursor_execute", _track_writes)
        event.listen(self.engine, "before_cursor_execute", _refuse_nul)
        event.listen(self.engine, "begin", self._on_begin)
        # Set by ``governance.audit.service.configure_audit``; None leaves the log unsealed.
        self.audit: AuditSealing | None = None
        info = {"steward_db": self}
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False, info=info)
        self._readers = sessionmaker(
            bind=self.engine.execution_options(steward_readonly=True),
            expire_on_commit=False,
            info=info,
        )

    def _make_engine(self, *, echo: bool, pool_size: int) -> Engine:
        if not self.is_sqlite:
            return create_engine(self.url, echo=echo, pool_size=pool_size, pool_pre_ping=True)
        # A pool keeps connections (and their PRAGMAs) across sessions; in-memory databases
        # would be per-connection, so they get none.
        memory = ":memory:" in self.url or self.url in ("sqlite://", "sqlite:///")
        pooling: dict[str, Any] = (
            {"poolclass": NullPool} if memory else {"pool_size": pool_size, "max_overflow": 10}
        )
        engine = create_engine(
            self.url,
            echo=echo,
            connect_args={"timeout": 60, "check_same_thread": False},
            **pooling,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
            # pysqlite's own transaction handling would defer BEGIN; we issue it ourselves.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        return engine

    def _on_begin(self, conn: Connection) -> None:
        _reset_tracking(conn)
        if self.is_sqlite:
            # Writers take the lock up front so that audit appends serialise without deadlocks.
            readonly = conn.get_execution_options().get("steward_readonly", False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a write transaction; commit on success, roll back on any exception."""
        session = self._sessions()
        try:
            with session.begin():
                yield session
                session.flush()
                check_audited(session)
            notes = session.info.pop(SIGNED_NOTES, None)
        finally:
            session.info.pop(SIGNED_NOTES, None)
            session.close()
        if notes and self.audit is not None and self.audit.witness is not None:
            # Only after the commit: a witness must never hold a checkpoint the log never had.
            self.audit.witness.published(notes)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Open a read-only transaction (no write lock on SQLite)."""
        session = self._readers()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
