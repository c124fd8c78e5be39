"""Storage of evaluation runs and their aggregates (inside the caller's transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from monitors.evaluators.schemas import EvaluatorName
from retrain.evaluation.models import (
    EvaluationAggregateRow,
    EvaluationHeartbeatRow,
    EvaluationRow,
)
from retrain.evaluation.schemas import (
    Aggregate,
    Comparison,
    Evaluation,
    EvaluationState,
    ResolvedVariant,
)


class EvaluationStore(Protocol):
    """Evaluation runs of every project; reads return schemas, never rows."""

    def add(self, evaluation: Evaluation) -> Evaluation:
        """Store a new (queued) evaluation."""
        ...

    def get(self, evaluation_id: uuid.UUID) -> Evaluation | None:
        """One evaluation with its aggregates."""
        ...

    def list_for(
        self, project: str, *, before: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Evaluation]:
        """A project's evaluations, newest first, from before a (created_at, id) cursor."""
        ...

    def move(
        self, evaluation_id: uuid.UUID, *, frm: tuple[EvaluationState, ...],
        to: EvaluationState, **changes: Any,
    ) -> bool:  # fmt: skip
        """Change the state (and columns) when it is one of ``frm``; False otherwise."""
        ...

    def beat(self, evaluation_id: uuid.UUID, *, at: datetime) -> None:
        """The generating server is alive."""
        ...

    def stale_generating(self, *, before: datetime, limit: int) -> list[uuid.UUID]:
        """Generating runs whose heartbeat is older than ``before``."""
        ...

    def interrupt(self, evaluation_id: uuid.UUID, *, before: datetime, now: datetime) -> bool:
        """Fail a generating run whose heartbeat is still older than ``before``."""
        ...

    def by_pipeline_run(self, run_id: uuid.UUID) -> Evaluation | None:
        """The evaluation whose statistics pipeline run is ``run_id``."""
        ...

    def complete(
        self, evaluation_id: uuid.UUID, *, aggregates: list[Aggregate],
        comparisons: list[Comparison], now: datetime,
    ) -> bool:  # fmt: skip
        """Keep the results of a running evaluation and mark it succeeded."""
        ...


class SqlEvaluationStore:
    """EvaluationStore on SQLAlchemy."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, evaluation: Evaluation) -> Evaluation:
        """Store a new (queued) evaluation."""
        e = evaluation
        self.session.add(
            EvaluationRow(
                id=e.id, project=e.project, state=e.state.value, dataset=e.dataset,
                dataset_version=e.dataset_version, config=_config(e), pipeline_run_id=None,
                rows_dataset=None, rows_version=None, rows=0, comparisons=[], error=None,
                created_by=e.created_by, created_at=e.created_at, ended_at=None,
            )
        )  # fmt: skip
        self.session.flush()
        return evaluation

    def get(self, evaluation_id: uuid.UUID) -> Evaluation | None:
        """One evaluation with its aggregates."""
        row = self.session.get(EvaluationRow, evaluation_id, populate_existing=True)
        return None if row is None else self._schema(row)

    def list_for(
        self, project: str, *, before: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Evaluation]:
        """A project's evaluations, newest first, from before a (created_at, id) cursor."""
        query = select(EvaluationRow).where(EvaluationRow.project == project)
        if before is not None:
            query = query.where(tuple_(EvaluationRow.created_at, EvaluationRow.id) < before)
        query = query.order_by(EvaluationRow.created_at.desc(), EvaluationRow.id.desc())
        return [self._schema(r) for r in self.session.scalars(query.limit(limit))]

    def move(
        self, evaluation_id: uuid.UUID, *, frm: tuple[EvaluationState, ...],
        to: EvaluationState, **changes: Any,
    ) -> bool:  # fmt: skip
        """Change the state (and columns) when it is one of ``frm``; False otherwise."""
        result = self.session.execute(
            update(EvaluationRow)
            .where(EvaluationRow.id == evaluation_id,
                   EvaluationRow.state.in_([s.value for s in frm]))
            .values(state=to.value, **changes)
        )  # fmt: skip
        return bool(getattr(result, "rowcount", 0))

    def beat(self, evaluation_id: uuid.UUID, *, at: datetime) -> None:
        """The generating server is alive."""
        row = self.session.get(EvaluationHeartbeatRow, evaluation_id)
        if row is None:
            self.session.add(EvaluationHeartbeatRow(evaluation_id=evaluation_id, beat_at=at))
        else:
            row.beat_at = max(row.beat_at, at)
        self.session.flush()

    def stale_generating(self, *, before: datetime, limit: int) -> list[uuid.UUID]:
        """Generating runs whose heartbeat is older than ``before``."""
        query = (
            select(EvaluationRow.id)
            .join(EvaluationHeartbeatRow,
                  EvaluationHeartbeatRow.evaluation_id == EvaluationRow.id)
            .where(EvaluationRow.state == EvaluationState.generating.value,
                   EvaluationHeartbeatRow.beat_at < before)
        )  # fmt: skip
        return list(self.session.scalars(query.limit(limit)))

    def interrupt(self, evaluation_id: uuid.UUID, *, before: datetime, now: datetime) -> bool:
        """Fail a generating run whose heartbeat is still older than ``before``."""
        stale = select(EvaluationHeartbeatRow.evaluation_id).where(
            EvaluationHeartbeatRow.evaluation_id == evaluation_id,
            EvaluationHeartbeatRow.beat_at < before,
        )
        result = self.session.execute(
            update(EvaluationRow)
            .where(EvaluationRow.id == evaluation_id,
                   EvaluationRow.state == EvaluationState.generating.value,
                   EvaluationRow.id.in_(stale))
            .values(state=EvaluationState.failed.value, ended_at=now,
                    error="interrupted: the server generating the answers stopped")
        )  # fmt: skip
        return bool(getattr(result, "rowcount", 0))

    def by_pipeline_run(self, run_id: uuid.UUID) -> Evaluation | None:
        """The evaluation whose statistics pipeline run is ``run_id``."""
        row = self.session.scalars(
            select(EvaluationRow).where(EvaluationRow.pipeline_run_id == run_id)
        ).first()
        return None if row is None else self._schema(row)

    def complete(
        self, evaluation_id: uuid.UUID, *, aggregates: list[Aggregate],
        comparisons: list[Comparison], now: datetime,
    ) -> bool:  # fmt: skip
        """Keep the results of a running evaluation and mark it succeeded."""
        moved = self.move(
            evaluation_id, frm=(EvaluationState.running,), to=EvaluationState.succeeded,
            comparisons=[c.model_dump(mode="json") for c in comparisons], ended_at=now,
        )  # fmt: skip
        if moved:
            self.session.add_all(
                EvaluationAggregateRow(evaluation_id=evaluation_id, **a.model_dump(mode="json"))
                for a in aggregates
            )
            self.session.flush()
        return moved

    def _schema(self, row: EvaluationRow) -> Evaluation:
        found = self.session.scalars(
            select(EvaluationAggregateRow)
            .where(EvaluationAggregateRow.evaluation_id == row.id)
            .order_by(EvaluationAggregateRow.evaluator, EvaluationAggregateRow.variant)
        )
        config = row.config
        return Evaluation(
            id=row.id, project=row.project, state=EvaluationState(row.state),
            dataset=row.dataset, dataset_version=row.dataset_version,
            variants=[ResolvedVariant.model_validate(v) for v in config["variants"]],
            evaluators=config["evaluators"], judge_connection=config["judge_connection"],
            sample=config["sample"], alpha=config["alpha"], query_column=config["query_column"],
            pipeline_run_id=row.pipeline_run_id, rows_dataset=row.rows_dataset,
            rows_version=row.rows_version, rows=row.rows,
            aggregates=[_aggregate(a) for a in found],
            comparisons=[Comparison.model_validate(c) for c in row.comparisons],
            error=row.error, created_by=row.created_by, created_at=row.created_at,
            ended_at=row.ended_at,
        )  # fmt: skip


def _config(e: Evaluation) -> dict[str, Any]:
    return {
        "variants": [v.model_dump(mode="json") for v in e.variants],
        "evaluators": [x.value for x in e.evaluators], "judge_connection": e.judge_connection,
        "sample": e.sample, "alpha": e.alpha, "query_column": e.query_column,
    }  # fmt: skip


def _aggregate(row: EvaluationAggregateRow) -> Aggregate:
    return Aggregate(
        variant=row.variant, evaluator=EvaluatorName(row.evaluator), n=row.n, failures=row.failures,
        mean=row.mean, std=row.std, ci_low=row.ci_low, ci_high=row.ci_high,
        bootstrap_low=row.bootstrap_low, bootstrap_high=row.bootstrap_high,
    )  # fmt: skip
