"""monitor-backfills: backfills run as jobs with progress

Revision ID: 0009
Revises: 0008

A backfill is a row a worker claims (a conditional UPDATE that one process wins), runs window by
window with its progress and heartbeat, and ends; a worker that died leaves a stale heartbeat,
and the row is claimed again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
_TABLE = "monitor_backfills"
_COUNTS = ("windows_done", "created", "existing", "rerun_count", "breached", "failed")


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("monitor_id", sa.Uuid(), nullable=False),
        sa.Column("monitor", sa.String(length=64), nullable=False),
        sa.Column("since", UTC, nullable=False),
        sa.Column("until", UTC, nullable=False),
        sa.Column("rerun", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("windows_total", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("heartbeat_at", UTC, nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitor_specs.id"],
            name=op.f("fk_monitor_backfills_monitor_id_monitor_specs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_backfills")),
        info={"governed": False},
    )
    op.create_index("ix_monitor_backfills_status", _TABLE, ["status", "created_at"])
    op.create_index("ix_monitor_backfills_monitor", _TABLE, ["monitor_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_monitor_backfills_monitor", table_name=_TABLE)
    op.drop_index("ix_monitor_backfills_status", table_name=_TABLE)
    op.drop_table(_TABLE)
