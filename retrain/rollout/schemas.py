"""Rollouts: how a model version reaches an endpoint's traffic (frozen; they leave the domain)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
