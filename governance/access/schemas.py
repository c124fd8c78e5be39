"""Read and write models of identities, tokens, projects and roles."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from governance.core.durations import WholeSeconds
from governance.core.principal import Principal, PrincipalKind

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
PRINCIPAL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")
SYSTEM_PROJECT = "_system"
Role = Literal["owner", "ml-engineer", "data-scientist", "app-developer", "auditor", "viewer"]
ROLES: tuple[str, ...] = get_args(Role)
MAX_RETENTION_DAYS = 36500
MAX_ALERT_COOLDOWN = timedelta(days=365)


class PrincipalCreate(BaseModel):
    """A new user or service account."""

    name: str = Field(pattern=PRINCIPAL_RE.pattern, max_length=200)
    kind: PrincipalKind = PrincipalKind.user
    display_name: str = Field(default="", max_length=200)

    @field_validator("kind")
    @classmethod
    def _not_system(cls, value: PrincipalKind) -> PrincipalKind:
        if value == PrincipalKind.system:
            raise ValueError("system principals cannot be created")
        return value


class PrincipalInfo(BaseModel):
    """A principal as served."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    name: str
    kind: PrincipalKind
    display_name: str
    created_at: datetime
    disabled: bool


class TokenCreate(BaseModel):
    """Ask for a new token for yourself (or, as an owner, for a service account)."""

    name: str = Field(min_length=1, max_length=200)
    principal: str | None = Field(default=None, max_length=200)
    expires_in_days: int | None = Field(default=90, ge=1, le=3650)


class TokenInfo(BaseModel):
    """A token's metadata; never its secret."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    principal: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredToken:
    """A token as stored, with its owner: what authentication and revocation decide on."""

    token: TokenInfo
    owner: PrincipalInfo
    secret_hash: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Authenticated:
    """Who a credential proved, and until when that credential holds (None: no expiry)."""

    principal: Principal
    expires_at: datetime | None


class TokenIssued(TokenInfo):
    """A freshly created token: the only time the secret is shown."""

    token: str


class ProjectCreate(BaseModel):
    """A new project."""

    name: str = Field(pattern=NAME_RE.pattern)
    description: str = Field(default="", max_length=2000)
    retention_days: int | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS)


class ProjectUpdate(BaseModel):
    """A change of a project's settings; a field sent as null goes back to the server default.

    ``retention_days`` bounds how long inference data and monitor runs are kept (null: kept);
    ``alert_cooldown`` is how often a repeating alert notifies when its monitor names no
    cooldown (null: the server's alert policy).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    retention_days: int | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS)
    alert_cooldown: WholeSeconds | None = None

    @field_validator("alert_cooldown")
    @classmethod
    def _bounded(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value > MAX_ALERT_COOLDOWN:
            raise ValueError("the alert cooldown is at most P365D")
        return value


class ProjectInfo(BaseModel):
    """A project as served."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    name: str
    description: str
    created_at: datetime
    retention_days: int | None
    # None: the server's alert policy applies to monitors that name no cooldown.
    alert_cooldown: WholeSeconds | None = None


class RoleGrant(BaseModel):
    """Grant ``role`` to ``principal`` in the path's project."""

    principal: str = Field(max_length=200)
    role: Role  # an enum in the OpenAPI document, so clients (and fuzzers) see the choices


class RoleBinding(BaseModel):
    """A principal's role in a project."""

    model_config = ConfigDict(frozen=True)

    principal: str
    role: str
    project: str
    created_at: datetime


class Me(BaseModel):
    """The caller and its roles."""

    name: str
    kind: PrincipalKind
    via: str
    roles: dict[str, list[str]]


class Explanation(BaseModel):
    """Why a request is allowed or denied."""

    allowed: bool
    principal: str
    project: str
    object: str
    action: str
    roles: list[str]
    rule: list[str] | None
    granting_roles: list[str]
    reason: str
