"""Executing a claimed run: its steps in dependency order, each on the runner, each recorded.

A heartbeat thread keeps the claim alive while a step runs; when the heartbeat finds the run no
longer held (cancelled, or declared orphaned) the runner is told to stop. Each step is a lineage
run of job ``pipeline.<name>.<step>`` (its inputs and outputs as nodes) under the run of job
``pipeline.<name>``; its outputs become dataset and model versions; its log is a file read by
offset. The first failing step fails the run and the later ones never start.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from governance.audit.service import record_audit
from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import StewardError
from governance.core.ids import new_id
from governance.core.principal import Principal
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import NodeRef
from lineage.schemas import RunState as LineageState
from retrain.pipelines.schemas import PipelineRun, RunState, StepRun, StepState
from retrain.pipelines.service import get_pipeline, launcher, log_path, run_root, step_workdir
from retrain.pipelines.spec import StepSpec, allowed_modules, validate_spec
from retrain.pipelines.store import SqlPipelineStore
from retrain.pipelines.workspace import (
    Produced,
    StepFailure,
    StepScope,
    collect_outputs,
    failure_text,
    place_arguments,
)
from retrain.runners.base import ResourceLimits, StepRunner, StepStatus, StepTask

log = logging.getLogger(__name__)
NAMESPACE = "steward.pipelines"
BEAT_EVERY = 5.0


class Heartbeat:
    """Beats for a held run in a thread; ``lost`` turns true once the run is not held any more."""

    def __init__(self, db: Database, run_id: UUID, worker: str, clock: Clock, every: float) -> None:
        self.db, self.run_id, self.worker, self.clock, self.every = db, run_id, worker, clock, every
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pipeline-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def lost(self) -> bool:
        """Whether the run was cancelled or taken from this worker."""
        return self._lost.is_set()

    def mark_lost(self) -> None:
        """Note that the run is no longer held (an update found it so)."""
        self._lost.set()

    def beat(self) -> None:
        """Beat once (``lost`` turns true when the run is no longer held)."""
        with self.db.transaction() as session:
            held = SqlPipelineStore(session).heartbeat(
                self.run_id, worker=self.worker, now=self.clock.now()
            )
        if not held:
            self._lost.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.every) and not self._lost.is_set():
            try:
                self.beat()
            except Exception:  # a lost connection: try again at the next beat
                log.exception("pipeline run %s: heartbeat failed", self.run_id)


@dataclass(kw_only=True)
class _Run:
    """A run while it executes: where things go, its steps and outputs so far."""

    db: Database
    settings: Settings
    run: PipelineRun
    worker: str
    runner: StepRunner
    clock: Clock
    beat: Heartbeat
    actor: Principal
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def set_step(self, name: str, **changes: Any) -> None:
        self.steps = [s.model_copy(update=changes) if s.name == name else s for s in self.steps]

    def save(self) -> None:
        with self.db.transaction() as session:
            held = SqlPipelineStore(session).progress(
                self.run.id, worker=self.worker, steps=self.steps, outputs=self.outputs,
                now=self.clock.now(),
            )  # fmt: skip
        if not held:
            self.beat.mark_lost()


def execute_run(
    db: Database,
    *,
    settings: Settings,
    run: PipelineRun,
    worker: str,
    runner: StepRunner,
    clock: Clock,
    beat_every: float = BEAT_EVERY,
) -> PipelineRun:
    """Run the steps of a run ``worker`` claimed; the run as it ended."""
    try:
        pipeline = get_pipeline(
            db, project=run.project, name=run.pipeline, version=run.pipeline_version
        )
        order = validate_spec(
            pipeline.spec, allowed_modules=allowed_modules(settings.pipeline_modules)
        )
    except StewardError as exc:
        return _finish(db, run, worker, clock, RunState.failed, exc.detail, run.steps, {})
    with Heartbeat(db, run.id, worker, clock, beat_every) as beat:
        state = _Run(
            db=db, settings=settings, run=run, worker=worker, runner=runner, clock=clock,
            beat=beat, actor=launcher(run), steps=list(run.steps),
        )  # fmt: skip
        _record_parent(state, LineageState.running)
        error = None
        for step in order:
            if beat.lost():
                break
            error = _execute_step(state, step)
            if error is not None:
                error = f"step {step.name}: {error}"[:500]
                break
    if beat.lost():
        return _settle(state)
    steps = [s.model_copy(update={"state": StepState.skipped}) if s.state is StepState.pending
             else s for s in state.steps]  # fmt: skip
    final = RunState.failed if error else RunState.succeeded
    _record_parent(state, LineageState.fail if error else LineageState.complete)
    ended = _finish(db, run, worker, clock, final, error, steps, state.outputs)
    if ended.state is RunState.succeeded:
        # its outputs are stored (artifacts and datasets copied in): the step folders are
        # scratch now; a failed run keeps them for whoever looks into it, and logs stay
        shutil.rmtree(run_root(settings, run.id) / "steps", ignore_errors=True)
    return ended


def _execute_step(state: _Run, step: StepSpec) -> str | None:
    """Run one step and register its outputs; None when it succeeded, else one line why."""
    lineage_run = new_id()
    state.set_step(step.name, state=StepState.running, started_at=state.clock.now(),
                   lineage_run_id=lineage_run)  # fmt: skip
    state.save()
    workdir = step_workdir(state.settings, state.run.id, step.name)
    workdir.mkdir(parents=True, exist_ok=True)
    scope = StepScope(
        db=state.db, settings=state.settings, project=state.run.project,
        pipeline=state.run.pipeline, run_id=state.run.id, step=step, workdir=workdir,
        actor=state.actor, clock=state.clock,
    )  # fmt: skip
    error, produced = None, Produced()
    try:
        arguments = place_arguments(scope, inputs=state.run.inputs, outputs=state.outputs)
        training = _record_step(state, step, lineage_run, LineageState.running, arguments, None)
        status, error, returned = _run_task(state, step, arguments, workdir)
        if status is StepStatus.succeeded:
            produced = collect_outputs(
                scope, returned=returned, lineage_run=lineage_run, training=training
            )
    except Exception as exc:  # a refused input or output fails this step, never the worker
        if not isinstance(exc, StepFailure | StewardError | OSError):
            log.exception("pipeline run %s step %s failed", state.run.id, step.name)
        status, error = StepStatus.failed, failure_text(exc)
    ended = _step_state(status, error)
    _record_step(state, step, lineage_run, _lineage_state(ended), {}, produced, error)
    state.outputs.update(produced.outputs)
    state.set_step(step.name, state=ended, ended_at=state.clock.now(), error=error)
    state.save()
    if ended is StepState.cancelled:
        return None if state.beat.lost() else "cancelled"
    return error if ended is not StepState.succeeded else None


def _step_state(status: StepStatus, error: str | None) -> StepState:
    if status is StepStatus.succeeded and error is None:
        return StepState.succeeded
    return StepState.cancelled if status is StepStatus.cancelled else StepState.failed


def _lineage_state(state: StepState) -> LineageState:
    return {StepState.succeeded: LineageState.complete,
            StepState.cancelled: LineageState.abort}.get(state, LineageState.fail)  # fmt: skip


def _run_task(
    state: _Run, step: StepSpec, arguments: dict[str, Any], workdir: Path
) -> tuple[StepStatus, str | None, dict[str, Any]]:
    settings = state.settings
    timeout = min(step.timeout or settings.pipeline_step_timeout_seconds,
                  settings.pipeline_step_timeout_seconds)  # fmt: skip
    memory = settings.pipeline_memory_bytes
    if step.memory_bytes is not None:
        memory = step.memory_bytes if memory is None else min(memory, step.memory_bytes)
    task = StepTask(
        run_id=state.run.id, step=step.name, function=step.function, arguments=arguments,
        outputs={k: v.kind.value for k, v in step.outputs.items()}, workdir=workdir,
        limits=ResourceLimits(timeout_seconds=timeout, memory_bytes=memory),
        allowed_modules=allowed_modules(settings.pipeline_modules),
        python_path=tuple(Path(p) for p in settings.pipeline_path),
    )  # fmt: skip
    with _log_file(log_path(settings, state.run.id, step.name)) as write:
        outcome = state.runner.run(task, on_log=write, cancelled=state.beat.lost)
    error = None if outcome.error is None else outcome.error.splitlines()[0][:400]
    if outcome.status is StepStatus.timed_out:
        error = error or f"timed out after {timeout:g} s"
    elif outcome.status is not StepStatus.succeeded:
        error = error or outcome.status.value
    return outcome.status, error, dict(outcome.outputs)


class _log_file:
    """Append lines to a step's log file (created 0600, never through a link)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        self._fh = os.fdopen(os.open(path, flags, 0o600), "a", encoding="utf-8")
        self._lock = threading.Lock()

    def __enter__(self) -> Callable[[str], None]:
        return self.write

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def write(self, line: str) -> None:
        with self._lock:  # runners may stream stdout and stderr from two threads
            self._fh.write(line.rstrip("\n") + "\n")
            self._fh.flush()


def _node_refs(state: _Run, session: Any, values: list[Any]) -> list[NodeRef]:
    refs = []
    project = state.run.project
    for value in values:
        if isinstance(value, dict) and value.get("kind") == "dataset":
            refs.append(
                lineage.dataset_version_ref(
                    session, project=project, name=value["name"], version=value["version"]
                )
            )
        elif isinstance(value, dict) and value.get("kind") == "model":
            refs.append(
                lineage.model_version_ref(
                    session, project=project, model=value["name"], version=int(value["version"])
                )
            )
    return refs  # fmt: skip


def _record_step(
    state: _Run, step: StepSpec, lineage_run: UUID, status: LineageState,
    arguments: dict[str, Any], produced: Produced | None, error: str | None = None,
) -> list[UUID]:  # fmt: skip
    """Record the step's lineage run; the ids of the dataset versions it read."""
    outputs = [] if produced is None else (
        [{"kind": "dataset", "name": n, "version": v} for n, v in produced.datasets]
        + [{"kind": "model", "name": n, "version": v} for n, v in produced.models]
    )  # fmt: skip
    now = state.clock.now()
    with state.db.transaction() as session:
        inputs = _node_refs(state, session, list(arguments.values()))
        lineage.record_run(
            session, project=state.run.project, job_namespace=NAMESPACE,
            job_name=f"pipeline.{state.run.pipeline}.{step.name}", run_id=lineage_run,
            state=status, inputs=inputs, outputs=_node_refs(state, session, outputs),
            started_at=now if status is LineageState.running else None,
            ended_at=None if status is LineageState.running else now,
            facets={"parent": _parent(state), "steward_pipeline_step": {
                "step": step.name, "function": step.function, "error": error}},
            actor=state.actor, clock=state.clock,
        )  # fmt: skip
    return [r.id for r in inputs if r.kind.value == "dataset_version"]


def _parent(state: _Run) -> dict[str, Any]:
    return {"run": {"runId": str(state.run.id)},
            "job": {"namespace": NAMESPACE, "name": f"pipeline.{state.run.pipeline}"}}  # fmt: skip


def _record_parent(state: _Run, status: LineageState) -> None:
    run = state.run
    now = state.clock.now()
    with state.db.transaction() as session:
        lineage.record_run(
            session, project=run.project, job_namespace=NAMESPACE,
            job_name=f"pipeline.{run.pipeline}", run_id=run.id, state=status,
            started_at=run.started_at or now,
            ended_at=None if status is LineageState.running else now,
            facets={"steward_pipeline": {"pipeline": run.pipeline,
                                         "version": run.pipeline_version}},
            actor=state.actor, clock=state.clock,
        )  # fmt: skip


def _settle(state: _Run) -> PipelineRun:
    """The run was cancelled or orphaned under this worker: note how its steps were left."""
    steps = [s.model_copy(update={"state": StepState.cancelled if s.state is StepState.running
                                  else StepState.skipped})
             if s.state in (StepState.running, StepState.pending) else s
             for s in state.steps]  # fmt: skip
    with state.db.transaction() as session:
        store = SqlPipelineStore(session)
        store.settle(state.run.id, worker=state.worker, steps=steps, outputs=state.outputs)
        ended = store.run(state.run.id)
    assert ended is not None
    return ended


def _finish(
    db: Database, run: PipelineRun, worker: str, clock: Clock, final: RunState,
    error: str | None, steps: list[StepRun], outputs: dict[str, Any],
) -> PipelineRun:  # fmt: skip
    with db.transaction() as session:
        store = SqlPipelineStore(session)
        now = clock.now()
        store.progress(run.id, worker=worker, steps=steps, outputs=outputs, now=now)
        if store.finish(run.id, worker=worker, state=final, error=error, now=now):
            record_audit(
                session, actor=launcher(run), action="pipeline.run.finish", project=run.project,
                target=f"pipeline:{run.pipeline}@{run.pipeline_version}",
                details={"run_id": str(run.id), "state": final.value, "error": error,
                         "outputs": outputs, "worker": worker},
            )  # fmt: skip
        ended = store.run(run.id)
    assert ended is not None
    return ended
