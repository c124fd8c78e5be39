"""Tables of identities, tokens, projects and role bindings."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, UTCDateTime


class PrincipalRow(Base):
    """A user or a service account."""

    __tablename__ = "access_principals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class TokenRow(Base):
    """An API token: only a lookup prefix and a SHA-256 of the secret are kept."""

    __tablename__ = "access_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    principal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("access_principals.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProjectRow(Base):
    """A project: the casbin domain every project-scoped asset belongs to."""

    __tablename__ = "access_projects"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    # Seconds between notifications of a repeating alert; None: the server's alert policy.
    alert_cooldown_seconds: Mapped[int | None] = mapped_column(Integer)


class RoleBindingRow(Base):
    """Principal P holds role R in project X."""

    __tablename__ = "access_role_bindings"
    __table_args__ = (UniqueConstraint("principal_id", "project_id", "role"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    principal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("access_principals.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("access_projects.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BindingEpochRow(Base):
    """A counter bumped with every grant and revoke, so every process knows to reload."""

    __tablename__ = "access_binding_epoch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
