"""Evaluation-run use cases: launch, read (synced from its pipeline run), list, rows, cancel.

An evaluation run pins its variants' prompts to versions at launch. The server then renders,
generates and scores every (row, variant) (``retrain.evaluation.execute``), keeps the results
as a dataset version of the project and queues the built-in pipeline ``llm-evaluation``, whose
step computes the summaries and paired comparisons in the pipeline runner. Reading an
evaluation whose pipeline run has ended keeps the run's results (once, audited).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.cursor import decode_time_cursor, encode_time_cursor
from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState, NotFound
from governance.core.ids import new_id
from governance.core.principal import Principal
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.prompts.schemas import PromptVersion
from lineage.prompts.service import get_prompt_version
from monitors.evaluators.service import get_connection
from monitors.scheduler.daemon import LeaderJob
from retrain.evaluation.schemas import (
    Aggregate,
    Comparison,
    Evaluation,
    EvaluationCreate,
    EvaluationPage,
    EvaluationState,
    ResolvedVariant,
    RowPage,
)
from retrain.evaluation.store import SqlEvaluationStore
from retrain.pipelines import service as pipelines
from retrain.pipelines.schemas import PipelineRun, RunState

_WALL = SystemClock()
MAX_LIST = 200
MAX_ROWS_PAGE = 500
# A generating run writes a heartbeat this often; one silent for STALE_AFTER has lost its server.
HEARTBEAT_EVERY = timedelta(seconds=30)
STALE_AFTER = timedelta(minutes=10)
ACTIVE = (EvaluationState.queued, EvaluationState.generating, EvaluationState.running)


def target(evaluation_id: uuid.UUID) -> str:
    """The audit target of an evaluation run."""
    return f"evaluation:{evaluation_id}"


def launch_evaluation(
    db: Database, *, settings: Settings, project: str, data: EvaluationCreate,
    actor: Principal, clock: Clock = _WALL,
) -> Evaluation:  # fmt: skip
    """Queue an evaluation run with its dataset version and prompt versions pinned."""
    if any(e.judged for e in data.evaluators) and data.judge_connection is None:
        raise InvalidInput("judged evaluators need a judge_connection",
                           code="judge_connection_required", field="judge_connection")  # fmt: skip
    name, _, version = data.dataset.rpartition("@") if "@" in data.dataset else (
        data.dataset, "", "")  # fmt: skip
    found = lineage.get_dataset_version(db, project=project, name=name, version=version or None)
    variants = [_pin(db, project, v.name, v.prompt, v.connection, v.model) for v in data.variants]
    for connection in {v.connection for v in variants} | {data.judge_connection} - {None}:
        get_connection(db, project=project, name=str(connection))  # NotFound now, not mid-run
    evaluation = Evaluation(
        id=new_id(), project=project, state=EvaluationState.queued, dataset=found.name,
        dataset_version=found.version, variants=variants, evaluators=data.evaluators,
        judge_connection=data.judge_connection, sample=data.sample, alpha=data.alpha,
        query_column=data.query_column, created_by=actor.ref, created_at=clock.now(),
    )  # fmt: skip
    with db.transaction() as session:
        stored = SqlEvaluationStore(session).add(evaluation)
        record_audit(
            session, actor=actor, action="evaluation.run", project=project,
            target=target(stored.id), details=_launch_details(stored),
        )  # fmt: skip
    return stored


def _pin(
    db: Database, project: str, name: str, ref: str, connection: str, model: str | None
) -> ResolvedVariant:
    prompt = get_prompt_version(db, project=project, ref=ref)
    if prompt.kind.value != "prompt":
        raise InvalidInput(f"variant {name!r}: {prompt.ref} is a flow, not a chat prompt",
                           code="prompt_not_renderable")  # fmt: skip
    chosen = model or prompt.model
    if not chosen:
        raise InvalidInput(f"variant {name!r}: {prompt.ref} names no model; give one",
                           code="variant_model_required")  # fmt: skip
    return ResolvedVariant(name=name, prompt=prompt.name, prompt_version=prompt.version,
                           connection=connection, model=chosen)  # fmt: skip


def _launch_details(e: Evaluation) -> dict[str, Any]:
    return {
        "dataset": f"{e.dataset}@{e.dataset_version}",
        "variants": [v.model_dump(mode="json") for v in e.variants],
        "evaluators": [x.value for x in e.evaluators], "judge_connection": e.judge_connection,
        "sample": e.sample, "alpha": e.alpha,
    }  # fmt: skip


def pinned_prompts(db: Database, evaluation: Evaluation) -> dict[str, PromptVersion]:
    """Each variant's pinned prompt version."""
    return {
        v.name: get_prompt_version(
            db, project=evaluation.project, ref=f"{v.prompt}@{v.prompt_version}"
        )
        for v in evaluation.variants
    }


def get_evaluation(
    db: Database, *, project: str, evaluation_id: uuid.UUID, clock: Clock = _WALL
) -> Evaluation:
    """One evaluation of the project (its pipeline run's end kept first, if it has ended)."""
    found = read_evaluation(db, project, evaluation_id)
    if found.state is EvaluationState.running and found.pipeline_run_id is not None:
        return sync_evaluation(db, evaluation=found, clock=clock)
    return found


def read_evaluation(db: Database, project: str, evaluation_id: uuid.UUID) -> Evaluation:
    """One evaluation of the project as stored (no sync with its pipeline run)."""
    with db.read() as session:
        found = SqlEvaluationStore(session).get(evaluation_id)
    if found is None or found.project != project:
        raise NotFound("evaluation not found")
    return found


def detect_interrupted(
    db: Database, *, clock: Clock = _WALL, stale_after: timedelta = STALE_AFTER
) -> list[uuid.UUID]:
    """Fail generating evaluations whose server went silent (no heartbeat for ``stale_after``)."""
    now = clock.now()
    before = now - stale_after
    with db.read() as session:  # a plain read first: an idle sweep takes no write lock
        stale = SqlEvaluationStore(session).stale_generating(before=before, limit=100)
    failed = []
    for evaluation_id in stale:
        with db.transaction() as session:
            store = SqlEvaluationStore(session)
            if not store.interrupt(evaluation_id, before=before, now=now):
                continue  # it beat meanwhile
            found = store.get(evaluation_id)
            assert found is not None
            record_audit(session, actor=pipelines.SYSTEM, action="evaluation.interrupt",
                         project=found.project, target=target(evaluation_id),
                         details={"error": found.error})  # fmt: skip
        failed.append(evaluation_id)
    return failed


def evaluation_leader_job(db: Database, *, clock: Clock | None = None) -> LeaderJob:
    """The leader's sweep failing evaluations whose generating server stopped."""
    wall = clock or _WALL
    return LeaderJob(
        name="evaluation-interrupted", every=STALE_AFTER.total_seconds() / 4,
        run=lambda: detect_interrupted(db, clock=wall),
    )  # fmt: skip


def finished_callback(db: Database, *, clock: Clock = _WALL) -> Callable[[PipelineRun], None]:
    """A pipeline worker's ``on_finished``: an evaluation keeps its results when its run ends."""

    def callback(run: PipelineRun) -> None:
        with db.read() as session:
            found = SqlEvaluationStore(session).by_pipeline_run(run.id)
        if found is not None and found.state is EvaluationState.running:
            sync_evaluation(db, evaluation=found, clock=clock)

    return callback


def sync_evaluation(db: Database, *, evaluation: Evaluation, clock: Clock = _WALL) -> Evaluation:
    """Keep the results (or the failure) of a running evaluation's ended pipeline run."""
    assert evaluation.pipeline_run_id is not None
    run = pipelines.get_run(db, project=evaluation.project, run_id=evaluation.pipeline_run_id)
    if not run.state.ended:
        return evaluation
    summary = run.outputs.get("compare.summary", {}).get("value")
    with db.transaction() as session:
        store = SqlEvaluationStore(session)
        if run.state is RunState.succeeded and isinstance(summary, dict):
            _complete(session, store, evaluation, summary, clock.now())
        else:
            state = EvaluationState.cancelled if run.state is RunState.cancelled else (
                EvaluationState.failed)  # fmt: skip
            error = run.error or f"the pipeline run ended {run.state.value}"
            if store.move(evaluation.id, frm=(EvaluationState.running,), to=state,
                          error=error[:500], ended_at=clock.now()):  # fmt: skip
                record_audit(session, actor=pipelines.SYSTEM, action="evaluation.fail",
                             project=evaluation.project, target=target(evaluation.id),
                             details={"state": state.value, "error": error[:500]})  # fmt: skip
    return read_evaluation(db, evaluation.project, evaluation.id)


def _complete(
    session: Any, store: SqlEvaluationStore, evaluation: Evaluation, summary: dict[str, Any],
    now: datetime,
) -> None:  # fmt: skip
    aggregates = [Aggregate.model_validate(a) for a in summary["aggregates"]]
    comparisons = [Comparison.model_validate(c) for c in summary["comparisons"]]
    if store.complete(evaluation.id, aggregates=aggregates, comparisons=comparisons, now=now):
        # the decision-relevant results: who won, by how much, how sure
        record_audit(
            session, actor=pipelines.SYSTEM, action="evaluation.complete",
            project=evaluation.project, target=target(evaluation.id),
            details={"pipeline_run_id": str(evaluation.pipeline_run_id), "comparisons": [
                {"evaluator": c.evaluator.value, "a": c.a, "b": c.b, "winner": c.winner,
                 "significant": c.significant, "mean_difference": c.mean_difference,
                 "p_adjusted": c.p_adjusted} for c in comparisons]},
        )  # fmt: skip


def list_evaluations(
    db: Database, *, project: str, limit: int = 50, cursor: str | None = None
) -> EvaluationPage:
    """A project's evaluation runs, newest first, in cursor pages."""
    limit = max(1, min(limit, MAX_LIST))
    with db.read() as session:
        found = SqlEvaluationStore(session).list_for(
            project, before=decode_time_cursor(cursor), limit=limit + 1
        )
    more = len(found) > limit
    found = found[:limit]
    nxt = encode_time_cursor(found[-1].created_at, found[-1].id) if more else None
    return EvaluationPage(items=found, next_cursor=nxt)


def read_rows(
    db: Database, *, settings: Settings, project: str, evaluation_id: uuid.UUID,
    offset: int = 0, limit: int = 100, variant: str | None = None,
) -> RowPage:  # fmt: skip
    """Per-row results (one per dataset row and variant), ``limit`` from ``offset``."""
    from monitors.runs.adapters import read_dataset_version

    found = read_evaluation(db, project, evaluation_id)
    if found.rows_dataset is None or found.rows_version is None:
        return RowPage(items=[], total=0, offset=offset, next_offset=None)
    stored = lineage.get_dataset_version(
        db, project=project, name=found.rows_dataset, version=found.rows_version
    )
    table = read_dataset_version(stored, settings=settings)
    if variant is not None:
        import pyarrow.compute as pc

        table = table.filter(pc.equal(table["variant"], variant))
    limit = max(1, min(limit, MAX_ROWS_PAGE))
    offset = max(0, offset)
    items = table.slice(offset, limit).to_pylist()
    end = offset + len(items)
    return RowPage(items=items, total=table.num_rows, offset=offset,
                   next_offset=end if end < table.num_rows else None)  # fmt: skip


def cancel_evaluation(
    db: Database, *, project: str, evaluation_id: uuid.UUID, actor: Principal,
    clock: Clock = _WALL,
) -> Evaluation:  # fmt: skip
    """Cancel an evaluation: generation stops at its next step, its pipeline run is cancelled."""
    found = read_evaluation(db, project, evaluation_id)
    if found.state is EvaluationState.cancelled:
        return found
    with db.transaction() as session:
        if not SqlEvaluationStore(session).move(
            evaluation_id, frm=ACTIVE, to=EvaluationState.cancelled, ended_at=clock.now()
        ):
            raise InvalidState("the evaluation has already ended", code="evaluation_ended")
        record_audit(session, actor=actor, action="evaluation.cancel", project=project,
                     target=target(evaluation_id), details={"was": found.state.value})  # fmt: skip
    if found.pipeline_run_id is not None:
        run = pipelines.get_run(db, project=project, run_id=found.pipeline_run_id)
        if not run.state.ended:
            pipelines.cancel_run(db, project=project, run_id=run.id, actor=actor, clock=clock)
    return read_evaluation(db, project, evaluation_id)
