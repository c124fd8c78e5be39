"""monitors-capture-alerts: capture batches and totals, alerts, channels, deliveries

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from governance.core.db import CanonicalJSON, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = (
    "monitor_alert_deliveries",
    "monitor_capture_totals",
    "monitor_capture_batches",
    "monitor_alerts",
    "monitor_alert_channels",
)


def upgrade() -> None:
    op.create_table(
        "monitor_alert_channels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=256), nullable=False),
        sa.Column("min_severity", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alert_channels")),
        sa.UniqueConstraint("project", "name", name=op.f("uq_monitor_alert_channels_project")),
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("monitor", sa.String(length=128), nullable=False),
        sa.Column("signal", sa.String(length=200), nullable=False),
        sa.Column("active_key", sa.String(length=400), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("window_start", UTCDateTime(), nullable=True),
        sa.Column("window_end", UTCDateTime(), nullable=True),
        sa.Column("breach_count", sa.Integer(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_breach_at", UTCDateTime(), nullable=False),
        sa.Column("last_notified_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=256), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=256), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("details", CanonicalJSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alerts")),
        sa.UniqueConstraint("active_key", name=op.f("uq_monitor_alerts_active_key")),
    )
    op.create_index(
        "ix_monitor_alerts_project_opened", "monitor_alerts", ["project", "opened_at"], unique=False
    )
    op.create_table(
        "monitor_capture_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("days", CanonicalJSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_capture_batches")),
        info={"governed": False},
    )
    op.create_index(
        "ix_monitor_capture_batches_created",
        "monitor_capture_batches",
        ["project", "created_at"],
        unique=False,
    )
    op.create_index(
        "uq_monitor_capture_batches_hash",
        "monitor_capture_batches",
        ["project", "endpoint", "kind", "content_hash"],
        unique=True,
    )
    op.create_index(
        "uq_monitor_capture_batches_key",
        "monitor_capture_batches",
        ["project", "endpoint", "kind", "idempotency_key"],
        unique=True,
    )
    op.create_table(
        "monitor_capture_totals",
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("batches", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "project", "endpoint", "kind", name=op.f("pk_monitor_capture_totals")
        ),
        info={"governed": False},
    )
    op.create_table(
        "monitor_alert_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("payload", CanonicalJSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["monitor_alerts.id"],
            name=op.f("fk_monitor_alert_deliveries_alert_id_monitor_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alert_deliveries")),
        info={"governed": False},
    )
    op.create_index(
        op.f("ix_monitor_alert_deliveries_alert_id"),
        "monitor_alert_deliveries",
        ["alert_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_monitor_alert_deliveries_channel_id"),
        "monitor_alert_deliveries",
        ["channel_id"],
        unique=False,
    )
    op.create_index(
        "ix_monitor_alert_deliveries_due",
        "monitor_alert_deliveries",
        ["state", "next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
