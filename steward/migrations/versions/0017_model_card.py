"""model-card: the editable documentation of a registered model

Revision ID: 0017
Revises: 0016

One row per registered model (not per version): owners, intended use, limitations and
out-of-scope uses, who changed them last and when. Deleted with its model node.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
JSON = governance.core.db.CanonicalJSON()
_CARDS = "lineage_model_cards"


def upgrade() -> None:
    op.create_table(
        _CARDS,
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("owners", JSON, nullable=False),
        sa.Column("intended_use", sa.Text(), nullable=False),
        sa.Column("limitations", sa.Text(), nullable=False),
        sa.Column("out_of_scope_uses", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["lineage_nodes.id"],
            name=op.f("fk_lineage_model_cards_model_id_lineage_nodes"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_lineage_model_cards")),
    )  # fmt: skip
    op.create_index("ix_lineage_model_cards_project", _CARDS, ["project"])


def downgrade() -> None:
    op.drop_index("ix_lineage_model_cards_project", table_name=_CARDS)
    op.drop_table(_CARDS)
