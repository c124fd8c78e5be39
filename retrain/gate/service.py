"""Use cases of the evaluation gate: judge a release, read the decisions (each one transaction).

A decision never passes on nothing: too few holdout rows, a model that cannot be loaded or
score, a metric or disparity that cannot be computed each fail it with the reason recorded.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from governance.audit.service import record_audit
from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState, NotFound
from governance.core.ids import new_id
from governance.core.principal import Principal
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import ModelVersion
from retrain.artifacts.formats import Prediction
from retrain.artifacts.store import find_artifact, load_artifact
from retrain.gate import judge
from retrain.gate.holdout import Holdout, build_holdout
from retrain.gate.schemas import GateDecision, GateSpec, ModelRef
from retrain.gate.store import SqlGateDecisionStore

log = logging.getLogger(__name__)
MAX_LIST = 500


def evaluate_release(
    db: Database,
    *,
    settings: Settings,
    project: str,
    endpoint: str,
    challenger: ModelRef,
    champion: ModelRef | None,
    spec: GateSpec,
    run_id: UUID | None,
    actor: Principal,
    clock: Clock,
) -> GateDecision:
    """Score both models on one holdout, judge the challenger by ``spec``, keep the decision."""
    versions = [lineage.get_model_version(db, project=project, model=challenger.model,
                                          version=challenger.version)]  # fmt: skip
    if champion is not None:
        versions.append(lineage.get_model_version(db, project=project, model=champion.model,
                                                  version=champion.version))  # fmt: skip
    details, reasons = _judge(db, settings, project, endpoint, spec, versions, clock)
    decision = GateDecision(
        id=new_id(), project=project, run_id=run_id, endpoint=endpoint, challenger=challenger,
        champion=champion, passed=not reasons, reasons=reasons, details=judge.clean(details),
        decided_at=clock.now(), decided_by=actor.ref,
    )  # fmt: skip
    with db.transaction() as session:
        stored = SqlGateDecisionStore(session).add(decision)
        record_audit(
            session, actor=actor, action="gate.decide", project=project,
            target=f"model:{challenger.model}@{challenger.version}",
            details={"decision": str(stored.id), "passed": stored.passed, "endpoint": endpoint,
                     "run_id": str(run_id) if run_id else None,
                     "champion": champion.model_dump() if champion else None,
                     "reasons": reasons[:10]},
        )  # fmt: skip
    return stored


def _judge(
    db: Database,
    settings: Settings,
    project: str,
    endpoint: str,
    spec: GateSpec,
    versions: list[ModelVersion],
    clock: Clock,
) -> tuple[dict[str, Any], list[str]]:
    """The decision's details and its failures (none: the challenger passed)."""
    champion = versions[1] if len(versions) > 1 else None
    details: dict[str, Any] = {"relative_checks": judge.NO_CHAMPION if champion is None else "run"}
    task = judge.task_of(versions[0].signature, champion.signature if champion else None, spec)
    if isinstance(task, str):
        return details, [task]
    details |= {"task": str(task.kind), "classes": list(task.classes),
                "positive_class": task.positive}  # fmt: skip
    columns = list(dict.fromkeys(
        [c.name for v in versions for c in v.signature.inputs]
        + [f.sensitive_feature for f in spec.fairness]
    ))  # fmt: skip
    holdout = build_holdout(
        db, settings, project=project, endpoint=endpoint, spec=spec, columns=columns,
        linked=versions[::-1], clock=clock,
    )  # fmt: skip
    details["holdout"] = {"rows": holdout.rows, "min_rows": spec.min_rows, **holdout.provenance}
    if holdout.problems:
        return details, holdout.problems
    if holdout.rows < spec.min_rows:
        return details, [f"too few rows: the holdout has {holdout.rows} labelled rows, "
                         f"at least {spec.min_rows} are needed"]  # fmt: skip
    truth = judge.encode_labels(task, holdout.labels)
    if isinstance(truth, str):
        return details, [truth]
    return _compare(db, settings, spec, task, holdout, truth, versions, details)


def _compare(
    db: Database,
    settings: Settings,
    spec: GateSpec,
    task: judge.Task,
    holdout: Holdout,
    truth: Any,
    versions: list[ModelVersion],
    details: dict[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """Both models scored on the same rows, then every threshold and fairness limit."""
    reasons: list[str] = []
    predictions: list[Prediction | None] = []
    for role, version in zip(("challenger", "champion"), versions, strict=False):
        prediction, failure = _predict(db, settings, version, holdout)
        predictions.append(prediction)
        if failure:
            reasons.append(f"the {role} cannot score the holdout: {failure}")
    if reasons:
        return details, reasons
    scores = [judge.scores_of(task, truth, p) for p in predictions if p is not None]
    details["scores"] = {
        "challenger": scores[0].values,
        "champion": scores[1].values if len(scores) > 1 else None,
    }
    details["score_errors"] = {
        "challenger": scores[0].errors,
        "champion": scores[1].errors if len(scores) > 1 else None,
    }
    details["metrics"], failed = judge.threshold_details(
        spec, scores[0], scores[1] if len(scores) > 1 else None
    )  # fmt: skip
    reasons += failed
    details["fairness"], failed = judge.fairness_details(spec, task, holdout, truth, predictions)
    return details, reasons + failed


def _predict(
    db: Database, settings: Settings, version: ModelVersion, holdout: Holdout
) -> tuple[Prediction | None, str]:
    """The version's predictions of the holdout, or why there are none."""
    assert settings.artifact_dir is not None
    try:
        stored = find_artifact(db, project=version.project, model=version.model,
                               version=version.version, root=settings.artifact_dir)  # fmt: skip
        model = load_artifact(stored, trusted=settings.skops_trusted_types)
    except (NotFound, InvalidInput, InvalidState) as exc:
        return None, str(exc)
    try:
        return model.predict(holdout.table), ""
    except Exception as exc:  # a model failing on the holdout fails the gate; it is logged
        log.warning("gate: %s@%s failed to score", version.model, version.version, exc_info=True)
        return None, f"{type(exc).__name__}: {exc}"[:300]


def get_decision(db: Database, *, project: str, decision_id: UUID) -> GateDecision:
    """One gate decision of a project."""
    with db.read() as session:
        found = SqlGateDecisionStore(session).find(project, decision_id)
    if found is None:
        raise NotFound("gate decision not found")
    return found


def list_decisions(
    db: Database,
    *,
    project: str,
    run_id: UUID | None = None,
    before: UUID | None = None,
    limit: int = 100,
) -> list[GateDecision]:
    """Gate decisions of a project (of one pipeline run), newest first; page with ``before``."""
    with db.read() as session:
        return SqlGateDecisionStore(session).page(
            project, run_id=run_id, before=before, limit=min(limit, MAX_LIST)
        )
