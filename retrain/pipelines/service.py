"""Pipeline use cases: apply a spec (versioned), launch a run (idempotent on its key), read it,
cancel it, read a step's log, and declare runs orphaned whose worker went silent."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.cursor import decode_time_cursor, encode_time_cursor
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidState, NotFound
from governance.core.ids import new_id
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings
from retrain.pipelines.inputs import resolve_inputs
from retrain.pipelines.schemas import (
    AppliedPipeline,
    Launch,
    LogChunk,
    Pipeline,
    PipelineRun,
    PipelineRunPage,
    RunState,
)
from retrain.pipelines.spec import PipelineSpec, allowed_modules, spec_digest, validate_spec
from retrain.pipelines.store import RunCreate, SqlPipelineStore
from retrain.plan import ReleasePlan

_WALL = SystemClock()
# A worker beats every few seconds while it runs a step: one silent this long has died.
STALE_AFTER = timedelta(minutes=2)
MAX_LIST = 200
MAX_LOG_CHUNK = 256 * 1024
PIPELINES = "pipelines"


def run_root(settings: Settings, run_id: uuid.UUID) -> Path:
    """``<home>/pipelines/<run>``: the run's work directories and logs."""
    return Path(settings.home).resolve() / PIPELINES / str(run_id)


def step_workdir(settings: Settings, run_id: uuid.UUID, step: str) -> Path:
    """``<home>/pipelines/<run>/steps/<step>``: where a step reads its inputs and writes."""
    return run_root(settings, run_id) / "steps" / step


def log_path(settings: Settings, run_id: uuid.UUID, step: str) -> Path:
    """The log file of one step (outside its work directory, which the step controls)."""
    return run_root(settings, run_id) / "logs" / f"{step}.log"


def apply_pipeline(
    db: Database,
    *,
    settings: Settings,
    project: str,
    spec: PipelineSpec,
    actor: Principal,
    clock: Clock = _WALL,
) -> AppliedPipeline:
    """Store ``spec`` as the next version of its pipeline, unless it equals the newest one."""
    validate_spec(spec, allowed_modules=allowed_modules(settings.pipeline_modules))
    digest = spec_digest(spec)
    try:
        with db.transaction() as session:
            store = SqlPipelineStore(session)
            latest = store.latest(project, spec.name)
            if latest is not None and latest.digest == digest:
                return AppliedPipeline(pipeline=latest, created=False)
            created = store.add_version(
                Pipeline(
                    id=new_id(), project=project, name=spec.name,
                    version=1 if latest is None else latest.version + 1, digest=digest,
                    spec=spec, created_by=actor.ref, created_at=clock.now(),
                )
            )  # fmt: skip
            record_audit(
                session, actor=actor, action="pipeline.apply", project=project,
                target=f"pipeline:{spec.name}@{created.version}", details={"digest": digest},
            )  # fmt: skip
    except IntegrityError as exc:
        raise Conflict(f"pipeline {spec.name!r} was applied concurrently; retry") from exc
    return AppliedPipeline(pipeline=created, created=True)


def get_pipeline(db: Database, *, project: str, name: str, version: int | None = None) -> Pipeline:
    """One version of a pipeline (the newest when ``version`` is None)."""
    with db.read() as session:
        store = SqlPipelineStore(session)
        found = (
            store.latest(project, name)
            if version is None
            else store.version(project, name, version)
        )
    if found is None:
        raise NotFound(f"pipeline {name!r} version {version or 'latest'!r} not found")
    return found


def list_pipelines(db: Database, *, project: str) -> list[Pipeline]:
    """The newest version of every pipeline of a project, by name."""
    with db.read() as session:
        return SqlPipelineStore(session).list_latest(project)


def launch_run(
    db: Database,
    *,
    settings: Settings,
    project: str,
    pipeline: str,
    version: int | None = None,
    inputs: dict[str, Any] | None = None,
    actor: Principal,
    trigger: uuid.UUID | str | None = None,
    trigger_owner: str | Principal | None = None,
    launch_key: str | None = None,
    plan: ReleasePlan | None = None,
    clock: Clock = _WALL,
) -> Launch:
    """Queue a run with its inputs resolved; a launch key launches at most one run, ever.

    A second launch with a taken key returns the first run (``created`` False); of two racing
    launches with one key, the unique constraint lets one insert and the other returns its run.
    """
    if launch_key is not None and (taken := _by_key(db, launch_key, project)) is not None:
        return Launch(run=taken, created=False)
    found = get_pipeline(db, project=project, name=pipeline, version=version)
    validate_spec(
        found.spec, allowed_modules=allowed_modules(settings.pipeline_modules)
    )  # settings may change
    resolved = resolve_inputs(
        db, settings=settings, project=project, spec=found.spec, given=inputs, actor=actor,
        clock=clock,
    )  # fmt: skip
    owner = trigger_owner.ref if isinstance(trigger_owner, Principal) else trigger_owner
    data = RunCreate(
        project=project, pipeline=found, inputs=resolved, launched_by=actor.ref,
        trigger_id=None if trigger is None else uuid.UUID(str(trigger)), trigger_owner=owner,
        launch_key=launch_key, plan=plan, now=clock.now(),
    )  # fmt: skip
    try:
        with db.transaction() as session:
            run = SqlPipelineStore(session).add_run(data)
            record_audit(
                session, actor=actor, action="pipeline.run.launch", project=project,
                target=f"pipeline:{pipeline}@{found.version}", details=_launch_details(run),
            )  # fmt: skip
    except IntegrityError:
        if launch_key is None or (winner := _by_key(db, launch_key, project)) is None:
            raise
        return Launch(run=winner, created=False)
    return Launch(run=run, created=True)


def _by_key(db: Database, launch_key: str, project: str) -> PipelineRun | None:
    with db.read() as session:
        run = SqlPipelineStore(session).run_by_key(launch_key)
    if run is not None and run.project != project:
        raise Conflict("the launch key is taken", code="launch_key_taken")
    return run


def _launch_details(run: PipelineRun) -> dict[str, Any]:
    return {
        "run_id": str(run.id), "inputs": run.inputs, "launch_key": run.launch_key,
        "trigger_id": None if run.trigger_id is None else str(run.trigger_id),
        "trigger_owner": run.trigger_owner,
    }  # fmt: skip


def get_run(db: Database, *, project: str, run_id: uuid.UUID) -> PipelineRun:
    """One run of the project."""
    with db.read() as session:
        run = SqlPipelineStore(session).run(run_id)
    if run is None or run.project != project:
        raise NotFound("pipeline run not found")
    return run


def list_runs(
    db: Database,
    *,
    project: str,
    pipeline: str | None = None,
    state: RunState | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> PipelineRunPage:
    """A project's runs, newest first, in cursor pages."""
    limit = max(1, min(limit, MAX_LIST))
    with db.read() as session:
        runs = SqlPipelineStore(session).list_runs(
            project,
            pipeline=pipeline,
            state=state,
            before=decode_time_cursor(cursor),
            limit=limit + 1,
        )
    more = len(runs) > limit
    runs = runs[:limit]
    nxt = encode_time_cursor(runs[-1].created_at, runs[-1].id) if more else None
    return PipelineRunPage(items=runs, next_cursor=nxt)


def cancel_run(
    db: Database, *, project: str, run_id: uuid.UUID, actor: Principal, clock: Clock = _WALL
) -> PipelineRun:
    """Cancel a run: a queued one never starts, a running one is stopped by its worker."""
    run = get_run(db, project=project, run_id=run_id)
    if run.state is RunState.cancelled:
        return run
    with db.transaction() as session:
        store = SqlPipelineStore(session)
        if not store.cancel(run_id, now=clock.now()):
            raise InvalidState("the run has already ended", code="run_ended")
        record_audit(
            session, actor=actor, action="pipeline.run.cancel", project=project,
            target=f"pipeline:{run.pipeline}@{run.pipeline_version}",
            details={"run_id": str(run_id), "was": run.state.value},
        )  # fmt: skip
        cancelled = store.run(run_id)
    assert cancelled is not None
    return cancelled


def read_logs(
    db: Database,
    *,
    settings: Settings,
    project: str,
    run_id: uuid.UUID,
    step: str,
    offset: int = 0,
    limit: int = MAX_LOG_CHUNK,
) -> LogChunk:
    """A step's log from byte ``offset`` (at most ``limit`` bytes, whole lines when it can)."""
    run = get_run(db, project=project, run_id=run_id)
    state = next((s for s in run.steps if s.name == step), None)
    if state is None:
        raise NotFound(f"the run has no step {step!r}")
    data = _read_from(log_path(settings, run_id, step), max(0, offset), min(limit, MAX_LOG_CHUNK))
    if len(data) == min(limit, MAX_LOG_CHUNK) and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]  # the next read starts on a line
    ended = run.state.ended or state.state.value not in ("pending", "running")
    return LogChunk(
        step=step, text=data.decode("utf-8", errors="replace"), next_offset=offset + len(data),
        ended=ended,
    )  # fmt: skip


def _read_from(path: Path, offset: int, limit: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return b""
    with os.fdopen(fd, "rb") as fh:
        fh.seek(offset)
        return fh.read(limit)


def detect_orphans(
    db: Database, *, clock: Clock = _WALL, stale_after: timedelta = STALE_AFTER
) -> list[PipelineRun]:
    """Declare running runs orphaned whose heartbeat is older than ``stale_after``."""
    now = clock.now()
    before = now - stale_after
    with db.read() as session:  # a plain read first: an idle check takes no write lock
        stale = SqlPipelineStore(session).stale(before=before, limit=100)
    orphaned = []
    for run_id in stale:
        with db.transaction() as session:
            store = SqlPipelineStore(session)
            if not store.orphan(run_id, before=before, now=now):
                continue
            run = store.run(run_id)
            assert run is not None
            record_audit(
                session, actor=SYSTEM, action="pipeline.run.orphan", project=run.project,
                target=f"pipeline:{run.pipeline}@{run.pipeline_version}",
                details={"run_id": str(run_id), "worker": run.worker},
            )  # fmt: skip
        orphaned.append(run)
    return orphaned


def claim_run(
    db: Database, *, worker: str, runner: str, clock: Clock = _WALL
) -> PipelineRun | None:
    """Claim the oldest queued run for ``worker``; None when there is none."""
    with db.read() as session:  # a plain read first: an idle poll takes no write lock
        queued = SqlPipelineStore(session).queued(limit=5)
    for run_id in queued:
        with db.transaction() as session:
            store = SqlPipelineStore(session)
            if store.claim(run_id, worker=worker, runner=runner, now=clock.now()):
                return store.run(run_id)
    return None


SYSTEM = Principal(id=None, name="steward-pipeline", kind=PrincipalKind.system, via="pipeline")


def launcher(run: PipelineRun) -> Principal:
    """The principal that launched ``run``, as the actor of what its execution records."""
    kind, _, name = run.launched_by.partition(":")
    try:
        return Principal(id=None, name=name, kind=PrincipalKind(kind), via="pipeline")
    except ValueError:
        return SYSTEM
