"""Judge a challenger and its champion on one holdout: metrics, thresholds, disparities.

Labels and predictions are compared as the signature's classes (text): a label ``1.0`` is the
class ``"1"``, a prediction of a class the signature does not list is simply wrong. Every
number goes into the decision's details; NaN is stored as null with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lineage.schemas import Signature, TaskType
from retrain.artifacts.formats import Prediction
from retrain.gate.fairness import check_limit
from retrain.gate.holdout import Holdout
from retrain.gate.metrics import (
    Labelled,
    Scores,
    check_threshold,
    classification_scores,
    regression_scores,
)
from retrain.gate.schemas import GateSpec

NO_CHAMPION = "no champion: the relative checks were skipped"


@dataclass(frozen=True, kw_only=True, slots=True)
class Task:
    """What the two models predict: classes (classification) or numbers, and the positive."""

    kind: TaskType
    classes: tuple[str, ...] = ()
    positive: str | None = None

    @property
    def classifier(self) -> bool:
        """Whether labels are classes."""
        return self.kind is not TaskType.regression


def as_class(value: Any) -> str | None:
    """A label or prediction as the text of a class (``1.0`` and ``1`` are ``"1"``)."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def class_index(classes: Sequence[str], values: Sequence[Any]) -> np.ndarray:
    """Each value's index in ``classes``, -1 when it is none of them."""
    index = {c: i for i, c in enumerate(classes)}
    for flag in (True, False):  # booleans match "True", "true" or "1", as the classes spell them
        for spelling in (str(flag).lower(), str(int(flag))):
            if spelling in index:
                index.setdefault(str(flag), index[spelling])
    return np.asarray([index.get(as_class(v) or "", -1) for v in values], dtype=np.int64)


def task_of(challenger: Signature, champion: Signature | None, spec: GateSpec) -> Task | str:
    """The task both signatures share, or why they cannot be judged together."""
    if challenger.task is TaskType.regression:
        kind = TaskType.regression
    elif challenger.classes:
        kind = TaskType.binary if len(challenger.classes) == 2 else TaskType.multiclass
    else:
        return "the challenger's signature names neither a regression nor its classes"
    if champion is not None and (champion.task, champion.classes) != (
        challenger.task,
        challenger.classes,
    ):
        return "the champion and the challenger predict different tasks or classes"
    if kind is TaskType.regression:
        return Task(kind=kind)
    classes = tuple(challenger.classes or ())
    positive = spec.positive_class or (classes[-1] if kind is TaskType.binary else None)
    if positive is not None and positive not in classes:
        return f"the positive class {positive!r} is not among the classes {list(classes)}"
    return Task(kind=kind, classes=classes, positive=positive)


def encode_labels(task: Task, labels: Sequence[Any]) -> np.ndarray | str:
    """Labels as class indices (classification) or floats; a reason when they are not."""
    if not task.classifier:
        try:
            return np.asarray([float(v) for v in labels], dtype=np.float64)
        except (TypeError, ValueError):
            return "the labels are not numbers"
    codes = class_index(task.classes, labels)
    unknown = int(np.sum(codes < 0))
    if unknown:
        example = next(v for v, c in zip(labels, codes, strict=True) if c < 0)
        return (
            f"{unknown} labels are not among the signature's classes {list(task.classes)} "
            f"(e.g. {example!r})"
        )
    return codes


def labelled(task: Task, truth: np.ndarray, prediction: Prediction) -> Labelled:
    """One model's predictions against the truth, as class indices."""
    predicted = class_index(task.classes, prediction.predictions)
    positive = None
    if task.kind is TaskType.binary and task.positive is not None:
        positive = task.classes.index(task.positive)
    return Labelled(classes=task.classes, truth=truth, predicted=predicted,
                    probabilities=prediction.probabilities, positive=positive)  # fmt: skip


def scores_of(task: Task, truth: np.ndarray, prediction: Prediction) -> Scores:
    """Every quality metric of the task for one model."""
    if task.classifier:
        return classification_scores(labelled(task, truth, prediction))
    predicted = np.asarray(prediction.predictions, dtype=np.float64)
    return regression_scores(truth, predicted)


def threshold_details(
    spec: GateSpec, challenger: Scores, champion: Scores | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each MetricThreshold judged: its numbers for the decision, and the failures."""
    rows, reasons = [], []
    for bar in spec.metrics:
        check = check_threshold(
            bar, challenger.values.get(bar.metric),
            champion.values.get(bar.metric) if champion else None,
            has_champion=champion is not None,
            errors=(challenger.errors.get(bar.metric, ""),
                    champion.errors.get(bar.metric, "") if champion else ""),
        )  # fmt: skip
        rows.append({
            "metric": bar.metric, "greater_is_better": bar.greater_is_better,
            "challenger": check.challenger, "champion": check.champion,
            "threshold": bar.threshold, "min_absolute_change": bar.min_absolute_change,
            "min_relative_change": bar.min_relative_change, "checks": check.checks,
            "passed": check.passed,
        })  # fmt: skip
        reasons += check.reasons
    return rows, reasons


def fairness_details(
    spec: GateSpec,
    task: Task,
    holdout: Holdout,
    truth: np.ndarray,
    predictions: Sequence[Prediction | None],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each FairnessLimit judged on the challenger (the champion's value shown beside it)."""
    rows, reasons = [], []
    for limit in spec.fairness:
        row: dict[str, Any] = {
            "metric": limit.metric, "sensitive_feature": limit.sensitive_feature,
            "limit": limit.max_difference, "confidence": limit.confidence,
            "min_group_size": limit.min_group_size,
        }  # fmt: skip
        if not task.classifier or task.positive is None:
            reason = f"{limit.metric}: disparities need a classifier with a positive class"
            rows.append({**row, "passed": False, "reason": reason})
            reasons.append(reason)
            continue
        sensitive = holdout.table.column(limit.sensitive_feature)
        judged = [
            None if p is None else check_limit(
                limit, truth, labelled(task, truth, p).predicted, sensitive,
                positive=task.classes.index(task.positive), seed=spec.seed,
                replicates=spec.bootstrap,
            )
            for p in predictions
        ]  # fmt: skip
        challenger = judged[0]
        assert challenger is not None
        champion = judged[1] if len(judged) > 1 else None
        rows.append({**row, "challenger": challenger.as_json(),
                     "champion": champion.as_json() if champion else None,
                     "passed": challenger.passed})  # fmt: skip
        if not challenger.passed:
            reasons.append(challenger.reason)
    return rows, reasons


def clean(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON carries neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        return clean(value.item())
    return value
