"""monitors-scheduling: monitor specs, runs, results time series, daemon leader lease

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
JSON = governance.core.db.CanonicalJSON()


def upgrade() -> None:
    op.create_table(
        "monitor_specs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_specs")),
        sa.UniqueConstraint("project", "name", name=op.f("uq_monitor_specs_project")),
    )
    op.create_index(op.f("ix_monitor_specs_project"), "monitor_specs", ["project"])
    op.create_table(
        "monitor_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("monitor_id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("window_start", UTC, nullable=False),
        sa.Column("window_end", UTC, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("reference_rows", sa.Integer(), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("reference", sa.String(length=300), nullable=False),
        sa.Column("lineage_ref", sa.String(length=300), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitor_specs.id"],
            name=op.f("fk_monitor_runs_monitor_id_monitor_specs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_runs")),
        sa.UniqueConstraint("monitor_id", "window_end", name=op.f("uq_monitor_runs_monitor_id")),
    )
    op.create_index(op.f("ix_monitor_runs_project"), "monitor_runs", ["project"])
    op.create_table(
        "monitor_results",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("monitor_id", sa.Uuid(), nullable=False),
        sa.Column("window_end", UTC, nullable=False),
        sa.Column("signal", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitor_specs.id"],
            name=op.f("fk_monitor_results_monitor_id_monitor_specs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["monitor_runs.id"],
            name=op.f("fk_monitor_results_run_id_monitor_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_results")),
    )
    op.create_index(op.f("ix_monitor_results_run_id"), "monitor_results", ["run_id"])
    op.create_index("ix_monitor_results_series", "monitor_results", ["monitor_id", "window_end"])
    op.create_table(
        "monitor_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("acquired_at", UTC, nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_monitor_leases")),
    )


def downgrade() -> None:
    op.drop_table("monitor_leases")
    op.drop_index("ix_monitor_results_series", table_name="monitor_results")
    op.drop_index(op.f("ix_monitor_results_run_id"), table_name="monitor_results")
    op.drop_table("monitor_results")
    op.drop_index(op.f("ix_monitor_runs_project"), table_name="monitor_runs")
    op.drop_table("monitor_runs")
    op.drop_index(op.f("ix_monitor_specs_project"), table_name="monitor_specs")
    op.drop_table("monitor_specs")
