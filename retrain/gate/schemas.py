"""What an evaluation gate checks and what it decided (frozen; they leave the domain)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Quality metrics the gate computes, and whether a higher value is better.
CLASSIFICATION_METRICS = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "log_loss": False,
}
REGRESSION_METRICS = {"mae": False, "rmse": False, "r2": True}
GREATER_IS_BETTER = CLASSIFICATION_METRICS | REGRESSION_METRICS
# Disparities between groups of a sensitive feature (largest minus smallest group rate).
FAIRNESS_METRICS = (
    "demographic_parity_difference",
    "equalized_odds_difference",
    "equal_opportunity_difference",
    "accuracy_difference",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricThreshold(_Frozen):
    """A quality bar, with MLflow's ``MetricThreshold`` semantics.

    ``threshold`` is absolute; ``min_absolute_change`` and ``min_relative_change`` compare the
    challenger with the champion (skipped when there is no champion). ``greater_is_better``
    says which way is better; it defaults to the metric's own direction and may not contradict
    it. As in MLflow, at least one bound is required, ``min_absolute_change`` is positive and
    ``min_relative_change`` lies in [0, 1].
    """

    metric: str
    threshold: float | None = None
    min_absolute_change: float | None = Field(default=None, gt=0)
    min_relative_change: float | None = Field(default=None, ge=0, le=1)
    greater_is_better: bool = True

    @model_validator(mode="before")
    @classmethod
    def _direction(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("metric") in GREATER_IS_BETTER:
            natural = GREATER_IS_BETTER[data["metric"]]
            if data.get("greater_is_better", natural) != natural:
                better = "higher" if natural else "lower"
                raise ValueError(f"{data['metric']}: a {better} value is better")
            data = {**data, "greater_is_better": natural}
        return data

    @model_validator(mode="after")
    def _known(self) -> MetricThreshold:
        if self.metric not in GREATER_IS_BETTER:
            raise ValueError(f"unknown metric {self.metric!r}: one of {sorted(GREATER_IS_BETTER)}")
        bounds = (self.threshold, self.min_absolute_change, self.min_relative_change)
        if all(b is None for b in bounds):
            raise ValueError(f"{self.metric}: no threshold was specified")
        return self


class FairnessLimit(_Frozen):
    """A disparity the challenger may not exceed, judged with its sampling error.

    The gate fails unless the one-sided upper confidence bound of the disparity (at
    ``confidence``) is at most ``max_difference``: the holdout must show the disparity is
    within the limit, not merely fail to show it is beyond. Groups smaller than
    ``min_group_size`` rows are left out; fewer than two groups left fails the check.
    """

    metric: str
    sensitive_feature: str = Field(min_length=1, max_length=200)
    max_difference: float = Field(ge=0)
    confidence: float = Field(default=0.95, ge=0.5, lt=1)
    min_group_size: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _known(self) -> FairnessLimit:
        if self.metric not in FAIRNESS_METRICS:
            raise ValueError(f"unknown disparity {self.metric!r}: one of {list(FAIRNESS_METRICS)}")
        return self


class GateSpec(_Frozen):
    """How a challenger is judged: quality thresholds and fairness limits on one holdout."""

    metrics: list[MetricThreshold] = Field(default_factory=list)
    fairness: list[FairnessLimit] = Field(default_factory=list)
    # The holdout: the endpoint's latest labelled window plus this share of the reference.
    reference_fraction: float = Field(default=0.2, ge=0, le=1)
    min_rows: int = Field(default=200, ge=1)
    # "name" or "name@version"; None: the training data linked to the champion (else challenger).
    reference_dataset: str | None = Field(default=None, min_length=1, max_length=300)
    # The reference's column holding the ground truth.
    reference_label: str = Field(default="label", min_length=1, max_length=200)
    window_days: int = Field(default=7, ge=1, le=366)
    # Binary classifiers: the class the precision, recall and disparities are about
    # (default: the signature's last class, as scikit-learn orders them).
    positive_class: str | None = Field(default=None, max_length=200)
    seed: int = Field(default=0, ge=0)
    bootstrap: int = Field(default=400, ge=50, le=5000)

    @model_validator(mode="after")
    def _unique(self) -> GateSpec:
        names = [m.metric for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError("a metric is named twice")
        limits = [(f.metric, f.sensitive_feature) for f in self.fairness]
        if len(set(limits)) != len(limits):
            raise ValueError("a fairness limit is named twice")
        return self


class ModelRef(_Frozen):
    """A model version by name and number."""

    model: str
    version: int


class GateDecision(_Frozen):
    """A stored gate decision with every number it was made from.

    ``details`` holds the holdout's provenance, every metric of both models, each threshold
    check (challenger and champion values, bounds, pass/fail) and each fairness check (value,
    standard error, confidence bound, limit, pass/fail).
    """

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
    decided_by: str = ""
