"""llm-evaluators: judge connections, budgets and the judge-answer cache

Revision ID: 0019
Revises: 0018

A project's named OpenAI-compatible connections (the key only sealed, or named as an
environment variable), each connection's judge calls per UTC day, and judge verdicts keyed by
SHA-256 of (project, evaluator, prompt version, model, inputs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import governance.core.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UTC = governance.core.db.UTCDateTime()
_CONNECTIONS = "monitors_llm_connections"
_BUDGETS = "monitors_llm_budgets"
_CACHE = "monitors_llm_judge_cache"


def upgrade() -> None:
    op.create_table(
        _CONNECTIONS,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("base_url", sa.String(length=2000), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("key_env", sa.String(length=128), nullable=True),
        sa.Column("sealed_key", sa.String(length=8000), nullable=True),
        sa.Column("daily_budget", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitors_llm_connections")),
        sa.UniqueConstraint("project", "name", name=op.f("uq_monitors_llm_connections_project")),
    )  # fmt: skip
    op.create_table(
        _BUDGETS,
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "day", name=op.f("pk_monitors_llm_budgets")),
        info={"governed": False},
    )  # fmt: skip
    op.create_table(
        _CACHE,
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("evaluator", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_monitors_llm_judge_cache")),
        info={"governed": False},
    )  # fmt: skip
    op.create_index("ix_monitors_llm_judge_cache_project", _CACHE, ["project"])


def downgrade() -> None:
    op.drop_index("ix_monitors_llm_judge_cache_project", table_name=_CACHE)
    op.drop_table(_CACHE)
    op.drop_table(_BUDGETS)
    op.drop_table(_CONNECTIONS)
