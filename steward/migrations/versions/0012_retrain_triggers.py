"""retrain-triggers: triggers and their launches

Revision ID: 0012
Revises: 0011

A launch is unique per (trigger, key): a breach window or a fire time launches one pipeline
run however many daemons evaluate it. The progress table is bookkeeping (ungoverned).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
JSON = governance.core.db.CanonicalJSON()


def upgrade() -> None:
    op.create_table(
        "retrain_triggers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("active_since", UTC, nullable=False),
        sa.Column("last_fired_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_triggers")),
        sa.UniqueConstraint("project", "name", name=op.f("uq_retrain_triggers_project")),
    )
    op.create_table(
        "retrain_trigger_launches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("trigger_id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("launched_by", sa.String(length=200), nullable=False),
        sa.Column("launched_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["retrain_triggers.id"],
            name=op.f("fk_retrain_trigger_launches_trigger_id_retrain_triggers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_trigger_launches")),
        sa.UniqueConstraint(
            "trigger_id", "key", name=op.f("uq_retrain_trigger_launches_trigger_id")
        ),
    )
    op.create_index(
        "ix_retrain_trigger_launches_at", "retrain_trigger_launches", ["trigger_id", "at"]
    )
    op.create_table(
        "retrain_trigger_progress",
        sa.Column("trigger_id", sa.Uuid(), nullable=False),
        sa.Column("checked_until", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["retrain_triggers.id"],
            name=op.f("fk_retrain_trigger_progress_trigger_id_retrain_triggers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trigger_id", name=op.f("pk_retrain_trigger_progress")),
        info={"governed": False},
    )


def downgrade() -> None:
    op.drop_table("retrain_trigger_progress")
    op.drop_index("ix_retrain_trigger_launches_at", table_name="retrain_trigger_launches")
    op.drop_table("retrain_trigger_launches")
    op.drop_table("retrain_triggers")
