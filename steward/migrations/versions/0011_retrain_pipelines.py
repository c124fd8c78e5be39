"""retrain-pipelines: pipelines, their versions, runs and step runs

Revision ID: 0011
Revises: 0010

A pipeline version is a spec row (project, name, version unique); a run is a row a worker
claims with a conditional UPDATE, keeps alive with a heartbeat and ends; its steps, resolved
inputs and outputs are JSON on the row. The unique launch key makes a keyed launch happen once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
JSON = governance.core.db.CanonicalJSON()
_PIPELINES = "retrain_pipelines"
_RUNS = "retrain_pipeline_runs"


def upgrade() -> None:
    op.create_table(
        _PIPELINES,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_pipelines")),
        sa.UniqueConstraint(
            "project", "name", "version", name=op.f("uq_retrain_pipelines_project")
        ),
    )
    op.create_index("ix_retrain_pipelines_digest", _PIPELINES, ["project", "name", "digest"])
    op.create_table(
        _RUNS,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("pipeline", sa.String(length=64), nullable=False),
        sa.Column("pipeline_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("outputs", JSON, nullable=False),
        sa.Column("steps", JSON, nullable=False),
        sa.Column("launched_by", sa.String(length=200), nullable=False),
        sa.Column("trigger_id", sa.Uuid(), nullable=True),
        sa.Column("trigger_owner", sa.String(length=200), nullable=True),
        sa.Column("launch_key", sa.String(length=300), nullable=True),
        sa.Column("plan", JSON, nullable=True),
        sa.Column("runner", sa.String(length=64), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("heartbeat_at", UTC, nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            [f"{_PIPELINES}.id"],
            name=op.f("fk_retrain_pipeline_runs_pipeline_id_retrain_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_pipeline_runs")),
        sa.UniqueConstraint("launch_key", name=op.f("uq_retrain_pipeline_runs_launch_key")),
        info={"governed": False},
    )
    op.create_index("ix_retrain_pipeline_runs_state", _RUNS, ["state", "created_at"])
    op.create_index("ix_retrain_pipeline_runs_project", _RUNS, ["project", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_retrain_pipeline_runs_project", table_name=_RUNS)
    op.drop_index("ix_retrain_pipeline_runs_state", table_name=_RUNS)
    op.drop_table(_RUNS)
    op.drop_index("ix_retrain_pipelines_digest", table_name=_PIPELINES)
    op.drop_table(_PIPELINES)
