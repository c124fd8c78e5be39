"""reports: stored compliance reports

Revision ID: 0016
Revises: 0015

A row per stored, signed report file (model card or project governance report), the file itself
content-addressed under the report folder; scheduled reports carry a unique key (model version
and schedule fire time), so several daemons store exactly one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
_REPORTS = "reports"


def upgrade() -> None:
    op.create_table(
        _REPORTS,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.String(length=71), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("generated_at", UTC, nullable=False),
        sa.Column("generated_by", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("period_start", UTC, nullable=False),
        sa.Column("period_end", UTC, nullable=False),
        sa.Column("schedule_key", sa.String(length=400), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("schedule_key", name=op.f("uq_reports_schedule_key")),
    )
    op.create_index("ix_reports_project", _REPORTS, ["project", "generated_at"])
    op.create_index("ix_reports_model", _REPORTS, ["project", "model", "version"])


def downgrade() -> None:
    op.drop_index("ix_reports_model", table_name=_REPORTS)
    op.drop_index("ix_reports_project", table_name=_REPORTS)
    op.drop_table(_REPORTS)
