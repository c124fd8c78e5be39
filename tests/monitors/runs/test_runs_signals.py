"""Signals on known data: quality issues, performance below threshold, every kind computed."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from governance.core.errors import InvalidInput
from monitors.runs.signals import COMPUTERS, SignalInput, compute_signal
from monitors.specs.schemas import Signal, SignalKind
from monitors.stats.reference import build_reference_profile
from tests.monitors.runs.synthetic import reference_table


def _input(current: pa.Table) -> SignalInput:
    reference = reference_table(1000)
    return SignalInput(
        profile=build_reference_profile(reference), reference=reference, current=current
    )


def test_quality_flags_nulls_and_unseen_categories() -> None:
    clean = reference_table(500, seed=3)
    outcome = compute_signal(Signal(kind=SignalKind.data_quality), _input(clean))
    assert not outcome.breached
    ages = clean.column("age").to_pylist()
    broken = clean.set_column(0, "age", pa.array([None] * 100 + ages[100:], pa.float64()))
    broken = broken.set_column(
        2, "sex", pa.array(["Other"] * 50 + clean.column("sex").to_pylist()[50:])
    )
    outcome = compute_signal(Signal(kind=SignalKind.data_quality), _input(broken))
    assert outcome.breached
    flagged = {(m.feature, m.metric) for m in outcome.metrics if m.breached and m.feature}
    assert any(f == "age" for f, _ in flagged)
    assert any(f == "sex" for f, _ in flagged)


def test_performance_breaches_below_accuracy_threshold() -> None:
    rng = np.random.default_rng(0)
    window = reference_table(400, seed=5)
    truth = window.column("prediction").to_pylist()
    flipped = [t if rng.random() < 0.6 else ("<=50K" if t == ">50K" else ">50K") for t in truth]
    current = window.append_column("label", pa.array(flipped))
    signal = Signal(kind=SignalKind.performance, threshold=0.8)
    outcome = compute_signal(signal, _input(current))
    accuracy = next(m for m in outcome.metrics if m.metric == "accuracy")
    assert accuracy.value is not None and 0.5 < accuracy.value < 0.7
    assert accuracy.breached and outcome.breached
    assert not compute_signal(Signal(kind=SignalKind.performance), _input(window)).breached


def test_fairness_breaches_on_unequal_selection_rates() -> None:
    window = reference_table(1000, seed=8)
    sex = window.column("sex").to_pylist()
    biased = [">50K" if s == "Male" and i % 2 else "<=50K" for i, s in enumerate(sex)]
    current = window.set_column(3, "prediction", pa.array(biased)).append_column(
        "label", window.column("prediction")
    )
    signal = Signal(
        kind=SignalKind.fairness, options={"sensitive_features": ["sex"], "pos_label": ">50K"}
    )
    outcome = compute_signal(signal, _input(current))
    ratio = next(m for m in outcome.metrics if m.metric == "demographic_parity_ratio")
    assert ratio.value == 0.0 and ratio.breached and outcome.breached
    rates = {m.feature: m.value for m in outcome.metrics if m.metric == "selection_rate"}
    assert rates["sex=Female"] == 0.0 and 0.4 < (rates["sex=Male"] or 0) < 0.6


def test_every_kind_is_computed_or_fails_never_unavailable() -> None:
    assert set(COMPUTERS) == set(SignalKind)
    # a reference without the model's outputs: the signal fails (the run keeps the others)
    labels_only = reference_table(1000).rename_columns(["age", "hours", "sex", "label"])
    data = SignalInput(
        profile=build_reference_profile(labels_only),
        reference=labels_only,
        current=reference_table(500, seed=4),
    )
    with pytest.raises(InvalidInput, match="attribution drift needs the model's outputs"):
        compute_signal(Signal(kind=SignalKind.attribution_drift), data)
