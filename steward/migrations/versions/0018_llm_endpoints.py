"""llm-endpoints: endpoint kind (model or llm) and what trace ingest needs

Revision ID: 0018
Revises: 0017

An endpoint's kind is kept in its lineage node's attributes (``attrs.kind``, absent for the
model endpoints of before), like its description: endpoints have no table of their own, and a
column on every lineage node for one node kind would describe datasets and runs too. What trace
ingest needs in the database is each project's PII-redaction setting (no row: every built-in
rule on).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
JSON = governance.core.db.CanonicalJSON()
_REDACTION = "monitor_trace_redaction"


def upgrade() -> None:
    op.create_table(
        _REDACTION,
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("builtins", JSON, nullable=False),
        sa.Column("custom", JSON, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("project", name=op.f("pk_monitor_trace_redaction")),
    )


def downgrade() -> None:
    op.drop_table(_REDACTION)
