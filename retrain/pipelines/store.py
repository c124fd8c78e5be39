"""SQL storage of pipelines and their runs; never commits.

A worker's every change to a run is a conditional UPDATE (on the state, and on the worker
holding the run): of two workers claiming one run one wins, and a worker whose run was
cancelled or declared orphaned learns it from an update that changed nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from governance.core.ids import new_id
from retrain.pipelines.models import PipelineRow, PipelineRunRow
from retrain.pipelines.schemas import Pipeline, PipelineRun, RunState, StepRun
from retrain.pipelines.spec import PipelineSpec
from retrain.plan import ReleasePlan

_QUEUED, _RUNNING = RunState.queued.value, RunState.running.value


@dataclass(frozen=True, kw_only=True, slots=True)
class RunCreate:
    """A run to queue."""

    project: str
    pipeline: Pipeline
    inputs: dict[str, Any]
    launched_by: str
    trigger_id: uuid.UUID | None
    trigger_owner: str | None
    launch_key: str | None
    plan: ReleasePlan | None
    now: datetime


def _pipeline(row: PipelineRow) -> Pipeline:
    return Pipeline(
        id=row.id, project=row.project, name=row.name, version=row.version, digest=row.digest,
        spec=PipelineSpec.model_validate(row.spec), created_by=row.created_by,
        created_at=row.created_at,
    )  # fmt: skip


def _run(row: PipelineRunRow) -> PipelineRun:
    return PipelineRun(
        id=row.id, project=row.project, pipeline=row.pipeline,
        pipeline_version=row.pipeline_version, state=RunState(row.state), inputs=row.inputs,
        outputs=row.outputs, steps=[StepRun.model_validate(s) for s in row.steps],
        launched_by=row.launched_by, trigger_id=row.trigger_id, trigger_owner=row.trigger_owner,
        launch_key=row.launch_key,
        plan=None if row.plan is None else ReleasePlan.model_validate(row.plan),
        runner=row.runner, worker=row.worker, created_at=row.created_at,
        started_at=row.started_at, ended_at=row.ended_at, heartbeat_at=row.heartbeat_at,
        error=row.error,
    )  # fmt: skip


class PipelineStore(Protocol):
    """Storage of pipeline versions and runs (inside the caller's transaction; no ORM leaves).

    The worker's changes (``heartbeat``, ``progress``, ``finish``) apply only while the run is
    running under that worker and return None/False otherwise.
    """

    def latest(self, project: str, name: str) -> Pipeline | None:
        """The newest version of a pipeline."""
        ...

    def version(self, project: str, name: str, version: int) -> Pipeline | None:
        """One version of a pipeline."""
        ...

    def add_version(self, pipeline: Pipeline) -> Pipeline:
        """Store a new version."""
        ...

    def add_run(self, data: RunCreate) -> PipelineRun:
        """Queue a run."""
        ...

    def run(self, run_id: uuid.UUID) -> PipelineRun | None:
        """One run."""
        ...

    def claim(self, run_id: uuid.UUID, *, worker: str, runner: str, now: datetime) -> bool:
        """Take a queued run for ``worker``; False when another took it first."""
        ...

    def list_latest(self, project: str) -> list[Pipeline]:
        """The newest version of every pipeline of a project, by name."""
        ...

    def run_by_key(self, launch_key: str) -> PipelineRun | None:
        """The run a launch key launched."""
        ...

    def list_runs(
        self, project: str, *, pipeline: str | None, state: RunState | None,
        before: tuple[datetime, uuid.UUID] | None, limit: int,
    ) -> list[PipelineRun]:  # fmt: skip
        """A project's runs, newest first, from before a (created_at, id) cursor."""
        ...

    def queued(self, *, limit: int) -> list[uuid.UUID]:
        """Queued runs, oldest first."""
        ...

    def stale(self, *, before: datetime, limit: int) -> list[uuid.UUID]:
        """Running runs whose heartbeat stopped before ``before``."""
        ...

    def heartbeat(self, run_id: uuid.UUID, *, worker: str, now: datetime) -> bool:
        """Say the worker is alive; False when the run is no longer its (cancelled, orphaned)."""
        ...

    def progress(
        self, run_id: uuid.UUID, *, worker: str, steps: list[StepRun], outputs: dict[str, Any],
        now: datetime,
    ) -> bool:  # fmt: skip
        """Store the steps' states and the outputs so far."""
        ...

    def finish(
        self, run_id: uuid.UUID, *, worker: str, state: RunState, error: str | None,
        now: datetime,
    ) -> bool:  # fmt: skip
        """End a run the worker holds."""
        ...

    def settle(
        self, run_id: uuid.UUID, *, worker: str, steps: list[StepRun], outputs: dict[str, Any]
    ) -> bool:
        """Store how the steps were left when the run was stopped under ``worker``."""
        ...

    def cancel(self, run_id: uuid.UUID, *, now: datetime) -> bool:
        """Cancel a run that has not ended."""
        ...

    def orphan(self, run_id: uuid.UUID, *, before: datetime, now: datetime) -> bool:
        """Declare a running run whose heartbeat is older than ``before`` orphaned."""
        ...


class SqlPipelineStore:
    """PipelineStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def latest(self, project: str, name: str) -> Pipeline | None:
        """The newest version of a pipeline."""
        query = select(PipelineRow).where(PipelineRow.project == project, PipelineRow.name == name)
        row = self.session.scalars(query.order_by(PipelineRow.version.desc()).limit(1)).first()
        return None if row is None else _pipeline(row)

    def version(self, project: str, name: str, version: int) -> Pipeline | None:
        """One version of a pipeline."""
        query = select(PipelineRow).where(
            PipelineRow.project == project,
            PipelineRow.name == name,
            PipelineRow.version == version,
        )
        row = self.session.scalars(query).first()
        return None if row is None else _pipeline(row)

    def list_latest(self, project: str) -> list[Pipeline]:
        """The newest version of every pipeline of a project, by name."""
        newest = (
            select(PipelineRow.name, func.max(PipelineRow.version).label("v"))
            .where(PipelineRow.project == project)
            .group_by(PipelineRow.name)
            .subquery()
        )
        same = and_(PipelineRow.name == newest.c.name, PipelineRow.version == newest.c.v)
        query = (
            select(PipelineRow)
            .join(newest, same)
            .where(PipelineRow.project == project)
            .order_by(PipelineRow.name)
        )
        return [_pipeline(r) for r in self.session.scalars(query)]

    def add_version(self, pipeline: Pipeline) -> Pipeline:
        """Store a new version."""
        row = PipelineRow(
            id=pipeline.id, project=pipeline.project, name=pipeline.name,
            version=pipeline.version, digest=pipeline.digest,
            spec=pipeline.spec.model_dump(mode="json"), created_by=pipeline.created_by,
            created_at=pipeline.created_at,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return _pipeline(row)

    def add_run(self, data: RunCreate) -> PipelineRun:
        """Queue a run, its steps pending."""
        steps = [StepRun(name=s.name).model_dump(mode="json") for s in data.pipeline.spec.steps]
        row = PipelineRunRow(
            id=new_id(), project=data.project, pipeline_id=data.pipeline.id,
            pipeline=data.pipeline.name, pipeline_version=data.pipeline.version, state=_QUEUED,
            inputs=data.inputs, outputs={}, steps=steps, launched_by=data.launched_by,
            trigger_id=data.trigger_id, trigger_owner=data.trigger_owner,
            launch_key=data.launch_key,
            plan=None if data.plan is None else data.plan.model_dump(mode="json"),
            created_at=data.now,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return _run(row)

    def run(self, run_id: uuid.UUID) -> PipelineRun | None:
        """One run."""
        row = self.session.get(PipelineRunRow, run_id, populate_existing=True)
        return None if row is None else _run(row)

    def run_by_key(self, launch_key: str) -> PipelineRun | None:
        """The run a launch key launched."""
        query = select(PipelineRunRow).where(PipelineRunRow.launch_key == launch_key)
        row = self.session.scalars(query).first()
        return None if row is None else _run(row)

    def list_runs(
        self, project: str, *, pipeline: str | None, state: RunState | None,
        before: tuple[datetime, uuid.UUID] | None, limit: int,
    ) -> list[PipelineRun]:  # fmt: skip
        """A project's runs, newest first, from before a (created_at, id) cursor."""
        query = select(PipelineRunRow).where(PipelineRunRow.project == project)
        if pipeline is not None:
            query = query.where(PipelineRunRow.pipeline == pipeline)
        if state is not None:
            query = query.where(PipelineRunRow.state == state.value)
        if before is not None:
            at, ident = before
            query = query.where(
                or_(
                    PipelineRunRow.created_at < at,
                    and_(PipelineRunRow.created_at == at, PipelineRunRow.id < ident),
                )
            )
        order = (PipelineRunRow.created_at.desc(), PipelineRunRow.id.desc())
        return [_run(r) for r in self.session.scalars(query.order_by(*order).limit(limit))]

    def queued(self, *, limit: int) -> list[uuid.UUID]:
        """Queued runs, oldest first."""
        query = select(PipelineRunRow.id).where(PipelineRunRow.state == _QUEUED)
        return list(self.session.scalars(query.order_by(PipelineRunRow.created_at).limit(limit)))

    def stale(self, *, before: datetime, limit: int) -> list[uuid.UUID]:
        """Running runs whose heartbeat stopped before ``before``."""
        query = select(PipelineRunRow.id).where(
            PipelineRunRow.state == _RUNNING, PipelineRunRow.heartbeat_at < before
        )
        return list(self.session.scalars(query.limit(limit)))

    def claim(self, run_id: uuid.UUID, *, worker: str, runner: str, now: datetime) -> bool:
        """Take a queued run for ``worker``; False when another took it first."""
        # PostgreSQL re-checks the condition on the row a concurrent claim just changed, and
        # SQLite runs one writer at a time: either way the second claim changes nothing.
        return self._change(
            run_id, PipelineRunRow.state == _QUEUED, state=_RUNNING, worker=worker,
            runner=runner, heartbeat_at=now, started_at=now,
        )  # fmt: skip

    def heartbeat(self, run_id: uuid.UUID, *, worker: str, now: datetime) -> bool:
        """Say the worker is alive; False when the run is no longer its (cancelled, orphaned)."""
        return self._change(run_id, self._held(worker), heartbeat_at=now)

    def progress(
        self, run_id: uuid.UUID, *, worker: str, steps: list[StepRun], outputs: dict[str, Any],
        now: datetime,
    ) -> bool:  # fmt: skip
        """Store the steps' states and the outputs so far."""
        return self._change(
            run_id, self._held(worker), steps=[s.model_dump(mode="json") for s in steps],
            outputs=outputs, heartbeat_at=now,
        )  # fmt: skip

    def finish(
        self, run_id: uuid.UUID, *, worker: str, state: RunState, error: str | None,
        now: datetime,
    ) -> bool:  # fmt: skip
        """End a run the worker holds."""
        return self._change(
            run_id, self._held(worker), state=state.value, error=error, ended_at=now,
            heartbeat_at=now,
        )  # fmt: skip

    def settle(
        self, run_id: uuid.UUID, *, worker: str, steps: list[StepRun], outputs: dict[str, Any]
    ) -> bool:
        """Store how the steps were left when the run was stopped under ``worker``."""
        stopped = and_(
            PipelineRunRow.worker == worker,
            PipelineRunRow.state.in_((RunState.cancelled.value, RunState.orphaned.value)),
        )
        return self._change(
            run_id, stopped, steps=[s.model_dump(mode="json") for s in steps], outputs=outputs
        )

    def cancel(self, run_id: uuid.UUID, *, now: datetime) -> bool:
        """Cancel a run that has not ended."""
        live = PipelineRunRow.state.in_((_QUEUED, _RUNNING))
        return self._change(run_id, live, state=RunState.cancelled.value, ended_at=now)

    def orphan(self, run_id: uuid.UUID, *, before: datetime, now: datetime) -> bool:
        """Declare a running run whose heartbeat is older than ``before`` orphaned."""
        stale = and_(PipelineRunRow.state == _RUNNING, PipelineRunRow.heartbeat_at < before)
        return self._change(
            run_id, stale, state=RunState.orphaned.value, ended_at=now,
            error="the worker running it stopped sending heartbeats",
        )  # fmt: skip

    @staticmethod
    def _held(worker: str) -> ColumnElement[bool]:
        return and_(PipelineRunRow.state == _RUNNING, PipelineRunRow.worker == worker)

    def _change(self, run_id: uuid.UUID, condition: ColumnElement[bool], **values: Any) -> bool:
        stmt = (
            update(PipelineRunRow)
            .where(PipelineRunRow.id == run_id, condition)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]
