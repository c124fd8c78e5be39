"""Columns' roles from a spec and the deployed model's signature, and features that are not.

Here, not in ``monitors.runs``, because apply checks a spec's features against them and runs
read them: both sides import this module.
"""

from __future__ import annotations

from typing import Any

from lineage.schemas import Signature
from monitors.specs.options import FairnessOptions, PredictionDriftOptions, SignalKind
from monitors.specs.schemas import MonitorSpec
from monitors.stats.columns import LABEL, PREDICTION, ColumnRoles


def column_roles(spec: MonitorSpec, signature: Signature | None = None) -> ColumnRoles:
    """Roles of the columns from the deployed model's signature (if any) and the spec.

    The signature's inputs are the features; its outputs, in a reference, are the labels
    (training data stores the target under the output's name) unless named as predictions.
    """
    predictions = {PREDICTION}
    sensitive: list[str] = []
    for signal in spec.signals:
        if isinstance(signal.options, PredictionDriftOptions):
            predictions.add(signal.options.column)
        if isinstance(signal.options, FairnessOptions):
            sensitive += signal.options.sensitive_features or signal.features or ()
    if signature is None:
        return ColumnRoles(predictions=frozenset(predictions), sensitive=tuple(sensitive))
    outputs = [c.name for c in signature.outputs if c.name not in predictions]
    return ColumnRoles(
        features=tuple(c.name for c in signature.captured()),
        predictions=frozenset(predictions),
        labels=tuple(dict.fromkeys((LABEL, *outputs, "target"))),
        sensitive=tuple(dict.fromkeys(sensitive)),
    )


def named_not_features(spec: MonitorSpec, signature: Signature) -> list[dict[str, Any]]:
    """A problem for each column a signal names as a feature that the roles say is not one.

    A fairness signal's ``features`` are its sensitive attributes, not inputs: not checked.
    """
    roles = column_roles(spec, signature)
    return [
        {
            "loc": f"signals.{i}.features.{j}",
            "msg": f"signal {signal.key!r}: column {column!r} is the {roles.role_of(column)} "
            "column, not a feature of the deployed model",
        }
        for i, signal in enumerate(spec.signals)
        if signal.kind is not SignalKind.fairness
        for j, column in enumerate(signal.features or ())
        if roles.is_bookkeeping(column)
    ]
