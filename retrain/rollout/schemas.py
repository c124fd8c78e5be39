"""Rollouts: how a model version reaches an endpoint's traffic (frozen; they leave the domain)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator


class Strategy(StrEnum):
    """How a new version takes traffic."""

    immediate = "immediate"
    shadow = "shadow"  # scores a copy of traffic; logged, never returned
    canary = "canary"  # serves a share of requests, sticky by request key


class RolloutPlan(BaseModel):
    """The strategy a release uses; ``percent`` is the canary's share of requests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Strategy = Strategy.immediate
    percent: int | None = Field(default=None, ge=1, le=99)

    @model_validator(mode="after")
    def _percent_for_canary(self) -> RolloutPlan:
        if self.strategy is Strategy.canary and self.percent is None:
            raise ValueError("a canary needs percent (1-99)")
        if self.strategy is not Strategy.canary and self.percent is not None:
            raise ValueError("percent applies to canary rollouts only")
        return self


class RolloutState(StrEnum):
    """Where a rollout stands."""

    active = "active"  # canary or shadow taking traffic, or an immediate deploy being watched
    promoted = "promoted"  # the candidate serves (or its watch ended well)
    rolled_back = "rolled_back"  # ended: the champion (or the version before) serves
    superseded = "superseded"  # ended by a later rollout of the same endpoint


class Rollout(BaseModel):
    """A version rolled out to an endpoint, what it replaced, and how it went."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    project: str
    endpoint: str
    model: str
    version: int
    previous_model: str | None
    previous_version: int | None
    strategy: Strategy
    percent: int | None
    state: RolloutState
    # the endpoint whose inference log holds a shadow candidate's predictions
    shadow_endpoint: str | None
    started_at: datetime
    ended_at: datetime | None
    started_by: str
    ended_by: str | None
    reason: str
    end_reason: str
    approval_id: UUID | None
    gate_decision_id: UUID | None
    # the candidate's scoring requests and failures, as every server flushed them
    requests: int = 0
    errors: int = 0

    @property
    def ref(self) -> str:
        """Audit target of the rollout."""
        return f"rollout:{self.id}"

    @property
    def plan(self) -> RolloutPlan:
        """The strategy it runs."""
        return RolloutPlan(strategy=self.strategy, percent=self.percent)


class RolloutStart(BaseModel):
    """Roll a model version out to an endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=1)
    strategy: Strategy = Strategy.immediate
    percent: int | None = Field(default=None, ge=1, le=99)
    reason: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _valid_plan(self) -> RolloutStart:
        self.plan  # noqa: B018 -- builds (validates) the plan
        return self

    @property
    def plan(self) -> RolloutPlan:
        """The plan this start asks for."""
        return RolloutPlan(strategy=self.strategy, percent=self.percent)


class RollbackRequest(BaseModel):
    """End the endpoint's rollout, or put back the version served before the last one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class PromoteRequest(BaseModel):
    """Deploy a rollout's candidate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(default="", max_length=2000)


class DeployWebhookSet(BaseModel):
    """Where deploy, promote and rollback events are posted; the secret signs each body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: HttpUrl
    secret: str = Field(min_length=16, max_length=256)
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: HttpUrl) -> HttpUrl:
        if value.scheme not in ("http", "https"):
            raise ValueError("the webhook URL must be http or https")
        return value


class DeployWebhook(BaseModel):
    """A project's deploy webhook as served (never its secret)."""

    model_config = ConfigDict(frozen=True)

    project: str
    url: str
    enabled: bool
    updated_at: datetime
    updated_by: str


class DeployEvent(StrEnum):
    """What a deploy webhook is told about."""

    deploy = "deploy"  # a rollout started (immediate: the version serves now)
    promote = "promote"
    rollback = "rollback"
