"""The loop's last turn: a finished run's model is gated, then rolled out or sent for approval.

``after_run`` is a pipeline worker's ``on_finished`` callback. A run that succeeded with a
release plan has its challenger (a model output) judged against the version the plan's endpoint
serves now; the gate decision is the record either way. A challenger that passed is rolled out
at once under a project's ``auto`` deploy policy, or waits for a second person's approval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from governance.access.service import list_projects
from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import InvalidInput
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings
from monitors.scheduler.daemon import LeaderJob
from retrain.approvals.schemas import DeployMode
from retrain.approvals.service import get_deploy_policy, request_approval, serving_ref
from retrain.gate.schemas import GateDecision, ModelRef
from retrain.gate.service import evaluate_release, list_decisions
from retrain.pipelines.schemas import PipelineRun, RunState
from retrain.pipelines.service import list_runs
from retrain.plan import ReleasePlan
from retrain.rollout.service import start_rollout

log = logging.getLogger(__name__)
# Who acts for the loop in the audit log (the run's launcher is named in the details).
LOOP = Principal(id=None, name="steward-loop", kind=PrincipalKind.system, via="internal")
# The leader looks for runs that ended without their release this often, once they are this old
# (their worker's callback had its chance), and no further back than the horizon.
SWEEP_EVERY = 60.0
SETTLE = timedelta(minutes=5)
HORIZON = timedelta(days=1)


def challenger_of(run: PipelineRun, plan: ReleasePlan) -> ModelRef:
    """The model a run made for its plan: ``plan.model_output`` or its only model output.

    ``model_output`` names a run output as ``step.output``, or by its output name alone when
    only one step has an output of that name.
    """
    models = {
        key: value
        for key, value in run.outputs.items()
        if isinstance(value, dict) and value.get("kind") == "model"
    }
    wanted = plan.model_output
    if wanted is not None:
        models = {k: v for k, v in models.items() if wanted in (k, k.rpartition(".")[2])}
    if len(models) != 1:
        named = f"model output {wanted!r}" if wanted else "model output"
        raise InvalidInput(f"run {run.id} has {len(models)} matching {named}s, not one")
    (output,) = models.values()
    return ModelRef(model=str(output["model"]), version=int(output["version"]))


def after_run(db: Database, run: PipelineRun, *, settings: Settings, clock: Clock) -> None:
    """Gate a succeeded run's challenger, then roll it out or ask for approval."""
    plan = run.plan
    if run.state is not RunState.succeeded or plan is None:
        return
    try:
        challenger = challenger_of(run, plan)
    except InvalidInput as exc:
        log.warning("run %s released nothing: %s", run.id, exc.detail)
        return
    decision = _gate(db, run, plan, challenger, settings=settings, clock=clock)
    if not decision.passed:
        log.info("run %s: gate %s failed: %s", run.id, decision.id, "; ".join(decision.reasons))
        return
    if get_deploy_policy(db, project=run.project).mode is DeployMode.auto:
        _roll_out(db, run, plan, challenger, decision, settings=settings, clock=clock)
        return
    request_approval(
        db, project=run.project, endpoint=plan.endpoint, challenger=challenger,
        rollout=plan.rollout, requested_by=run.launched_by, trigger_owner=run.trigger_owner,
        run_id=run.id, gate_decision_id=decision.id, actor=LOOP, clock=clock,
    )  # fmt: skip


def release_callback(
    db: Database, *, settings: Settings, clock: Clock
) -> Callable[[PipelineRun], None]:
    """``after_run`` bound to a database, as a pipeline worker's ``on_finished`` callback."""

    def callback(run: PipelineRun) -> None:
        after_run(db, run, settings=settings, clock=clock)

    return callback


def _gate(
    db: Database,
    run: PipelineRun,
    plan: ReleasePlan,
    challenger: ModelRef,
    *,
    settings: Settings,
    clock: Clock,
) -> GateDecision:
    champion = serving_ref(db, project=run.project, endpoint=plan.endpoint)
    return evaluate_release(
        db, settings=settings, project=run.project, endpoint=plan.endpoint,
        challenger=challenger, champion=champion, spec=plan.gate, run_id=run.id, actor=LOOP,
        clock=clock,
    )  # fmt: skip


def _roll_out(
    db: Database,
    run: PipelineRun,
    plan: ReleasePlan,
    challenger: ModelRef,
    decision: GateDecision,
    *,
    settings: Settings,
    clock: Clock,
) -> None:
    start_rollout(
        db, settings=settings, project=run.project, endpoint=plan.endpoint,
        model=challenger.model, version=challenger.version, plan=plan.rollout, actor=LOOP,
        reason=f"run {run.id} passed gate {decision.id} (deploy policy auto)",
        gate_decision_id=decision.id, clock=clock,
    )  # fmt: skip


def release_missed(
    db: Database,
    *,
    settings: Settings,
    clock: Clock,
    settle: timedelta = SETTLE,
    horizon: timedelta = HORIZON,
) -> int:
    """Release succeeded runs whose ``after_run`` never happened (their worker died first).

    A run counts as released once the gate decided on it. Only runs that ended more than
    ``settle`` ago are taken, so the worker's own callback is never raced; those older than
    ``horizon`` are left alone. Returns how many runs were released now.
    """
    now, released = clock.now(), 0
    for project in list_projects(db):
        page = list_runs(db, project=project.name, state=RunState.succeeded, limit=100)
        for run in page.items:
            ended = run.ended_at
            if run.plan is None or ended is None or not now - horizon <= ended <= now - settle:
                continue
            if list_decisions(db, project=run.project, run_id=run.id, limit=1):
                continue
            log.warning("run %s ended without its release; releasing it now", run.id)
            after_run(db, run, settings=settings, clock=clock)
            released += 1
    return released


def release_leader_job(db: Database, settings: Settings, clock: Clock) -> LeaderJob:
    """The daemon leader's sweep for runs that ended without their release."""
    return LeaderJob(
        name="release-missed", every=SWEEP_EVERY,
        run=lambda: release_missed(db, settings=settings, clock=clock),
    )  # fmt: skip
