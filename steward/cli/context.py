"""Shared CLI plumbing: settings, the database, the local operator and its authorisation."""

from __future__ import annotations

import getpass
from functools import lru_cache

from rich.console import Console

from governance.access.authorization import authorize
from governance.audit.service import configure_audit
from governance.audit.signing import Signer
from governance.core.db import Database
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings

console = Console()


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Settings from the environment."""
    return Settings()


def signer() -> Signer:
    """The audit signing key (created on first use)."""
    s = settings()
    return Signer.load_or_create(s.key_path, origin=s.audit_origin)


def database(*, check_schema: bool = True) -> Database:
    """The configured database, with audit sealing wired in."""
    from steward.migrations import ensure_current

    s = settings()
    if s.database_url.startswith("sqlite"):
        s.home.mkdir(parents=True, exist_ok=True)
    db = Database(s.database_url)
    if check_schema:
        ensure_current(db)
    configure_audit(db, signer=signer(), checkpoint_every=s.checkpoint_every)
    return db


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
