"""lineage: asset graph nodes, timed edges, column lineage, model aliases, raw OpenLineage events

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_UUID = sa.Uuid()
_TS = governance.core.db.UTCDateTime()
_JSON = governance.core.db.CanonicalJSON()


def _node_fk(column: str, table: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["lineage_nodes.id"],
        name=op.f(f"fk_{table}_{column}_lineage_nodes"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "lineage_nodes",
        sa.Column("id", _UUID, nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("parent_id", _UUID, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("attrs", _JSON, nullable=False),
        _node_fk("parent_id", "lineage_nodes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_nodes")),
        sa.UniqueConstraint(
            "project", "kind", "namespace", "name", "version", name=op.f("uq_lineage_nodes_project")
        ),
    )
    op.create_index("ix_lineage_nodes_parent_id", "lineage_nodes", ["parent_id"])
    op.create_index(
        "ix_lineage_nodes_project_kind_name", "lineage_nodes", ["project", "kind", "name"]
    )
    op.create_table(
        "lineage_edges",
        sa.Column("id", _UUID, nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("src_id", _UUID, nullable=False),
        sa.Column("dst_id", _UUID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("valid_from", _TS, nullable=False),
        sa.Column("valid_to", _TS, nullable=True),
        sa.Column("attrs", _JSON, nullable=False),
        _node_fk("dst_id", "lineage_edges"),
        _node_fk("src_id", "lineage_edges"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_edges")),
        sa.UniqueConstraint(
            "src_id", "dst_id", "kind", "valid_from", name=op.f("uq_lineage_edges_src_id")
        ),
    )
    op.create_index("ix_lineage_edges_dst_id_src_id", "lineage_edges", ["dst_id", "src_id"])
    op.create_index("ix_lineage_edges_src_id_dst_id", "lineage_edges", ["src_id", "dst_id"])
    op.create_table(
        "lineage_column_edges",
        sa.Column("id", _UUID, nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("src_id", _UUID, nullable=False),
        sa.Column("src_field", sa.String(length=512), nullable=False),
        sa.Column("dst_id", _UUID, nullable=False),
        sa.Column("dst_field", sa.String(length=512), nullable=False),
        sa.Column("run_id", _UUID, nullable=True),
        sa.Column("transformations", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        _node_fk("dst_id", "lineage_column_edges"),
        _node_fk("run_id", "lineage_column_edges", "SET NULL"),
        _node_fk("src_id", "lineage_column_edges"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_column_edges")),
        sa.UniqueConstraint(
            "src_id",
            "src_field",
            "dst_id",
            "dst_field",
            name=op.f("uq_lineage_column_edges_src_id"),
        ),
    )
    op.create_index(
        "ix_lineage_column_edges_dst_id", "lineage_column_edges", ["dst_id", "dst_field"]
    )
    op.create_table(
        "lineage_model_aliases",
        sa.Column("id", _UUID, nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("model_id", _UUID, nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("version_id", _UUID, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        _node_fk("model_id", "lineage_model_aliases"),
        _node_fk("version_id", "lineage_model_aliases"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_model_aliases")),
        sa.UniqueConstraint("model_id", "alias", name=op.f("uq_lineage_model_aliases_model_id")),
    )
    op.create_table(
        "lineage_events",
        sa.Column("id", _UUID, nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("event_time", _TS, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_events")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_lineage_events_fingerprint")),
    )
    op.create_index("ix_lineage_events_project_run", "lineage_events", ["project", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_lineage_events_project_run", table_name="lineage_events")
    op.drop_table("lineage_events")
    op.drop_table("lineage_model_aliases")
    op.drop_index("ix_lineage_column_edges_dst_id", table_name="lineage_column_edges")
    op.drop_table("lineage_column_edges")
    op.drop_index("ix_lineage_edges_src_id_dst_id", table_name="lineage_edges")
    op.drop_index("ix_lineage_edges_dst_id_src_id", table_name="lineage_edges")
    op.drop_table("lineage_edges")
    op.drop_index("ix_lineage_nodes_project_kind_name", table_name="lineage_nodes")
    op.drop_index("ix_lineage_nodes_parent_id", table_name="lineage_nodes")
    op.drop_table("lineage_nodes")
