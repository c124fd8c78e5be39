"""Tables of the model catalogue: entries, the links that put them into projects, and the
projects' licence rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, func, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class CatalogEntryRow(Base):
    """One catalogue entry: a model published from a project, or an external model."""

    __tablename__ = "lineage_catalog_entries"
    __table_args__ = (
        Index("ix_lineage_catalog_entries_project_model", "project", "model"),
        Index("ix_lineage_catalog_entries_licence", "licence"),
        # What full-text search reads on PostgreSQL (the same expression as the query's).
        Index(
            "ix_lineage_catalog_entries_search",
            func.to_tsvector(literal_column("'english'::regconfig"), literal_column("search_text")),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The name while the entry is listed, NULL once withdrawn: unique, so two listed entries
    # never share a name, and a withdrawn name can be published again (NULLs never collide).
    listed_name: Mapped[str | None] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    visibility: Mapped[str] = mapped_column(String(16))
    project: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    card: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON, default=dict)
    licence: Mapped[str] = mapped_column(String(200))
    intended_use: Mapped[str] = mapped_column(Text, default="")
    limitations: Mapped[str] = mapped_column(Text, default="")
    evaluations: Mapped[list[Any]] = mapped_column(CanonicalJSON, default=list)
    tags: Mapped[list[str]] = mapped_column(CanonicalJSON, default=list)
    # "|tag1|tag2|": filtering by one tag is a LIKE on both databases.
    tag_index: Mapped[str] = mapped_column(Text, default="|")
    versions: Mapped[list[Any]] = mapped_column(CanonicalJSON, default=list)
    attrs: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON, default=dict)
    # Everything full-text search reads, in one column (name, description, card, use, tags).
    search_text: Mapped[str] = mapped_column(Text, default="")
    history: Mapped[list[Any]] = mapped_column(CanonicalJSON, default=list)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")


class CatalogLinkRow(Base):
    """A catalogue entry used in a project: the model version registered there for it."""

    __tablename__ = "lineage_catalog_links"
    __table_args__ = (Index("ix_lineage_catalog_links_entry_id", "entry_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lineage_catalog_entries.id", ondelete="CASCADE")
    )
    project: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    model_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lineage_nodes.id", ondelete="CASCADE")
    )
    entry_version: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CatalogLicenceRuleRow(Base):
    """Which licences a project accepts when it uses catalogue models."""

    __tablename__ = "lineage_catalog_licence_rules"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Empty: any licence not refused; otherwise only these.
    allowed: Mapped[list[str]] = mapped_column(CanonicalJSON, default=list)
    refused: Mapped[list[str]] = mapped_column(CanonicalJSON, default=list)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
