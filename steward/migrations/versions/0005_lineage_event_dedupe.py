"""lineage-event-dedupe: raw OpenLineage events are unique per (project, fingerprint)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode rebuilds the table on SQLite (no ALTER of constraints there); direct on PostgreSQL.
    with op.batch_alter_table("lineage_events") as batch:
        batch.drop_constraint("uq_lineage_events_fingerprint", type_="unique")
        batch.create_unique_constraint("uq_lineage_events_project", ["project", "fingerprint"])


def downgrade() -> None:
    # Fails if one event was kept for two projects: that history cannot fit the old key.
    with op.batch_alter_table("lineage_events") as batch:
        batch.drop_constraint("uq_lineage_events_project", type_="unique")
        batch.create_unique_constraint("uq_lineage_events_fingerprint", ["fingerprint"])
