"""retrain-approvals: approval requests and a project's deploy policy

Revision ID: 0014
Revises: 0013

A project's deploy policy says whether a challenger that passed its gate rolls out at once or
waits for an approval; an approval is asked once per pipeline run (unique run id).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
JSON = governance.core.db.CanonicalJSON()
_POLICIES = "retrain_deploy_policies"
_APPROVALS = "retrain_approvals"


def upgrade() -> None:
    op.create_table(
        _POLICIES,
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("approver_role", sa.String(length=32), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("project", name=op.f("pk_retrain_deploy_policies")),
    )
    op.create_table(
        _APPROVALS,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rollout", JSON, nullable=False),
        sa.Column("gate_decision_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("trigger_owner", sa.String(length=200), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("rollout_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_approvals")),
        sa.UniqueConstraint("run_id", name=op.f("uq_retrain_approvals_run_id")),
    )
    op.create_index("ix_retrain_approvals_project", _APPROVALS, ["project", "state", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_retrain_approvals_project", table_name=_APPROVALS)
    op.drop_table(_APPROVALS)
    op.drop_table(_POLICIES)
