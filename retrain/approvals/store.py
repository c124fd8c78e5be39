"""SQL storage of deploy policies and approvals; never commits.

A decision is a conditional UPDATE on the approval still being pending: of two approvers
deciding at once one wins, and the other learns it from an update that changed nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance.core.ids import new_id
from retrain.approvals.models import ApprovalRow, DeployPolicyRow
from retrain.approvals.schemas import Approval, ApprovalState, DeployMode, DeployPolicy
from retrain.gate.schemas import ModelRef
from retrain.rollout.schemas import RolloutPlan

_PENDING = ApprovalState.pending.value


@dataclass(frozen=True, kw_only=True, slots=True)
class ApprovalCreate:
    """An approval to ask for."""

    project: str
    run_id: uuid.UUID | None
    endpoint: str
    challenger: ModelRef
    rollout: RolloutPlan
    gate_decision_id: uuid.UUID | None
    requested_by: str
    trigger_owner: str | None
    now: datetime


def _approval(row: ApprovalRow) -> Approval:
    """The schema of a stored approval."""
    return Approval(
        id=row.id, project=row.project, run_id=row.run_id, endpoint=row.endpoint,
        challenger=ModelRef(model=row.model, version=row.version),
        rollout=RolloutPlan.model_validate(row.rollout), gate_decision_id=row.gate_decision_id,
        state=ApprovalState(row.state), requested_by=row.requested_by,
        trigger_owner=row.trigger_owner, decided_by=row.decided_by, decided_at=row.decided_at,
        note=row.note, rollout_id=row.rollout_id, created_at=row.created_at,
    )  # fmt: skip


def _policy(row: DeployPolicyRow) -> DeployPolicy:
    return DeployPolicy(
        project=row.project, mode=DeployMode(row.mode), approver_role=row.approver_role,
        updated_by=row.updated_by, updated_at=row.updated_at,
    )  # fmt: skip


class ApprovalStore(Protocol):
    """Storage of deploy policies and approvals.

    Methods work inside the caller's transaction and never commit; nothing returned is an ORM
    row. ``decide`` and ``undecide`` change an approval only from the state they expect and
    return None when it was not in it (another decision came first).
    """

    def find_policy(self, project: str) -> DeployPolicy | None:
        """The project's stored deploy policy (None: never set)."""
        ...

    def put_policy(self, policy: DeployPolicy) -> DeployPolicy:
        """Store a project's deploy policy, replacing the previous one."""
        ...

    def add(self, data: ApprovalCreate) -> Approval:
        """Store a new pending approval."""
        ...

    def get(self, approval_id: uuid.UUID) -> Approval | None:
        """One approval, if it exists."""
        ...

    def of_run(self, run_id: uuid.UUID) -> Approval | None:
        """The approval a pipeline run asked for, if any."""
        ...

    def page(self, project: str, *, state: ApprovalState | None, limit: int) -> list[Approval]:
        """A project's approvals, newest first."""
        ...

    def decide(
        self, approval_id: uuid.UUID, *, state: ApprovalState, by: str, note: str, now: datetime
    ) -> Approval | None:
        """Move a pending approval to ``state``."""
        ...

    def undecide(self, approval_id: uuid.UUID, *, by: str) -> Approval | None:
        """Put an approval ``by`` approved (whose rollout did not start) back to pending."""
        ...

    def set_rollout(self, approval_id: uuid.UUID, rollout_id: uuid.UUID) -> Approval | None:
        """Record the rollout an approved approval started."""
        ...


class SqlApprovalStore:
    """``ApprovalStore`` on a SQLAlchemy session (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def find_policy(self, project: str) -> DeployPolicy | None:
        """The project's stored deploy policy (None: never set)."""
        row = self.session.get(DeployPolicyRow, project)
        return None if row is None else _policy(row)

    def put_policy(self, policy: DeployPolicy) -> DeployPolicy:
        """Store a project's deploy policy, replacing the previous one."""
        assert policy.updated_by is not None and policy.updated_at is not None
        row = self.session.get(DeployPolicyRow, policy.project, with_for_update=True)
        if row is None:
            row = DeployPolicyRow(project=policy.project)
            self.session.add(row)
        row.mode, row.approver_role = policy.mode.value, policy.approver_role
        row.updated_by, row.updated_at = policy.updated_by, policy.updated_at
        self.session.flush()
        return _policy(row)

    def add(self, data: ApprovalCreate) -> Approval:
        """Store a new pending approval."""
        row = ApprovalRow(
            id=new_id(), project=data.project, run_id=data.run_id, endpoint=data.endpoint,
            model=data.challenger.model, version=data.challenger.version,
            rollout=data.rollout.model_dump(mode="json"), gate_decision_id=data.gate_decision_id,
            state=_PENDING, requested_by=data.requested_by, trigger_owner=data.trigger_owner,
            note="", created_at=data.now,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return _approval(row)

    def get(self, approval_id: uuid.UUID) -> Approval | None:
        """One approval, if it exists."""
        row = self.session.get(ApprovalRow, approval_id)
        return None if row is None else _approval(row)

    def of_run(self, run_id: uuid.UUID) -> Approval | None:
        """The approval a pipeline run asked for, if any."""
        row = self.session.scalar(select(ApprovalRow).where(ApprovalRow.run_id == run_id))
        return None if row is None else _approval(row)

    def page(self, project: str, *, state: ApprovalState | None, limit: int) -> list[Approval]:
        """A project's approvals, newest first."""
        query = select(ApprovalRow).where(ApprovalRow.project == project)
        if state is not None:
            query = query.where(ApprovalRow.state == state.value)
        query = query.order_by(ApprovalRow.created_at.desc(), ApprovalRow.id.desc()).limit(limit)
        return [_approval(row) for row in self.session.scalars(query)]

    def _change(self, approval_id: uuid.UUID, *conditions: object, **values: object) -> bool:
        changed = self.session.execute(
            update(ApprovalRow)
            .where(ApprovalRow.id == approval_id, *conditions)  # type: ignore[arg-type]
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(changed.rowcount)  # type: ignore[attr-defined]

    def _fresh(self, approval_id: uuid.UUID) -> Approval | None:
        row = self.session.get(ApprovalRow, approval_id, populate_existing=True)
        return None if row is None else _approval(row)

    def decide(
        self, approval_id: uuid.UUID, *, state: ApprovalState, by: str, note: str, now: datetime
    ) -> Approval | None:
        """Move a pending approval to ``state``."""
        pending = ApprovalRow.state == _PENDING
        values = {"state": state.value, "decided_by": by, "decided_at": now, "note": note}
        return self._fresh(approval_id) if self._change(approval_id, pending, **values) else None

    def undecide(self, approval_id: uuid.UUID, *, by: str) -> Approval | None:
        """Put an approval ``by`` approved (whose rollout did not start) back to pending."""
        conditions = (
            ApprovalRow.state == ApprovalState.approved.value,
            ApprovalRow.decided_by == by,
            ApprovalRow.rollout_id.is_(None),
        )
        values = {"state": _PENDING, "decided_by": None, "decided_at": None, "note": ""}
        return (
            self._fresh(approval_id) if self._change(approval_id, *conditions, **values) else None
        )

    def set_rollout(self, approval_id: uuid.UUID, rollout_id: uuid.UUID) -> Approval | None:
        """Record the rollout an approved approval started."""
        approved = ApprovalRow.state == ApprovalState.approved.value
        changed = self._change(approval_id, approved, rollout_id=rollout_id)
        return self._fresh(approval_id) if changed else None
