"""monitor-reruns: a window may run again; the earlier run stays, linked to the rerun

Revision ID: 0008
Revises: 0007

The exactly-once key of a run grows an ``attempt``: a plain claim is attempt 0 (so two daemons
racing for a window still collide), a rerun is the next attempt (so two racing reruns collide
too). ``superseded_by`` links an earlier run to the run that replaced it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_UNIQUE = "uq_monitor_runs_monitor_id"
_LINK = "fk_monitor_runs_superseded_by_monitor_runs"


def upgrade() -> None:
    with op.batch_alter_table("monitor_runs") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("superseded_by", sa.Uuid(), nullable=True))
        batch.drop_constraint(_UNIQUE, type_="unique")
        batch.create_unique_constraint(_UNIQUE, ["monitor_id", "window_end", "attempt"])
        batch.create_foreign_key(
            _LINK, "monitor_runs", ["superseded_by"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    # Superseded runs cannot live under the one-run-per-window key: they go, the latest stays.
    op.execute("DELETE FROM monitor_runs WHERE superseded_by IS NOT NULL")
    with op.batch_alter_table("monitor_runs") as batch:
        batch.drop_constraint(_LINK, type_="foreignkey")
        batch.drop_constraint(_UNIQUE, type_="unique")
        batch.create_unique_constraint(_UNIQUE, ["monitor_id", "window_end"])
        batch.drop_column("superseded_by")
        batch.drop_column("attempt")
