"""Deploy policies and approvals: who lets a gated challenger reach an endpoint's traffic.

Separation of duties: an approver holds the project's approver role and is neither the
principal who launched the run nor the owner of the trigger that launched it. A refusal is an
audited denial in a transaction of its own, so it stays on record when the request fails.
"""

from __future__ import annotations

import logging
from typing import NoReturn
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from governance.access.service import find_project_in, list_bindings
from governance.audit.service import record_audit, record_denial
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import Conflict, NotFound, PermissionDenied
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings
from lineage.serving import find_endpoint
from retrain.approvals.schemas import (
    Approval,
    ApprovalState,
    DeployPolicy,
    DeployPolicySet,
)
from retrain.approvals.store import ApprovalCreate, SqlApprovalStore
from retrain.gate.schemas import ModelRef
from retrain.gate.service import get_decision
from retrain.rollout.schemas import RolloutPlan
from retrain.rollout.service import start_rollout

log = logging.getLogger(__name__)
_WALL = SystemClock()
MAX_LIST = 500


def get_deploy_policy(db: Database, *, project: str) -> DeployPolicy:
    """The project's deploy policy (the default, approval by an owner, if never set)."""
    with db.read() as session:
        found = SqlApprovalStore(session).find_policy(project)
    return found if found is not None else DeployPolicy(project=project)


def set_deploy_policy(
    db: Database, *, project: str, data: DeployPolicySet, actor: Principal, clock: Clock = _WALL
) -> DeployPolicy:
    """Replace the project's deploy policy; audited with the policy before and after."""
    with db.transaction() as session:
        if find_project_in(session, project) is None:
            raise NotFound(f"project {project!r} not found")
        store = SqlApprovalStore(session)
        before = store.find_policy(project) or DeployPolicy(project=project)
        wanted = DeployPolicy(
            project=project, mode=data.mode, approver_role=data.approver_role,
            updated_by=actor.ref, updated_at=clock.now(),
        )  # fmt: skip
        stored = store.put_policy(wanted)
        record_audit(
            session, actor=actor, action="deploy_policy.set", project=project,
            target=f"project:{project}",
            details={"before": _rule(before), "after": _rule(stored)},
        )  # fmt: skip
    return stored


def _rule(policy: DeployPolicy) -> dict[str, str]:
    return {"mode": policy.mode.value, "approver_role": policy.approver_role}


def request_approval(
    db: Database,
    *,
    project: str,
    endpoint: str,
    challenger: ModelRef,
    rollout: RolloutPlan,
    requested_by: str,
    trigger_owner: str | None = None,
    run_id: UUID | None = None,
    gate_decision_id: UUID | None = None,
    actor: Principal,
    clock: Clock = _WALL,
) -> Approval:
    """Ask for approval to roll ``challenger`` out to ``endpoint``; once per run (idempotent)."""
    data = ApprovalCreate(
        project=project, run_id=run_id, endpoint=endpoint, challenger=challenger,
        rollout=rollout, gate_decision_id=gate_decision_id, requested_by=requested_by,
        trigger_owner=trigger_owner, now=clock.now(),
    )  # fmt: skip
    try:
        with db.transaction() as session:
            store = SqlApprovalStore(session)
            existing = None if run_id is None else store.of_run(run_id)
            if existing is not None:
                return existing
            approval = store.add(data)
            record_audit(
                session, actor=actor, action="approval.request", project=project,
                target=f"approval:{approval.id}", details=_summary(approval),
            )  # fmt: skip
    except IntegrityError:
        # Two callers asked for one run at once: the run id is unique, the other one won.
        if run_id is None:
            raise
        with db.read() as session:
            winner = SqlApprovalStore(session).of_run(run_id)
        if winner is None:
            raise
        return winner
    return approval


def _summary(approval: Approval) -> dict[str, object]:
    return {
        "endpoint": approval.endpoint,
        "model": approval.challenger.model,
        "version": approval.challenger.version,
        "run_id": None if approval.run_id is None else str(approval.run_id),
        "gate_decision_id": (
            None if approval.gate_decision_id is None else str(approval.gate_decision_id)
        ),
        "rollout": approval.rollout.model_dump(mode="json"),
        "requested_by": approval.requested_by,
        "trigger_owner": approval.trigger_owner,
    }


def list_approvals(
    db: Database, *, project: str, state: ApprovalState | None = None, limit: int = 100
) -> list[Approval]:
    """A project's approvals, newest first (at most MAX_LIST), optionally in one state."""
    with db.read() as session:
        return SqlApprovalStore(session).page(project, state=state, limit=min(limit, MAX_LIST))


def get_approval(db: Database, *, project: str, approval_id: UUID) -> Approval:
    """One approval of ``project``; any other is not found."""
    with db.read() as session:
        found = SqlApprovalStore(session).get(approval_id)
    if found is None or found.project != project:
        raise NotFound("approval not found")
    return found


def _pending(approval: Approval) -> Approval:
    if approval.state is not ApprovalState.pending:
        raise Conflict(f"the approval is already {approval.state}", code="approval_decided")
    return approval


def is_principal(ref: str | None, actor: Principal) -> bool:
    """Whether ``ref`` (a principal ref like ``user:ann`` or a bare name) names ``actor``."""
    return ref is not None and ref in (actor.ref, actor.name)


def _deny(db: Database, approval: Approval, actor: Principal, code: str, detail: str) -> NoReturn:
    record_denial(
        db, actor=actor, action="approval.decide", project=approval.project,
        target=f"approval:{approval.id}", details={"reason": code, "detail": detail},
    )  # fmt: skip
    raise PermissionDenied(detail, code=code)


def check_approver(db: Database, approval: Approval, actor: Principal) -> None:
    """Refuse (403, audited) the run's launcher, its trigger's owner, or a non-approver role."""
    if is_principal(approval.requested_by, actor):
        _deny(db, approval, actor, "self_approval", "the run's launcher cannot approve it")
    if is_principal(approval.trigger_owner, actor):
        _deny(db, approval, actor, "self_approval", "the trigger's owner cannot approve its run")
    # The local operator acts with database access (like ``authorize``): it holds no role.
    if actor.kind is PrincipalKind.system:
        return
    role = get_deploy_policy(db, project=approval.project).approver_role
    held = {
        b.role for b in list_bindings(db, project=approval.project) if b.principal == actor.name
    }
    if role not in held:
        _deny(db, approval, actor, "approver_role", f"approving needs the {role!r} role here")


def serving_ref(db: Database, *, project: str, endpoint: str) -> ModelRef | None:
    """The version ``endpoint`` serves now (None: nothing deployed, or no such endpoint)."""
    found = find_endpoint(db, project=project, name=endpoint)
    if found is None or found.model_version is None:
        return None
    return ModelRef(model=found.model_version.model, version=found.model_version.version)


def check_current(db: Database, approval: Approval) -> None:
    """Refuse (409, left pending) a challenger judged against a champion no longer served.

    Without a gate decision: refuse one that is not newer than the version served now. Either
    way the approval stays pending until someone rejects it (nothing expires it).
    """
    served = serving_ref(db, project=approval.project, endpoint=approval.endpoint)
    if approval.gate_decision_id is not None:
        judged = get_decision(db, project=approval.project, decision_id=approval.gate_decision_id)
        if served != judged.champion:
            raise Conflict(
                f"the endpoint serves {_named(served)} now, the gate judged the challenger "
                f"against {_named(judged.champion)}: run the gate again", code="champion_changed",
            )  # fmt: skip
        return
    challenger = approval.challenger
    if (
        served is not None
        and served.model == challenger.model
        and served.version >= challenger.version
    ):
        raise Conflict(f"the endpoint already serves {_named(served)}", code="challenger_stale")


def _named(ref: ModelRef | None) -> str:
    return "nothing" if ref is None else f"{ref.model} v{ref.version}"


def approve(
    db: Database,
    *,
    settings: Settings,
    project: str,
    approval_id: UUID,
    actor: Principal,
    note: str = "",
    clock: Clock = _WALL,
) -> Approval:
    """Approve a pending approval and start its rollout (the approver is the rollout's actor)."""
    approval = _pending(get_approval(db, project=project, approval_id=approval_id))
    check_approver(db, approval, actor)
    check_current(db, approval)
    decided = _decide(db, project, approval_id, ApprovalState.approved, actor, note, clock)
    # The rollout is another domain's use case with its own transaction: the approval is taken
    # first (so two approvers cannot start two rollouts) and given back if the rollout fails.
    try:
        rollout_id = _start_rollout(db, settings, decided, actor, clock)
    except Exception as exc:
        _give_back(db, decided, actor, exc)
        raise
    return _record_rollout(db, decided, rollout_id, actor)


def _start_rollout(
    db: Database, settings: Settings, approval: Approval, actor: Principal, clock: Clock
) -> UUID:
    rollout = start_rollout(
        db, settings=settings, project=approval.project, endpoint=approval.endpoint,
        model=approval.challenger.model, version=approval.challenger.version,
        plan=approval.rollout, actor=actor, reason=f"approval {approval.id}",
        approval_id=approval.id, gate_decision_id=approval.gate_decision_id, clock=clock,
    )  # fmt: skip
    return rollout.id


def _give_back(db: Database, approval: Approval, actor: Principal, exc: Exception) -> None:
    with db.transaction() as session:
        if SqlApprovalStore(session).undecide(approval.id, by=actor.ref) is None:
            return
        record_audit(
            session, actor=actor, action="approval.reopen", project=approval.project,
            target=f"approval:{approval.id}",
            details={"reason": "the rollout did not start", "error": getattr(exc, "code", "")},
        )  # fmt: skip
    log.warning("approval %s reopened: its rollout did not start", approval.id)


def _record_rollout(
    db: Database, approval: Approval, rollout_id: UUID, actor: Principal
) -> Approval:
    with db.transaction() as session:
        done = SqlApprovalStore(session).set_rollout(approval.id, rollout_id)
        if done is None:  # only a deleted row gets here; the rollout stands
            raise NotFound("approval not found")
        record_audit(
            session, actor=actor, action="approval.rollout", project=approval.project,
            target=f"approval:{approval.id}", details={"rollout_id": str(rollout_id)},
        )  # fmt: skip
    return done


def reject(
    db: Database,
    *,
    project: str,
    approval_id: UUID,
    actor: Principal,
    note: str = "",
    clock: Clock = _WALL,
) -> Approval:
    """Reject a pending approval: the challenger is not rolled out (anyone who may decide)."""
    _pending(get_approval(db, project=project, approval_id=approval_id))
    return _decide(db, project, approval_id, ApprovalState.rejected, actor, note, clock)


def _decide(
    db: Database, project: str, approval_id: UUID, state: ApprovalState, actor: Principal,
    note: str, clock: Clock,
) -> Approval:  # fmt: skip
    """Record the decision unless another decided first (409), audited as approve or reject."""
    verb = "approve" if state is ApprovalState.approved else "reject"
    with db.transaction() as session:
        decided = SqlApprovalStore(session).decide(
            approval_id, state=state, by=actor.ref, note=note, now=clock.now()
        )
        if decided is None:
            raise Conflict("the approval was decided meanwhile", code="approval_decided")
        record_audit(
            session, actor=actor, action=f"approval.{verb}", project=project,
            target=f"approval:{approval_id}", details={**_summary(decided), "note": note},
        )  # fmt: skip
    return decided
