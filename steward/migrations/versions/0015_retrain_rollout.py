"""retrain-rollout: rollouts (immediate, shadow, canary) and rollbacks

Revision ID: 0015
Revises: 0014

A rollout row per model version rolled out to an endpoint (at most one active per endpoint, a
partial unique index), its scoring counts in a table of their own (bookkeeping every server adds
to in batches, not governed), and each project's deploy webhook with its secret sealed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
_ROLLOUTS = "retrain_rollouts"
_COUNTS = "retrain_rollout_counts"
_HOOKS = "retrain_deploy_webhooks"
_ACTIVE = sa.text("state = 'active'")


def _rollouts() -> None:
    op.create_table(
        _ROLLOUTS,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous_model", sa.String(length=200), nullable=True),
        sa.Column("previous_version", sa.Integer(), nullable=True),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("shadow_endpoint", sa.String(length=200), nullable=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("ended_by", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("end_reason", sa.Text(), nullable=False),
        sa.Column("approval_id", sa.Uuid(), nullable=True),
        sa.Column("gate_decision_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_rollouts")),
    )
    op.create_index(
        "ix_retrain_rollouts_endpoint", _ROLLOUTS, ["project", "endpoint", "started_at"]
    )
    op.create_index(
        "ux_retrain_rollouts_active", _ROLLOUTS, ["project", "endpoint"], unique=True,
        sqlite_where=_ACTIVE, postgresql_where=_ACTIVE,
    )  # fmt: skip
    op.create_index("ix_retrain_rollouts_state", _ROLLOUTS, ["state"])


def upgrade() -> None:
    _rollouts()
    op.create_table(
        _COUNTS,
        sa.Column("rollout_id", sa.Uuid(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            [f"{_ROLLOUTS}.id"],
            name=op.f("fk_retrain_rollout_counts_rollout_id_retrain_rollouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rollout_id", name=op.f("pk_retrain_rollout_counts")),
        info={"governed": False},
    )
    op.create_table(
        _HOOKS,
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=1000), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("project", name=op.f("pk_retrain_deploy_webhooks")),
    )


def downgrade() -> None:
    op.drop_table(_HOOKS)
    op.drop_table(_COUNTS)
    op.drop_index("ix_retrain_rollouts_state", table_name=_ROLLOUTS)
    op.drop_index("ux_retrain_rollouts_active", table_name=_ROLLOUTS)
    op.drop_index("ix_retrain_rollouts_endpoint", table_name=_ROLLOUTS)
    op.drop_table(_ROLLOUTS)
