"""lineage-prompts: prompt templates and flow definitions as versioned assets with aliases

Revision ID: 0020
Revises: 0019

A prompt asset and each of its versions are lineage nodes (kinds ``prompt`` and
``prompt_version``); these tables hold what a node cannot: a version's content, declared
variables, model and content hash (unique per prompt), and the movable aliases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
JSON = governance.core.db.CanonicalJSON()
_VERSIONS = "lineage_prompt_versions"
_ALIASES = "lineage_prompt_aliases"


def _node_fk(column: str, table: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["lineage_nodes.id"],
        name=op.f(f"fk_{table}_{column}_lineage_nodes"), ondelete=ondelete,
    )  # fmt: skip


def upgrade() -> None:
    op.create_table(
        _VERSIONS,
        sa.Column("node_id", sa.Uuid(), nullable=False),
        sa.Column("prompt_id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content", JSON, nullable=False),
        sa.Column("variables", JSON, nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("model_parameters", JSON, nullable=False),
        sa.Column("model_version_id", sa.Uuid(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _node_fk("node_id", _VERSIONS),
        _node_fk("prompt_id", _VERSIONS),
        _node_fk("model_version_id", _VERSIONS, "SET NULL"),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_lineage_prompt_versions")),
        sa.UniqueConstraint(
            "version", "prompt_id", name=op.f("uq_lineage_prompt_versions_version")
        ),
        sa.UniqueConstraint(
            "content_hash", "prompt_id", name=op.f("uq_lineage_prompt_versions_content_hash")
        ),
    )  # fmt: skip
    op.create_index("ix_lineage_prompt_versions_project_name", _VERSIONS, ["project", "name"])
    op.create_table(
        _ALIASES,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("prompt_id", sa.Uuid(), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _node_fk("prompt_id", _ALIASES),
        _node_fk("version_id", _ALIASES),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_prompt_aliases")),
        sa.UniqueConstraint(
            "prompt_id", "alias", name=op.f("uq_lineage_prompt_aliases_prompt_id")
        ),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table(_ALIASES)
    op.drop_index("ix_lineage_prompt_versions_project_name", table_name=_VERSIONS)
    op.drop_table(_VERSIONS)
