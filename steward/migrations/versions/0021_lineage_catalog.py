"""lineage-catalog: the organisation-wide model catalogue

Revision ID: 0021
Revises: 0020

Catalogue entries (models published from projects, and external models the organisation
allows), the links that put an entry into a project's registry, and each project's rule on the
licences it accepts. Full-text search needs no table of its own (see lineage.catalog.search).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
JSON = governance.core.db.CanonicalJSON()
_ENTRIES = "lineage_catalog_entries"
_LINKS = "lineage_catalog_links"
_RULES = "lineage_catalog_licence_rules"


def upgrade() -> None:
    op.create_table(
        _ENTRIES,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("listed_name", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("card", JSON, nullable=False),
        sa.Column("licence", sa.String(length=200), nullable=False),
        sa.Column("intended_use", sa.Text(), nullable=False),
        sa.Column("limitations", sa.Text(), nullable=False),
        sa.Column("evaluations", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("tag_index", sa.Text(), nullable=False),
        sa.Column("versions", JSON, nullable=False),
        sa.Column("attrs", JSON, nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("history", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
        sa.Column("withdrawn_at", UTC, nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_catalog_entries")),
        sa.UniqueConstraint("listed_name", name=op.f("uq_lineage_catalog_entries_listed_name")),
    )
    op.create_index("ix_lineage_catalog_entries_project_model", _ENTRIES, ["project", "model"])
    op.create_index("ix_lineage_catalog_entries_licence", _ENTRIES, ["licence"])
    if op.get_bind().dialect.name == "postgresql":  # what full-text search reads
        op.create_index(
            "ix_lineage_catalog_entries_search", _ENTRIES,
            [sa.text("to_tsvector('english'::regconfig, search_text)")], postgresql_using="gin",
        )  # fmt: skip
    op.create_table(
        _LINKS,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("model_version_id", sa.Uuid(), nullable=False),
        sa.Column("entry_version", sa.String(length=128), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], [f"{_ENTRIES}.id"],
            name=op.f("fk_lineage_catalog_links_entry_id_lineage_catalog_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"], ["lineage_nodes.id"],
            name=op.f("fk_lineage_catalog_links_model_version_id_lineage_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_catalog_links")),
    )  # fmt: skip
    op.create_index("ix_lineage_catalog_links_entry_id", _LINKS, ["entry_id"])
    op.create_table(
        _RULES,
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("allowed", JSON, nullable=False),
        sa.Column("refused", JSON, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("project", name=op.f("pk_lineage_catalog_licence_rules")),
    )


def downgrade() -> None:
    op.drop_table(_RULES)
    op.drop_index("ix_lineage_catalog_links_entry_id", table_name=_LINKS)
    op.drop_table(_LINKS)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_lineage_catalog_entries_search", table_name=_ENTRIES)
    op.drop_index("ix_lineage_catalog_entries_licence", table_name=_ENTRIES)
    op.drop_index("ix_lineage_catalog_entries_project_model", table_name=_ENTRIES)
    op.drop_table(_ENTRIES)
