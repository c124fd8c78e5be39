"""project-settings: a project's alert cooldown, editable with its retention

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_projects") as batch:
        batch.add_column(sa.Column("alert_cooldown_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_projects") as batch:
        batch.drop_column("alert_cooldown_seconds")
