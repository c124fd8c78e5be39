"""A release plan: what happens to the model a pipeline run produces.

It is gated against the champion the endpoint serves, then deployed with the rollout plan,
directly or after an approval (the project's deploy policy decides). Triggers carry one;
pipeline runs copy it at launch so a run is judged by the plan it was launched with.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from retrain.gate.schemas import GateSpec
from retrain.rollout.schemas import RolloutPlan


class ReleasePlan(BaseModel):
    """Gate a run's model against ``endpoint``'s champion, then roll it out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str = Field(min_length=1, max_length=200)
    # The run output holding the challenger; None: the run's only model output.
    model_output: str | None = None
    gate: GateSpec = Field(default_factory=GateSpec)
    rollout: RolloutPlan = Field(default_factory=RolloutPlan)
