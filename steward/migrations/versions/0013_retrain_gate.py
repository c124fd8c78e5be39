"""retrain-gate: evaluation gate decisions

Revision ID: 0013
Revises: 0012

A decision is kept with every number it was made from (the holdout's provenance, both models'
metrics, each threshold and fairness check), so a release can be explained later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
JSON = governance.core.db.CanonicalJSON()
_TABLE = "retrain_gate_decisions"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("endpoint", sa.String(length=200), nullable=True),
        sa.Column("challenger_model", sa.String(length=200), nullable=False),
        sa.Column("challenger_version", sa.Integer(), nullable=False),
        sa.Column("champion_model", sa.String(length=200), nullable=True),
        sa.Column("champion_version", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("decided_at", UTC, nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_gate_decisions")),
    )
    op.create_index("ix_retrain_gate_decisions_project", _TABLE, ["project", "id"])
    op.create_index("ix_retrain_gate_decisions_run", _TABLE, ["project", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_retrain_gate_decisions_run", table_name=_TABLE)
    op.drop_index("ix_retrain_gate_decisions_project", table_name=_TABLE)
    op.drop_table(_TABLE)
