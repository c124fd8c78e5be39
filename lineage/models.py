"""Tables of the asset graph: nodes, timed edges, column lineage, aliases, model cards, raw
events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class NodeRow(Base):
    """One asset: dataset, dataset version, job, run, model, model version or endpoint."""

    __tablename__ = "lineage_nodes"
    __table_args__ = (
        UniqueConstraint("project", "kind", "namespace", "name", "version"),
        Index("ix_lineage_nodes_parent_id", "parent_id"),
        Index("ix_lineage_nodes_project_kind_name", "project", "kind", "name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    namespace: Mapped[str] = mapped_column(String(512))
    name: Mapped[str] = mapped_column(String(1024))
    # Empty for unversioned assets; a content hash, a number or an OpenLineage run id otherwise.
    version: Mapped[str] = mapped_column(String(128), default="")
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lineage_nodes.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attrs: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON, default=dict)

    # Never loaded: these relationships exist so that a flush inserts parents before children.
    parent: Mapped[NodeRow | None] = relationship(
        remote_side=[id], foreign_keys=[parent_id], lazy="raise"
    )


class EdgeRow(Base):
    """A typed edge in the direction data flows, valid from one time until (maybe) another."""

    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint("src_id", "dst_id", "kind", "valid_from"),
        Index("ix_lineage_edges_dst_id_src_id", "dst_id", "src_id"),
        Index("ix_lineage_edges_src_id_dst_id", "src_id", "dst_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    src_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lineage_nodes.id", ondelete="CASCADE"))
    dst_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lineage_nodes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attrs: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON, default=dict)

    src: Mapped[NodeRow] = relationship(foreign_keys=[src_id], lazy="raise")
    dst: Mapped[NodeRow] = relationship(foreign_keys=[dst_id], lazy="raise")


class ColumnEdgeRow(Base):
    """Column-level lineage: field ``src_field`` of one dataset feeds ``dst_field`` of another."""

    __tablename__ = "lineage_column_edges"
    __table_args__ = (
        UniqueConstraint("src_id", "src_field", "dst_id", "dst_field"),
        Index("ix_lineage_column_edges_dst_id", "dst_id", "dst_field"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    src_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lineage_nodes.id", ondelete="CASCADE"))
    src_field: Mapped[str] = mapped_column(String(512))
    dst_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lineage_nodes.id", ondelete="CASCADE"))
    dst_field: Mapped[str] = mapped_column(String(512))
    run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lineage_nodes.id", ondelete="SET NULL")
    )
    transformations: Mapped[list[Any]] = mapped_column(CanonicalJSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    src: Mapped[NodeRow] = relationship(foreign_keys=[src_id], lazy="raise")
    dst: Mapped[NodeRow] = relationship(foreign_keys=[dst_id], lazy="raise")
    run: Mapped[NodeRow | None] = relationship(foreign_keys=[run_id], lazy="raise")


class AliasRow(Base):
    """A movable name (``champion``, ``challenger``) pointing at one version of a model."""

    __tablename__ = "lineage_model_aliases"
    __table_args__ = (UniqueConstraint("model_id", "alias"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lineage_nodes.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lineage_nodes.id", ondelete="CASCADE")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ModelCardRow(Base):
    """The editable documentation of a registered model (all its versions): owners, intended
    use, limitations and out-of-scope uses."""

    __tablename__ = "lineage_model_cards"
    __table_args__ = (Index("ix_lineage_model_cards_project", "project"),)

    model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lineage_nodes.id", ondelete="CASCADE"), primary_key=True
    )
    project: Mapped[str] = mapped_column(String(64))
    owners: Mapped[list[str]] = mapped_column(CanonicalJSON, default=list)
    intended_use: Mapped[str] = mapped_column(Text, default="")
    limitations: Mapped[str] = mapped_column(Text, default="")
    out_of_scope_uses: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventRow(Base):
    """A raw OpenLineage event as received, kept as evidence and for replay."""

    __tablename__ = "lineage_events"
    __table_args__ = (
        # The same event sent to two projects is two events: dedupe within a project only.
        UniqueConstraint("project", "fingerprint"),
        Index("ix_lineage_events_project_run", "project", "run_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the canonical payload: a retried event is recognised and not applied twice.
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(16))
    run_id: Mapped[str | None] = mapped_column(String(64))
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
