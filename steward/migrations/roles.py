"""Least privilege on PostgreSQL: the application role, its grants, and the warning at start.

The migration owner (who runs `steward db upgrade`) owns every table; the server and the daemon
connect as the application role, which may read and write Steward's ordinary tables, only read
and append to the audit tables, use the sequences, and read ``alembic_version``. Not owning the
tables, it cannot drop or disable the append-only triggers, truncate, or alter anything; not being
a superuser, it cannot set ``session_replication_role`` to skip triggers either. Every upgrade
re-applies the grants, so the tables a migration adds get them in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from governance.core.db import AUDIT_TABLES, Base, Database
from governance.core.errors import InvalidInput

log = logging.getLogger("steward")

VERSION_TABLE = "alembic_version"
# What the role must never have, as pg_roles columns and as CREATE/ALTER ROLE options.
FORBIDDEN = {
    "rolsuper": "NOSUPERUSER",
    "rolbypassrls": "NOBYPASSRLS",
    "rolreplication": "NOREPLICATION",
    "rolcreaterole": "NOCREATEROLE",
    "rolcreatedb": "NOCREATEDB",
}
ROLE_OPTIONS = "LOGIN " + " ".join(FORBIDDEN.values())
ORDINARY_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
AUDIT_RIGHTS = "SELECT, INSERT"


@dataclass(frozen=True, kw_only=True, slots=True)
class RoleReport:
    """What an upgrade did for the application role, and the SQL it could not run itself."""

    role: str
    created: bool = False
    corrected: bool = False  # forbidden attributes were removed
    granted: tuple[str, ...] = ()  # the tables the role got rights on
    pending_sql: tuple[str, ...] = field(default=())  # for a role with the right to run


def apply_app_role(conn: Connection, role: str) -> RoleReport:
    """Create (or correct) the application role and re-apply its grants, inside ``conn``'s
    transaction; what the connected role has no right to do is returned as SQL to run."""
    quoted = _quote(conn, role)
    me = conn.execute(text("SELECT current_user")).scalar_one()
    if me == role:
        raise InvalidInput(
            f"the application role {role!r} is the role running the upgrade: set "
            "STEWARD_DB_APP_ROLE to another role, or run the upgrade as the migration owner"
        )
    attrs = _attributes(conn, role)
    if attrs is None:
        create = f"CREATE ROLE {quoted} {ROLE_OPTIONS}"
        outcome = _attempt(conn, create)
        if outcome is _Outcome.denied:
            return RoleReport(role=role, pending_sql=(create + ";",))
        if outcome is _Outcome.done:
            return RoleReport(role=role, created=True, granted=_grant(conn, role))
        attrs = _attributes(conn, role)  # another upgrade created it a moment ago
        assert attrs is not None
    bad = [option for column, option in FORBIDDEN.items() if attrs[column]]
    if not attrs["rolcanlogin"]:
        bad.append("LOGIN")
    pending: tuple[str, ...] = ()
    corrected = False
    if bad:
        alter = f"ALTER ROLE {quoted} {' '.join(bad)}"
        corrected = _attempt(conn, alter) is _Outcome.done
        pending = () if corrected else (alter + ";",)
    return RoleReport(
        role=role, corrected=corrected, granted=_grant(conn, role), pending_sql=pending
    )


def _attributes(conn: Connection, role: str) -> dict[str, bool] | None:
    columns = ", ".join([*FORBIDDEN, "rolcanlogin"])
    row = conn.execute(
        text(f"SELECT {columns} FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    return None if row is None else dict(row._mapping)


class _Outcome(Enum):
    done = "done"
    denied = "denied"  # insufficient_privilege
    exists = "exists"  # duplicate_object, or a concurrent CREATE ROLE's unique_violation


_OUTCOMES = {"42501": _Outcome.denied, "42710": _Outcome.exists, "23505": _Outcome.exists}


def _attempt(conn: Connection, sql: str) -> _Outcome:
    """Run ``sql`` in a savepoint; when the role lacks the right, or the object appeared
    meanwhile, nothing changed and the outcome says which."""
    savepoint = conn.begin_nested()
    try:
        conn.execute(text(sql))
    except DBAPIError as exc:
        savepoint.rollback()
        outcome = _OUTCOMES.get(getattr(exc.orig, "sqlstate", None) or "")
        if outcome is None:
            raise
        return outcome
    savepoint.commit()
    return _Outcome.done


def _grant(conn: Connection, role: str) -> tuple[str, ...]:
    """Give ``role`` exactly its rights on the tables of the current schema that Steward made."""
    q = _quote(conn, role)
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    present = set(
        conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
        ).scalars()
    )
    ours = sorted(present & (set(Base.metadata.tables) | {VERSION_TABLE}))
    statements = [
        f"GRANT CONNECT ON DATABASE {_quote(conn, database)} TO {q}",
        f"GRANT USAGE ON SCHEMA {_quote(conn, schema)} TO {q}",
        # A clean slate first: a right given by hand, or before a table became an audit table,
        # does not survive the next upgrade.
        *(f"REVOKE ALL ON TABLE {_quote(conn, t)} FROM {q}" for t in ours),
        *(f"GRANT {_rights(t)} ON TABLE {_quote(conn, t)} TO {q}" for t in ours),
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {_quote(conn, schema)} FROM {q}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {_quote(conn, schema)} TO {q}",
    ]
    for statement in statements:
        conn.execute(text(statement))
    return tuple(ours)


def _rights(table: str) -> str:
    if table == VERSION_TABLE:
        return "SELECT"
    return AUDIT_RIGHTS if table in AUDIT_TABLES else ORDINARY_RIGHTS


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def privilege_warning(db: Database) -> str | None:
    """Why the role ``db`` connects as is too powerful to serve with, or None (and on SQLite).

    A superuser or a BYPASSRLS role, or one that owns (or may act as the owner of) the audit
    tables, can rewrite the audit log behind the append-only triggers.
    """
    if db.is_sqlite:
        return None
    with db.engine.connect() as conn:
        me, su, bypass = conn.execute(
            text(
                "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
        owner = conn.execute(
            text(
                "SELECT bool_or(pg_has_role(current_user, tableowner, 'MEMBER')) FROM pg_tables "
                "WHERE schemaname = current_schema() AND tablename = ANY(:audit)"
            ),
            {"audit": sorted(AUDIT_TABLES)},
        ).scalar()
    powers = [p for p, held in (("a superuser", su), ("BYPASSRLS", bypass)) if held]
    if not powers and owner:
        powers.append("the owner of the audit tables")
    if not powers:
        return None
    return (
        f"connected to PostgreSQL as {me!r}, {' and '.join(powers)}: it can rewrite the audit log "
        "past its append-only triggers; serve as the application role `steward db upgrade` "
        "grants (STEWARD_DB_APP_ROLE)"
    )


def warn_if_privileged(db: Database) -> str | None:
    """Log ``privilege_warning`` at WARNING when there is one; return it."""
    warning = privilege_warning(db)
    if warning is not None:
        log.warning("%s", warning)
    return warning
