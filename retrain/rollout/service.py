"""Use cases of rollouts: start, promote, roll back, count outcomes, watch monitors.

The deployment itself is lineage's (``lineage.service.deploy``, its own transaction and audit
entry, a ``deployed`` edge in the graph). A rollout is claimed before the deployment changes:
ending one is a conditional update, so two servers rolling back at once deploy once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput, InvalidState, NotFound
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import EndpointCreate, ModelVersion
from monitors.capture.source import schema_from_signature
from retrain.rollout import webhook
from retrain.rollout.schemas import (
    DeployEvent,
    Rollout,
    RolloutPlan,
    RolloutState,
    Strategy,
)
from retrain.rollout.store import RolloutCreate, SqlRolloutStore

log = logging.getLogger(__name__)
_WALL: Final = SystemClock()
# Who rolls back on its own: error rates seen by scoring, breaches seen by the leader.
ROLLOUT_ACTOR: Final = Principal(
    id=None, name="steward-rollout", kind=PrincipalKind.system, via="internal"
)
SHADOW_SUFFIX: Final = ".shadow"
_ACTIVE: Final = (RolloutState.active,)
# An immediate deploy is watched until it served this many times rollback_min_requests.
WATCH_FACTOR: Final = 10


def shadow_endpoint_of(endpoint: str) -> str:
    """The endpoint whose inference log holds a shadow candidate's predictions."""
    return endpoint + SHADOW_SUFFIX


def _serving(db: Database, project: str, endpoint: str) -> ModelVersion | None:
    """The version the endpoint serves now; raises NotFound for an unknown endpoint."""
    found = lineage.serving_version_id(db, project=project, name=endpoint)
    if found is None:
        return None
    return lineage.get_model_version_by_id(db, project=project, version=found)


def _check_start(plan: RolloutPlan, candidate: ModelVersion, current: ModelVersion | None) -> None:
    if current is not None and current.id == candidate.id:
        raise InvalidState(
            f"the endpoint already serves {candidate.model} v{candidate.version}",
            code="already_serving",
        )
    if plan.strategy is Strategy.immediate:
        return
    if current is None:
        raise InvalidState(
            f"a {plan.strategy} rollout needs a served version to compare with: deploy "
            "immediately", code="nothing_served",
        )  # fmt: skip
    same = schema_from_signature(candidate.signature) == schema_from_signature(current.signature)
    if plan.strategy is Strategy.canary and not same:
        # canary rows join the endpoint's inference log, which keeps one schema
        raise InvalidInput(
            "a canary must take the served version's inputs and outputs; use a shadow rollout",
            code="signature_mismatch",
        )


def _prepare_shadow(
    db: Database, *, project: str, endpoint: str, candidate: ModelVersion, actor: Principal,
    clock: Clock,
) -> str:  # fmt: skip
    """Make the shadow endpoint (once) and deploy the candidate there: its log takes the copy."""
    name = shadow_endpoint_of(endpoint)
    if lineage.find_endpoint(db, project=project, name=name) is None:
        data = EndpointCreate(name=name, description=f"shadow predictions of {endpoint}")
        try:
            lineage.create_endpoint(db, project=project, data=data, actor=actor, clock=clock)
        except Conflict:
            pass  # made by a concurrent shadow rollout a moment ago
    lineage.deploy(
        db, project=project, endpoint=name, model=candidate.model, version=candidate.version,
        note=f"shadow of {endpoint}", actor=actor, clock=clock,
    )  # fmt: skip
    return name


def start_rollout(
    db: Database,
    *,
    settings: Settings,
    project: str,
    endpoint: str,
    model: str,
    version: int,
    plan: RolloutPlan,
    actor: Principal,
    reason: str = "",
    approval_id: UUID | None = None,
    gate_decision_id: UUID | None = None,
    clock: Clock = _WALL,
) -> Rollout:
    """Roll ``model`` v``version`` out to ``endpoint``; an active rollout there is superseded.

    Immediate: deployed now and watched (its failures can roll it back). Shadow and canary:
    the served version keeps the deployment until the rollout is promoted.
    """
    candidate = lineage.get_model_version(db, project=project, model=model, version=version)
    current = _serving(db, project, endpoint)
    _check_start(plan, candidate, current)
    shadow = shadow_endpoint_of(endpoint) if plan.strategy is Strategy.shadow else None
    data = RolloutCreate(
        project=project, endpoint=endpoint, model=model, version=version,
        previous_model=current.model if current else None,
        previous_version=current.version if current else None, strategy=plan.strategy,
        percent=plan.percent, shadow_endpoint=shadow, started_by=actor.ref, reason=reason,
        approval_id=approval_id, gate_decision_id=gate_decision_id, at=clock.now(),
    )  # fmt: skip
    # recorded first: of two rollouts racing for the endpoint, the loser changes nothing
    rollout = _record_start(db, data, actor)
    try:
        _take_effect(db, rollout, candidate, actor, clock)
    except Exception as exc:
        _abandon(db, rollout, actor, clock, exc)
        raise
    _notify(db, settings, DeployEvent.deploy, rollout, clock)
    return rollout


def _take_effect(
    db: Database, rollout: Rollout, candidate: ModelVersion, actor: Principal, clock: Clock
) -> None:
    """Deploy what the strategy deploys at the start (the candidate, or its shadow)."""
    if rollout.strategy is Strategy.shadow:
        _prepare_shadow(db, project=rollout.project, endpoint=rollout.endpoint,
                        candidate=candidate, actor=actor, clock=clock)  # fmt: skip
    elif rollout.strategy is Strategy.immediate:
        lineage.deploy(
            db, project=rollout.project, endpoint=rollout.endpoint, model=rollout.model,
            version=rollout.version, note=f"rollout {rollout.id} (immediate)", actor=actor,
            clock=clock,
        )  # fmt: skip


def _abandon(
    db: Database, rollout: Rollout, actor: Principal, clock: Clock, exc: Exception
) -> None:
    """End a rollout whose start did not take effect (the error itself is raised on)."""
    why = f"the rollout did not take effect ({getattr(exc, 'code', type(exc).__name__)})"
    try:
        _end(db, rollout, states=_ACTIVE, to=RolloutState.rolled_back, actor=actor,
             reason=why, clock=clock)  # fmt: skip
    except InvalidState:
        pass  # already ended by someone else


def _record_start(db: Database, data: RolloutCreate, actor: Principal) -> Rollout:
    try:
        with db.transaction() as session:
            store = SqlRolloutStore(session)
            old = store.active(data.project, data.endpoint)
            if old is not None:
                why = f"superseded by {data.model} v{data.version}"
                ended = store.end(old.id, states=_ACTIVE, to=RolloutState.superseded,
                                  by=actor.ref, reason=why, at=data.at)  # fmt: skip
                if ended is not None:
                    _audit(session, actor, "rollout.supersede", ended)
            rollout = store.add(data)
            _audit(session, actor, "rollout.start", rollout)
            return rollout
    except IntegrityError as exc:
        raise Conflict(
            f"another rollout of endpoint {data.endpoint!r} started at the same time",
            code="rollout_conflict",
        ) from exc


def _audit(session: Session, actor: Principal, action: str, rollout: Rollout) -> None:
    record_audit(
        session, actor=actor, action=action, project=rollout.project, target=rollout.ref,
        details={"endpoint": rollout.endpoint, "model": rollout.model,
                 "version": rollout.version, "strategy": str(rollout.strategy),
                 "percent": rollout.percent, "previous_model": rollout.previous_model,
                 "previous_version": rollout.previous_version, "state": str(rollout.state),
                 "reason": rollout.end_reason or rollout.reason,
                 "requests": rollout.requests, "errors": rollout.errors},
    )  # fmt: skip


def _notify(
    db: Database, settings: Settings, event: DeployEvent, rollout: Rollout, clock: Clock
) -> None:
    served = _serving(db, rollout.project, rollout.endpoint)
    serving = None if served is None else (served.model, served.version)
    webhook.notify(db, settings=settings, event=event, rollout=rollout, serving=serving,
                   clock=clock)  # fmt: skip


def get_rollout(db: Database, *, project: str, rollout_id: UUID) -> Rollout:
    """One rollout; raises NotFound."""
    with db.read() as session:
        found = SqlRolloutStore(session).get(project, rollout_id)
    if found is None:
        raise NotFound("rollout not found")
    return found


def get_active_rollout(db: Database, *, project: str, endpoint: str) -> Rollout | None:
    """The endpoint's active rollout, if any (one query: scoring asks)."""
    with db.read() as session:
        return SqlRolloutStore(session).active(project, endpoint)


def list_rollouts(db: Database, *, project: str, endpoint: str, limit: int = 100) -> list[Rollout]:
    """The endpoint's rollouts, newest first."""
    with db.read() as session:
        return SqlRolloutStore(session).page(project, endpoint, limit=limit)


def list_active_rollouts(db: Database) -> list[Rollout]:
    """Every active rollout of every project (the leader's watch)."""
    with db.read() as session:
        return SqlRolloutStore(session).all_active()


def _end(
    db: Database, rollout: Rollout, *, states: Sequence[RolloutState], to: RolloutState,
    actor: Principal, reason: str, clock: Clock,
) -> Rollout:  # fmt: skip
    """Claim the end of a rollout with its audit entry; InvalidState if another ended it."""
    action = "rollout.promote" if to is RolloutState.promoted else "rollout.rollback"
    with db.transaction() as session:
        ended = SqlRolloutStore(session).end(
            rollout.id, states=states, to=to, by=actor.ref, reason=reason, at=clock.now()
        )
        if ended is None:
            raise InvalidState("the rollout has already ended", code="rollout_ended")
        _audit(session, actor, action, ended)
    return ended


def promote_rollout(
    db: Database,
    *,
    settings: Settings,
    project: str,
    endpoint: str,
    rollout_id: UUID,
    actor: Principal,
    reason: str = "",
    clock: Clock = _WALL,
) -> Rollout:
    """Deploy an active rollout's candidate (an immediate one serves already: its watch ends)."""
    rollout = get_rollout(db, project=project, rollout_id=rollout_id)
    if rollout.endpoint != endpoint:
        raise NotFound("rollout not found")
    ended = _end(db, rollout, states=_ACTIVE, to=RolloutState.promoted, actor=actor,
                 reason=reason, clock=clock)  # fmt: skip
    if rollout.strategy is not Strategy.immediate:
        lineage.deploy(
            db, project=project, endpoint=endpoint, model=rollout.model, version=rollout.version,
            note=f"promoted rollout {rollout.id}", actor=actor, clock=clock,
        )  # fmt: skip
    _notify(db, settings, DeployEvent.promote, ended, clock)
    return ended


def _to_roll_back(db: Database, project: str, endpoint: str) -> tuple[Rollout, bool]:
    """The rollout a rollback ends, and whether the previous version must be deployed again."""
    with db.read() as session:
        store = SqlRolloutStore(session)
        active, last = store.active(project, endpoint), store.latest(project, endpoint)
    if active is not None:
        return active, active.strategy is Strategy.immediate
    if last is None or last.state is not RolloutState.promoted:
        raise InvalidState(f"endpoint {endpoint!r} has no rollout to roll back",
                           code="nothing_to_roll_back")  # fmt: skip
    served = _serving(db, project, endpoint)
    if served is None or (served.model, served.version) != (last.model, last.version):
        raise InvalidState(
            "the endpoint no longer serves its last rollout's version: deploy instead",
            code="nothing_to_roll_back",
        )
    return last, True


def rollback(
    db: Database,
    *,
    settings: Settings,
    project: str,
    endpoint: str,
    actor: Principal,
    reason: str,
    clock: Clock = _WALL,
) -> Rollout:
    """End the endpoint's active rollout, or put back the version served before the last one."""
    rollout, redeploy = _to_roll_back(db, project, endpoint)
    return _roll_back(db, settings, rollout, redeploy=redeploy, actor=actor, reason=reason,
                      clock=clock)  # fmt: skip


def _roll_back(
    db: Database, settings: Settings, rollout: Rollout, *, redeploy: bool, actor: Principal,
    reason: str, clock: Clock,
) -> Rollout:  # fmt: skip
    if redeploy and rollout.previous_model is None:
        raise InvalidState("nothing was served before this rollout: deploy another version",
                           code="nothing_to_roll_back")  # fmt: skip
    ended = _end(db, rollout, states=(rollout.state,), to=RolloutState.rolled_back, actor=actor,
                 reason=reason, clock=clock)  # fmt: skip
    if redeploy:
        assert rollout.previous_model is not None
        lineage.deploy(
            db, project=rollout.project, endpoint=rollout.endpoint,
            model=rollout.previous_model, version=rollout.previous_version,
            note=f"rollback of rollout {rollout.id}: {reason}", actor=actor, clock=clock,
        )  # fmt: skip
    _notify(db, settings, DeployEvent.rollback, ended, clock)
    return ended


def failing(requests: int, errors: int, settings: Settings) -> bool:
    """Whether a candidate's failures call for its rollback."""
    return (
        requests >= settings.rollback_min_requests
        and errors >= settings.rollback_error_rate * requests
    )


def record_outcomes(
    db: Database,
    *,
    settings: Settings,
    rollout_id: UUID,
    requests: int,
    errors: int,
    clock: Clock = _WALL,
) -> Rollout | None:
    """Add a server's counts of a candidate's requests and failures; roll back past the limit.

    Returns the rollout as it is afterwards (None: it no longer exists).
    """
    with db.transaction() as session:
        counted = SqlRolloutStore(session).add_counts(
            rollout_id, requests=requests, errors=errors, at=clock.now()
        )
    if counted is None or counted.state is not RolloutState.active:
        return counted
    if not failing(counted.requests, counted.errors, settings):
        return _watch_passed(db, settings, counted, clock)
    why = (
        f"automatic: {counted.errors} of {counted.requests} scoring requests failed "
        f"(limit {settings.rollback_error_rate:g} over >= {settings.rollback_min_requests})"
    )
    return roll_back_automatically(db, settings=settings, rollout=counted, reason=why, clock=clock)


def _watch_passed(db: Database, settings: Settings, rollout: Rollout, clock: Clock) -> Rollout:
    """End an immediate deploy's watch once it served enough requests within the limit.

    Counting (and flushing) every request of a healthy version forever would cost its
    endpoint for nothing.
    """
    enough = WATCH_FACTOR * settings.rollback_min_requests
    if rollout.strategy is not Strategy.immediate or rollout.requests < enough:
        return rollout
    why = f"automatic: watch passed, {rollout.errors} of {rollout.requests} requests failed"
    try:
        ended = _end(db, rollout, states=_ACTIVE, to=RolloutState.promoted,
                     actor=ROLLOUT_ACTOR, reason=why, clock=clock)  # fmt: skip
    except InvalidState:
        return get_rollout(db, project=rollout.project, rollout_id=rollout.id)
    _notify(db, settings, DeployEvent.promote, ended, clock)
    return ended


def roll_back_automatically(
    db: Database, *, settings: Settings, rollout: Rollout, reason: str, clock: Clock = _WALL
) -> Rollout:
    """Roll back on Steward's own account; the rollout afterwards (ended by another: as is)."""
    redeploy = rollout.strategy is Strategy.immediate
    try:
        return _roll_back(db, settings, rollout, redeploy=redeploy, actor=ROLLOUT_ACTOR,
                          reason=reason, clock=clock)  # fmt: skip
    except InvalidState as exc:
        # ended meanwhile (another server rolled it back), or nothing to go back to
        log.warning("rollout %s not rolled back: %s", rollout.id, exc)
        return get_rollout(db, project=rollout.project, rollout_id=rollout.id)
