"""Tables of prompt assets: immutable versions and movable aliases (the assets are nodes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class PromptVersionRow(Base):
    """The content of one prompt version; its identity and edges are those of its node."""

    __tablename__ = "lineage_prompt_versions"
    __table_args__ = (
        UniqueConstraint("version", "prompt_id"),
        # Content-addressed: the same content posted twice is the same version.
        UniqueConstraint("content_hash", "prompt_id"),
        Index("ix_lineage_prompt_versions_project_name", "project", "name"),
    )

    node_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lineage_nodes.id", ondelete="CASCADE"), primary_key=True
    )
    prompt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lineage_nodes.id", ondelete="CASCADE"))
    project: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    # The messages (kind prompt) or the flow document (kind flow), as posted.
    content: Mapped[Any] = mapped_column(CanonicalJSON)
    variables: Mapped[list[str]] = mapped_column(CanonicalJSON, default=list)
    model: Mapped[str] = mapped_column(String(200), default="")
    model_parameters: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON, default=dict)
    model_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lineage_nodes.id", ondelete="SET NULL")
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PromptAliasRow(Base):
    """A movable name (``production``, ``candidate``) pointing at one version of a prompt."""

    __tablename__ = "lineage_prompt_aliases"
    __table_args__ = (UniqueConstraint("prompt_id", "alias"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    prompt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lineage_nodes.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lineage_nodes.id", ondelete="CASCADE")
    )
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
