"""audit-blobs: large audit details stored once, by digest, append-only like the log

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_blobs",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", governance.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_audit_blobs")),
    )
    # The same guard as the other audit tables (0001): the database refuses to change history.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_blobs_append_only BEFORE UPDATE OR DELETE ON audit_blobs "
            "FOR EACH ROW EXECUTE FUNCTION steward_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_blobs_no_truncate BEFORE TRUNCATE ON audit_blobs "
            "FOR EACH STATEMENT EXECUTE FUNCTION steward_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_blobs_no_{event.lower()} BEFORE {event} ON audit_blobs "
            "BEGIN SELECT RAISE(ABORT, 'audit_blobs is append-only'); END"
        )


def downgrade() -> None:
    op.drop_table("audit_blobs")  # its triggers go with it
