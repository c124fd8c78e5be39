"""Score and fairness signals on tables: what they do when probabilities, labels or the
reference's columns are missing, and that the probabilities follow ``options.classes``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from governance.core.errors import InvalidInput
from monitors.runs.signals import SignalInput, compute_signal
from monitors.specs.document import load_specs
from monitors.stats.reference import build_reference_profile

ROWS = 400


def _signal(yaml: str) -> Any:
    [spec] = load_specs(f"name: m\ntarget: {{name: e}}\nsignals: [{yaml}]\n")
    return spec.signals[0]


def _data(current: pa.Table, reference: pa.Table | None = None) -> SignalInput:
    reference = reference if reference is not None else pa.table({"x": [1.0, 2.0]})
    return SignalInput(
        profile=build_reference_profile(reference), reference=reference, current=current
    )


def _window(labels: bool = True) -> pa.Table:
    rng = np.random.default_rng(3)
    truth = rng.choice(["a", "b"], ROWS)
    p = np.clip(np.where(truth == "b", 0.7, 0.3) + rng.normal(0, 0.2, ROWS), 0.01, 0.99)
    return pa.table(
        {
            "prediction": np.where(p > 0.5, "b", "a"),
            "probabilities": pa.array([[1 - v, v] for v in p], pa.list_(pa.float64())),
            "label": pa.array(list(truth) if labels else [None] * ROWS, pa.string()),
            "sex": np.where(np.arange(ROWS) % 2, "M", "F"),
        }
    )


AUC = '{kind: performance, threshold: 0.5, options: {metric: roc_auc, pos_label: "b"}}'


def test_roc_auc_follows_the_order_of_the_classes() -> None:
    from sklearn.metrics import roc_auc_score

    window = _window()
    truth = np.array(window.column("label").to_pylist()) == "b"
    score = np.array([row[1] for row in window.column("probabilities").to_pylist()])
    sorted_order = compute_signal(_signal(AUC), _data(window)).metrics
    auc = {m.metric: m.value for m in sorted_order}["roc_auc"]
    assert auc == pytest.approx(roc_auc_score(truth, score), rel=1e-12)
    # Declared in the other order, the same columns are read the other way round.
    swapped = AUC.replace('pos_label: "b"', 'pos_label: "b", classes: [b, a]')
    other = {m.metric: m.value for m in compute_signal(_signal(swapped), _data(window)).metrics}
    assert other["roc_auc"] == pytest.approx(1 - auc, rel=1e-12)


def test_missing_or_partial_probabilities_fail_the_signal_with_the_reason() -> None:
    window = _window()
    with pytest.raises(InvalidInput, match="the endpoint logs no probabilities"):
        compute_signal(_signal(AUC), _data(window.drop_columns(["probabilities"])))
    holes = window.set_column(
        1,
        "probabilities",
        pa.array([None, *window.column("probabilities").to_pylist()[1:]], pa.list_(pa.float64())),
    )
    with pytest.raises(InvalidInput, match="1 labelled row"):
        compute_signal(_signal(AUC), _data(holes))
    # Without a score metric the others are still computed, and the summary says why not scored.
    plain = compute_signal(_signal("{kind: performance}"), _data(holes))
    assert plain.summary["scored_rows"] == 0 and "1 labelled row" in plain.summary["scores"]
    assert "accuracy" in {m.metric for m in plain.metrics}


def test_a_window_without_labels_yet_is_insufficient_not_failed() -> None:
    outcome = compute_signal(_signal(AUC), _data(_window(labels=False)))
    assert outcome.summary["verdict"] == "insufficient_data" and not outcome.breached


def test_compare_reference_needs_the_reference_columns() -> None:
    window = _window()
    fair = (
        "{kind: fairness, options: {sensitive_features: [sex], pos_label: b, "
        "compare: reference, equalized_odds_difference: 0.1}}"
    )
    with pytest.raises(InvalidInput, match="needs a reference with the columns prediction, sex"):
        compute_signal(_signal(fair), _data(window))
    no_labels = window.drop_columns(["label", "probabilities"])
    with pytest.raises(InvalidInput, match="equalized_odds_difference needs a 'label' column"):
        compute_signal(_signal(fair), _data(window, reference=no_labels))
    outcome = compute_signal(_signal(fair), _data(window, reference=window))
    assert outcome.summary["compare"] == "reference" and outcome.summary["alerts"] == []
    values = {m.metric: m.value for m in outcome.metrics if not m.feature}
    assert values["equalized_odds_difference_z"] == 0.0
