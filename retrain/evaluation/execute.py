"""Executing an evaluation run: the server's generation, then its pipeline run is queued.

The results go to the project as dataset version ``evaluation.<id>.rows`` (Parquet under the
project's prefix, content-hashed) and, with the evaluation dataset, are the inputs of the
pipeline run; the generation is a lineage run of its own (job ``evaluation.generate``) whose
inputs are the dataset version and the pinned prompt versions, under that pipeline run.
"""

from __future__ import annotations

import io
import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import StewardError
from governance.core.ids import new_id
from governance.core.principal import Principal
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import RunState as LineageState
from monitors.evaluators.schemas import EvalCase, Score
from retrain.evaluation.generate import (
    Completion,
    Generator,
    Scorer,
    results,
    results_table,
    scorer,
)
from retrain.evaluation.schemas import Evaluation, EvaluationState
from retrain.evaluation.service import HEARTBEAT_EVERY, pinned_prompts, read_evaluation, target
from retrain.evaluation.step import STEP_FUNCTION
from retrain.evaluation.store import SqlEvaluationStore
from retrain.pipelines import service as pipelines
from retrain.pipelines.spec import InputKind, InputSpec, OutputSpec, PipelineSpec, StepSpec

log = logging.getLogger(__name__)
_WALL = SystemClock()
PIPELINE = "llm-evaluation"
NAMESPACE = "steward.evaluations"
PARQUET = "application/vnd.apache.parquet"
SCORE_CHUNK = 20  # cases scored between two heartbeats


def pipeline_spec() -> PipelineSpec:
    """The built-in pipeline every evaluation run is a run of."""
    parameter = InputSpec(kind=InputKind.parameter)
    names = ("rows", "dataset", "variants", "evaluators", "alpha", "evaluation")
    return PipelineSpec(
        name=PIPELINE,
        description="Compare prompt variants: summaries and paired tests over scored rows",
        inputs={"rows": InputSpec(kind=InputKind.dataset),
                "dataset": InputSpec(kind=InputKind.dataset), "variants": parameter,
                "evaluators": parameter, "alpha": parameter, "evaluation": parameter},
        steps=[StepSpec(
            name="compare", function=STEP_FUNCTION, inputs={n: f"inputs.{n}" for n in names},
            outputs={"summary": OutputSpec(kind="parameter"),
                     "metrics": OutputSpec(kind="metrics")},
        )],
    )  # fmt: skip


def execute_evaluation(
    db: Database, *, settings: Settings, project: str, evaluation_id: uuid.UUID,
    actor: Principal, generate: Generator | None = None, clock: Clock = _WALL,
) -> Evaluation:  # fmt: skip
    """Generate and score a queued evaluation's rows, then queue its pipeline run."""
    with db.transaction() as session:
        store = SqlEvaluationStore(session)
        if not store.move(
            evaluation_id, frm=(EvaluationState.queued,), to=EvaluationState.generating
        ):
            return read_evaluation(db, project, evaluation_id)  # taken, cancelled or done already
        store.beat(evaluation_id, at=clock.now())
        record_audit(session, actor=actor, action="evaluation.generate", project=project,
                     target=target(evaluation_id))  # fmt: skip
    evaluation = read_evaluation(db, project, evaluation_id)
    try:
        return _generate_and_queue(db, settings, evaluation, actor, generate, clock)
    except Exception as exc:  # the evaluation fails with a reason; the server keeps serving
        if not isinstance(exc, StewardError):
            log.exception("evaluation %s failed", evaluation_id)
        reason = exc.detail if isinstance(exc, StewardError) else type(exc).__name__
        _fail(db, evaluation, reason, actor, clock)
        return read_evaluation(db, project, evaluation_id)


def _sampled(table: pa.Table, evaluation: Evaluation) -> pa.Table:
    """At most ``sample`` rows, drawn at random (seeded by the run, so a rerun draws the same)."""
    if table.num_rows <= evaluation.sample:
        return table
    rng = np.random.default_rng(evaluation.id.int % 2**63)
    picked = np.sort(rng.choice(table.num_rows, size=evaluation.sample, replace=False))
    return table.take(pa.array(picked))


class _Heartbeat:
    """Refreshes a generating evaluation's heartbeat as answers and scores arrive.

    A run whose server stops (killed, redeployed) mid-generation is then found stale by the
    leader's sweep and failed, instead of staying ``generating`` forever.
    """

    def __init__(self, db: Database, evaluation_id: uuid.UUID, clock: Clock) -> None:
        self.db, self.evaluation_id, self.clock = db, evaluation_id, clock
        self._lock = threading.Lock()
        self._last = clock.now()

    def beat(self) -> None:
        """Write the heartbeat if the last one is older than ``HEARTBEAT_EVERY``."""
        now = self.clock.now()
        with self._lock:
            if now - self._last < HEARTBEAT_EVERY:
                return
            self._last = now
        with self.db.transaction() as session:
            SqlEvaluationStore(session).beat(self.evaluation_id, at=now)

    def generating(self, generate: Generator) -> Generator:
        """``generate``, beating after each answer."""

        def call(**kwargs: Any) -> Completion:
            done = generate(**kwargs)
            self.beat()
            return done

        return call

    def scoring(self, score: Scorer) -> Scorer:
        """``score`` in chunks, beating after each (judges answer one case at a time)."""

        def call(cases: Sequence[EvalCase], connection: str | None) -> list[list[Score]]:
            out: list[list[Score]] = []
            for start in range(0, len(cases), SCORE_CHUNK):
                out += score(cases[start : start + SCORE_CHUNK], connection)
                self.beat()
            return out

        return call


def _generate_and_queue(
    db: Database, settings: Settings, evaluation: Evaluation, actor: Principal,
    generate: Generator | None, clock: Clock,
) -> Evaluation:  # fmt: skip
    from monitors.runs.adapters import read_dataset_version

    project = evaluation.project
    found = lineage.get_dataset_version(
        db, project=project, name=evaluation.dataset, version=evaluation.dataset_version
    )
    rows = _sampled(read_dataset_version(found, settings=settings), evaluation).to_pylist()
    alive = _Heartbeat(db, evaluation.id, clock)
    records = results(
        rows, evaluation=evaluation, prompts=pinned_prompts(db, evaluation),
        generate=alive.generating(
            generate or connection_generator(db, settings=settings, project=project)
        ),
        score=alive.scoring(scorer(
            db, settings=settings, project=project, evaluators=evaluation.evaluators, clock=clock,
        )),
    )  # fmt: skip
    stored = _store_rows(db, settings, evaluation, records, actor, clock)
    if read_evaluation(db, project, evaluation.id).state is not EvaluationState.generating:
        return read_evaluation(db, project, evaluation.id)  # cancelled while it generated
    launch = pipelines.launch_run(
        db, settings=settings, project=project, pipeline=_applied(db, settings, project, actor),
        inputs=_inputs(evaluation, stored), actor=actor, launch_key=f"evaluation:{evaluation.id}",
        clock=clock,
    )  # fmt: skip
    if not _running(db, evaluation, stored, len(rows), launch.run.id, actor, clock):
        # cancelled between the check and now: its pipeline run is not wanted either
        pipelines.cancel_run(db, project=project, run_id=launch.run.id, actor=actor, clock=clock)
    return read_evaluation(db, project, evaluation.id)


def _applied(db: Database, settings: Settings, project: str, actor: Principal) -> str:
    pipelines.apply_pipeline(db, settings=settings, project=project, spec=pipeline_spec(),
                             actor=actor)  # fmt: skip
    return PIPELINE


def _inputs(evaluation: Evaluation, rows_version: str) -> dict[str, Any]:
    return {
        "rows": f"{rows_name(evaluation.id)}@{rows_version}",
        "dataset": f"{evaluation.dataset}@{evaluation.dataset_version}",
        "variants": [v.name for v in evaluation.variants],
        "evaluators": [e.value for e in evaluation.evaluators], "alpha": evaluation.alpha,
        "evaluation": {"id": str(evaluation.id),
                       "prompts": {v.name: f"{v.prompt}@{v.prompt_version}"
                                   for v in evaluation.variants}},
    }  # fmt: skip


def rows_name(evaluation_id: uuid.UUID) -> str:
    """The dataset holding an evaluation's per-row results."""
    return f"evaluation.{evaluation_id}.rows"


def _store_rows(
    db: Database, settings: Settings, evaluation: Evaluation, records: list[dict[str, Any]],
    actor: Principal, clock: Clock,
) -> str:  # fmt: skip
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(results_table(records, evaluation.evaluators), buffer)
    version = lineage.upload_dataset_version(
        db, project=evaluation.project, name=rows_name(evaluation.id),
        chunks=[buffer.getvalue()], media_type=PARQUET, roots=settings.dataset_roots,
        actor=actor, clock=clock, description=f"per-row results of evaluation {evaluation.id}",
    )  # fmt: skip
    return version.version


def _running(
    db: Database, evaluation: Evaluation, rows_version: str, rows: int, run_id: uuid.UUID,
    actor: Principal, clock: Clock,
) -> bool:  # fmt: skip
    project = evaluation.project
    prompts = pinned_prompts(db, evaluation)
    with db.transaction() as session:
        moved = SqlEvaluationStore(session).move(
            evaluation.id, frm=(EvaluationState.generating,), to=EvaluationState.running,
            pipeline_run_id=run_id, rows_dataset=rows_name(evaluation.id),
            rows_version=rows_version, rows=rows,
        )  # fmt: skip
        inputs = [lineage.dataset_version_ref(session, project=project, name=evaluation.dataset,
                                              version=evaluation.dataset_version)]  # fmt: skip
        inputs += [lineage.node_ref(session, project=project, node_id=p.id)
                   for p in prompts.values()]  # fmt: skip
        output = lineage.dataset_version_ref(
            session, project=project, name=rows_name(evaluation.id), version=rows_version
        )
        now = clock.now()
        lineage.record_run(
            session, project=project, job_namespace=NAMESPACE, job_name="evaluation.generate",
            run_id=new_id(), state=LineageState.complete, inputs=inputs, outputs=[output],
            started_at=evaluation.created_at, ended_at=now, actor=actor, clock=clock,
            facets={"parent": {"run": {"runId": str(run_id)}, "job": {
                "namespace": "steward.pipelines", "name": f"pipeline.{PIPELINE}"}}},
        )  # fmt: skip
        record_audit(session, actor=actor, action="evaluation.generated", project=project,
                     target=target(evaluation.id), details={
                         "pipeline_run_id": str(run_id), "rows": rows, "moved": moved,
                         "results": f"{rows_name(evaluation.id)}@{rows_version}"})  # fmt: skip
    return moved


def _fail(
    db: Database, evaluation: Evaluation, reason: str, actor: Principal, clock: Clock
) -> None:
    with db.transaction() as session:
        if SqlEvaluationStore(session).move(
            evaluation.id, frm=(EvaluationState.generating,), to=EvaluationState.failed,
            error=reason[:500], ended_at=clock.now(),
        ):  # fmt: skip
            record_audit(session, actor=actor, action="evaluation.fail",
                         project=evaluation.project, target=target(evaluation.id),
                         details={"error": reason[:500]})  # fmt: skip


def connection_generator(db: Database, *, settings: Settings, project: str) -> Generator:
    """Generates through the project's named connections (each resolved once, key included)."""
    from retrain.evaluation.chat import complete

    targets: dict[tuple[str, str], Any] = {}

    def generate(
        *, connection: str, model: str, messages: list[dict[str, str]],
        parameters: Mapping[str, Any],
    ) -> Completion:  # fmt: skip
        if (connection, model) not in targets:
            targets[(connection, model)] = _target(db, settings, project, connection, model)
        return complete(targets[(connection, model)], messages, parameters,
                        allowlist=settings.webhook_allowlist)  # fmt: skip

    return generate


def _target(db: Database, settings: Settings, project: str, name: str, model: str) -> Any:
    """The connection as a chat target with its key, the variant's model in place of its own."""
    from dataclasses import replace

    from monitors.evaluators import service as evaluators

    target = evaluators.chat_target(db, settings=settings, project=project, name=name)
    return replace(target, model=model)
