"""Read models of the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Decision(StrEnum):
    """Outcome recorded with every entry."""

    allow = "allow"
    deny = "deny"


class AuditEntry(BaseModel):
    """One audit entry as served by the API."""

    model_config = ConfigDict(frozen=True)

    seq: int
    ts: datetime
    actor: str
    project: str | None
    action: str
    target: str | None
    decision: str
    request_id: str | None
    client: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    """A page of entries and the cursor of the next page (None at the end)."""

    items: list[AuditEntry]
    next_cursor: str | None


class AuditCheckpointInfo(BaseModel):
    """A stored checkpoint."""

    model_config = ConfigDict(frozen=True)

    tree_size: int
    created_at: datetime
    root_hash: str
    note: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ChainHead:
    """The newest entry of the log: the next entry takes ``seq + 1`` and links to ``hash``."""

    seq: int
    hash: str


@dataclass(frozen=True, kw_only=True, slots=True)
class SealedPrefix:
    """How far the newest checkpoint seals, and the Merkle frontier the next one continues from."""

    tree_size: int
    frontier: dict[str, Any]
    note: str


class AuditFilter(BaseModel):
    """Filters of the audit query."""

    model_config = ConfigDict(frozen=True)

    actor: str | None = None
    action: str | None = None
    project: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    projects_visible: frozenset[str] | None = None
    include_global: bool = True


class VerifyFinding(BaseModel):
    """One finding of a verification."""

    category: str
    seq: int
    detail: str


class VerifyResult(BaseModel):
    """A verification report."""

    ok: bool
    entries: int
    checkpoints: int
    sealed_through: int
    witnessed_through: int = 0
    first_bad_seq: int | None
    counts: dict[str, int]
    findings: list[VerifyFinding]
