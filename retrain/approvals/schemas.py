"""A project's deploy policy and the approvals it asks for (frozen; they leave the domain)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from governance.access.schemas import ROLES
from retrain.gate.schemas import ModelRef
from retrain.rollout.schemas import RolloutPlan


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeployMode(StrEnum):
    """What happens to a challenger that passed its gate."""

    auto = "auto"  # rolled out at once
    approval = "approval"  # waits for a second person's approval


class ApprovalState(StrEnum):
    """Where an approval request stands."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class DeployPolicySet(_Frozen):
    """The deploy policy a project wants (PUT replaces it whole)."""

    mode: DeployMode = DeployMode.approval
    approver_role: str = "owner"

    @field_validator("approver_role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"unknown role {value!r}; one of {', '.join(ROLES)}")
        return value


class DeployPolicy(DeployPolicySet):
    """A project's deploy policy; ``updated_at`` None: the default, never set."""

    project: str
    updated_by: str | None = None
    updated_at: datetime | None = None


class DecisionNote(_Frozen):
    """What an approver may say with a decision."""

    note: str = Field(default="", max_length=1000)


class Approval(_Frozen):
    """A request to roll a gated challenger out to an endpoint, and its decision."""

    id: UUID
    project: str
    run_id: UUID | None
    endpoint: str
    challenger: ModelRef
    rollout: RolloutPlan
    gate_decision_id: UUID | None
    state: ApprovalState
    requested_by: str
    trigger_owner: str | None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""
    # The rollout the approval started (set once it has started).
    rollout_id: UUID | None = None
    created_at: datetime
