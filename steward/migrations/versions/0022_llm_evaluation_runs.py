"""llm-evaluation-runs: prompt-variant evaluation runs, per-row and aggregate scores

Revision ID: 0022
Revises: 0021

An evaluation run (its variants pinned to prompt versions at launch, its state, its paired
comparisons) and one summary row per variant and evaluator. The per-row results are a dataset
version of the project (Parquet under its prefix), named by the run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
JSON = governance.core.db.CanonicalJSON()
_RUNS = "retrain_evaluations"
_AGGREGATES = "retrain_evaluation_aggregates"
_BEATS = "retrain_evaluation_heartbeats"


def upgrade() -> None:
    op.create_table(
        _RUNS,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("dataset", sa.String(length=300), nullable=False),
        sa.Column("dataset_version", sa.String(length=200), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("pipeline_run_id", sa.Uuid(), nullable=True),
        sa.Column("rows_dataset", sa.String(length=300), nullable=True),
        sa.Column("rows_version", sa.String(length=200), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("comparisons", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("ended_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_evaluations")),
    )
    op.create_index("ix_retrain_evaluations_project", _RUNS, ["project", "created_at"])
    op.create_table(
        _AGGREGATES,
        sa.Column("evaluation_id", sa.Uuid(), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("evaluator", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        *(sa.Column(c, sa.Float(), nullable=True) for c in (
            "mean", "std", "ci_low", "ci_high", "bootstrap_low", "bootstrap_high")),
        sa.ForeignKeyConstraint(
            ["evaluation_id"], [f"{_RUNS}.id"],
            name=op.f("fk_retrain_evaluation_aggregates_evaluation_id_retrain_evaluations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "evaluation_id", "variant", "evaluator", name=op.f("pk_retrain_evaluation_aggregates")
        ),
    )  # fmt: skip
    op.create_table(
        _BEATS,
        sa.Column("evaluation_id", sa.Uuid(), nullable=False),
        sa.Column("beat_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"], [f"{_RUNS}.id"],
            name=op.f("fk_retrain_evaluation_heartbeats_evaluation_id_retrain_evaluations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("evaluation_id", name=op.f("pk_retrain_evaluation_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table(_BEATS)
    op.drop_table(_AGGREGATES)
    op.drop_index("ix_retrain_evaluations_project", table_name=_RUNS)
    op.drop_table(_RUNS)
