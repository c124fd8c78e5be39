"""Shared CLI plumbing: settings, the database, the local operator and its authorisation."""

from __future__ import annotations

import getpass
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy.engine import make_url

from governance.access.authorization import authorize
from governance.audit.runtime import open_audit
from governance.audit.sealer import Sealer
from governance.core.db import Database
from governance.core.errors import NotFound, StewardError
from governance.core.files import private_sqlite
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings

console = Console()


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Settings from the environment."""
    return Settings()


# Databases this command opened for writing: sealed when the command ends (``seal_opened``), so
# that what a command logs is never left standing unsealed until a server happens to run.
_opened: list[Database] = []


def database(*, check_schema: bool = True, audit: bool = True) -> Database:
    """The configured database, with audit sealing and witnesses wired in.

    Refuses (one line) when the log has entries but the signing key is gone; ``audit=False``
    leaves sealing to the caller (key rotation, which must work without the old key).
    """
    from steward.migrations import ensure_current

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


def is_remote() -> bool:
    """Whether commands call a server (``STEWARD_URL``) instead of the local database."""
    return bool(os.environ.get("STEWARD_URL"))


def remote(
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    content: bytes | None = None,
    content_type: str | None = None,
) -> Any:
    """Call ``/api/v1{path}`` on the server named by STEWARD_URL as ``STEWARD_TOKEN``.

    ``content`` (with its ``content_type``) is sent as the raw body instead of ``body`` as JSON;
    an empty answer (204) is None. The server's error (code and detail) is raised as ours, so it
    prints like a local one.
    """
    return remote_status(method, path, body, content=content, content_type=content_type)[1]


def remote_status(
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    content: bytes | None = None,
    content_type: str | None = None,
) -> tuple[int, Any]:
    """``remote``, with the HTTP status of the answer (e.g. 201 created, 200 unchanged)."""
    import httpx

    base = os.environ["STEWARD_URL"].rstrip("/")
    headers = {"Authorization": f"Bearer {os.environ.get('STEWARD_TOKEN', '')}"}
    if content is not None and content_type:
        headers["Content-Type"] = content_type
    response = httpx.request(
        method, f"{base}/api/v1{path}", json=body if content is None else None,
        content=content, headers=headers, timeout=60,
    )  # fmt: skip
    if response.status_code >= 400:
        try:
            error = response.json()
        except ValueError:
            error = {}
        code = str(error.get("code", "http_error"))
        raise StewardError(str(error.get("detail", response.text[:200])), code=code)
    return response.status_code, response.json() if response.content else None
