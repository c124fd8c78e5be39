"""What an evaluation gate checks and what it decided (frozen; they leave the domain)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricThreshold(_Frozen):
    """A quality bar, with MLflow's ``MetricThreshold`` semantics.

    ``threshold`` is absolute; ``min_absolute_change`` and ``min_relative_change`` compare the
    challenger with the champion (skipped when there is no champion). ``greater_is_better``
    says which way is better.
    """

    metric: str
    threshold: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    greater_is_better: bool = True


class FairnessLimit(_Frozen):
    """A disparity the challenger may not exceed, judged with its sampling error."""

    metric: str
    sensitive_feature: str
    max_difference: float = Field(ge=0)


class GateSpec(_Frozen):
    """How a challenger is judged: quality thresholds and fairness limits on one holdout."""

    metrics: list[MetricThreshold] = Field(default_factory=list)
    fairness: list[FairnessLimit] = Field(default_factory=list)
    # The holdout: the endpoint's latest labelled window plus this share of the reference.
    reference_fraction: float = Field(default=0.2, ge=0, le=1)
    min_rows: int = Field(default=200, ge=1)


class ModelRef(_Frozen):
    """A model version by name and number."""

    model: str
    version: int


class GateDecision(_Frozen):
    """A stored gate decision with every number it was made from."""

    id: UUID
    project: str
    run_id: UUID | None
    endpoint: str | None
    challenger: ModelRef
    champion: ModelRef | None
    passed: bool
    reasons: list[str]
    details: dict[str, Any]
    decided_at: datetime
