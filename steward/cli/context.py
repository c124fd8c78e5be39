"""Shared CLI plumbing: settings, the local home and database, the operator, a server to call."""

from __future__ import annotations

import getpass
import os
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from governance.access.authorization import authorize
from governance.audit.runtime import open_audit
from governance.audit.sealer import Sealer
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound
from governance.core.files import private_sqlite
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings
from steward.cli.client import is_remote, remote, remote_status
from steward.cli.output import console, err

__all__ = ["console", "database", "is_remote", "read_database", "remote", "remote_status"]


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Settings from the environment; a bad ``STEWARD_*`` value is invalid input (exit 2)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidInput(f"invalid setting: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    """Each bad value, named as its environment variable when the field is known."""
    lines = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"][:1]).upper()
        lines.append(f"STEWARD_{name}: {error['msg']}" if name else str(error["msg"]))
    return "; ".join(lines)


# Databases this command opened for writing: sealed when the command ends (``seal_opened``), so
# that what a command logs is never left standing unsealed until a server happens to run.
_opened: list[Database] = []


def require_home() -> None:
    """Refuse, saying where it looked, when the home's database does not exist.

    Only ``init`` (and the commands that make a fresh home on purpose) create one: any other
    command run in the wrong folder would silently start an empty Steward there.
    """
    s = settings()
    if os.environ.get("STEWARD_DATABASE_URL"):
        return  # a database named explicitly: its own checks say what is wrong with it
    url = make_url(s.database_url)
    if url.get_backend_name() != "sqlite" or Path(url.database or "").is_file():
        return
    home = s.home.resolve()
    why = (
        "from STEWARD_HOME"
        if os.environ.get("STEWARD_HOME")
        else f"STEWARD_HOME is not set, so ./.steward under the current folder {Path.cwd()}"
    )
    raise NotFound(
        f"no Steward home at {home} (no {Path(url.database or '').name}; {why}): run "
        "`steward init` to create one, set STEWARD_HOME to an existing home, or set STEWARD_URL "
        "and STEWARD_TOKEN to use a server"
    )


def database(*, check_schema: bool = True, audit: bool = True, create: bool = False) -> Database:
    """The configured database, with audit sealing and witnesses wired in.

    Refuses (one line) when the log has entries but the signing key is gone; ``audit=False``
    leaves sealing to the caller (key rotation, which must work without the old key). Only
    with ``create`` may a new home be made (``init``).
    """
    from steward.migrations import ensure_current

    if not create:
        require_home()
    s = settings()
    if s.database_url.startswith("sqlite"):
        private_sqlite(s.database_url)  # home 0700, database file 0600 (SQLite would make 0644)
    db = Database(s.database_url)
    if check_schema:
        ensure_current(db)
    if audit:
        open_audit(db, s)
        _opened.append(db)
    return db


def read_database() -> Database:
    """The configured database for reading only: creates no home, database file or key."""
    from steward.migrations import ensure_current

    require_home()
    s = settings()
    url = make_url(s.database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise NotFound(f"no Steward database at {url.database}")
    db = Database(s.database_url)
    ensure_current(db)
    return db


def seal_opened() -> None:
    """Seal what the command logged and tell the witnesses (called when a command ends)."""
    while _opened:
        db = _opened.pop()
        sealer = Sealer(db, interval=1.0)
        if not sealer.seal_once():
            console.print(
                f"[yellow]warning[/yellow]: audit log not sealed: {sealer.status.last_error}"
            )
        db.dispose()


def operator() -> Principal:
    """The local operator: CLI commands act with database access, recorded as such."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Principal(id=None, name=f"cli@{user}", kind=PrincipalKind.system, via="cli")


def authorized(db: Database, *, project: str, obj: str, act: str) -> Principal:
    """The local operator, allowed ``(obj, act)`` in ``project`` by the decision routes make.

    The operator is a system principal (it has the database anyway), so the decision allows it;
    asking still keeps one decision function for every way into Steward.
    """
    actor = operator()
    authorize(actor, project, obj, act, db=db, policy=None)
    return actor


def local_only(command: str) -> None:
    """Say, when a server is configured, that ``command`` acts on this host's home instead."""
    if is_remote():
        err.print(
            f"note: `steward {command}` is an admin command: it acts on this host's Steward "
            "home, not on the server of STEWARD_URL/--url/--profile",
            highlight=False,
            soft_wrap=True,
        )
