"""Feature-attribution drift on Adult: surrogates of a real model's logged outputs, by SHAP.

The model (a one-hot logistic regression, nothing like the tree surrogates) learns from the
first 4,000 rows of the Adult test split; the next 4,000, with its outputs, are the reference,
and the rest are production windows of 1,000 rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from governance.core.errors import InvalidInput, InvalidState
from governance.core.settings import Settings
from lineage.schemas import ColumnSpec, Signature
from monitors.runs import attribution
from monitors.runs.signals import SignalInput, compute_signal
from monitors.specs.schemas import Signal, SignalKind
from monitors.stats.columns import ColumnRoles
from monitors.stats.reference import build_reference_profile
from steward.api.deps import Services
from tests.builders import World
from tests.monitors.runs.traffic import PROJECT, T0, deploy, register_reference, send
from tests.monitors.stats.stats_data import ADULT_COLUMNS, ADULT_NUMERIC, read_adult_test

FEATURES = [c for c in ADULT_COLUMNS if c != "income"]
# A model that ignores what the income model leans on most (relationship, education, capital).
OTHER_FEATURES = ["age", "hours-per-week", "race", "native-country", "sex"]
ROLES = ColumnRoles(labels=("income",))
WINDOW = 1000


@dataclass(frozen=True)
class Adult:
    """The split data set, the deployed model and a model that relies on other features."""

    reference: pd.DataFrame
    production: pd.DataFrame
    model: Any
    other: Any


def _model(columns: list[str]) -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categories = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    encode = make_column_transformer(
        (categories, [c for c in columns if c not in ADULT_NUMERIC]),
        (StandardScaler(), [c for c in columns if c in ADULT_NUMERIC]),
    )
    return make_pipeline(encode, LogisticRegression(max_iter=500))


@pytest.fixture(scope="module")
def adult() -> Adult:
    """Adult's test split: a model trained on 4,000 rows, a reference and production rows."""
    frame = read_adult_test()
    train = frame.iloc[:4000]
    return Adult(
        reference=frame.iloc[4000:8000].reset_index(drop=True),
        production=frame.iloc[8000:].reset_index(drop=True),
        model=_model(FEATURES).fit(train[FEATURES], train["income"]),
        other=_model(OTHER_FEATURES).fit(train[FEATURES], train["income"]),
    )


def _logged(rows: pd.DataFrame, model: Any, *, probabilities: bool = True) -> pa.Table:
    """``rows`` with the model's predictions (and probabilities) as the capture stores them."""
    table = pa.Table.from_pandas(rows[FEATURES], preserve_index=False)
    table = table.append_column("prediction", pa.array(model.predict(rows[FEATURES])))
    if probabilities:
        scores = model.predict_proba(rows[FEATURES]).tolist()
        table = table.append_column("probabilities", pa.array(scores, pa.list_(pa.float64())))
    return table


def _reference(adult: Adult, *, outputs: bool = True) -> pa.Table:
    """The reference rows with their label, and the model's outputs when ``outputs``."""
    rows = adult.reference
    if not outputs:
        return pa.Table.from_pandas(rows, preserve_index=False)
    scores = adult.model.predict_proba(rows[FEATURES])[:, 1]
    table = _logged(rows, adult.model, probabilities=False)
    return table.append_column("income", pa.array(rows["income"])).append_column(
        "proba_>50K", pa.array(scores)
    )


def _input(reference: pa.Table, current: pa.Table) -> SignalInput:
    profile = build_reference_profile(reference)
    return SignalInput(profile=profile, reference=reference, current=current, roles=ROLES)


def _window(adult: Adult, k: int) -> pd.DataFrame:
    return adult.production.iloc[k * WINDOW : (k + 1) * WINDOW]


SIGNAL = Signal(kind=SignalKind.attribution_drift)


def test_an_unchanged_model_keeps_its_attributions_in_most_windows(adult: Adult) -> None:
    reference = _reference(adult)
    outcomes = [
        compute_signal(SIGNAL, _input(reference, _logged(_window(adult, k), adult.model)))
        for k in range(6)
    ]
    assert sum(o.breached for o in outcomes) <= 1, [o.summary for o in outcomes]
    ndcg = [_value(o.metrics, "ndcg") for o in outcomes]
    assert np.median(ndcg) > 0.97, ndcg
    first = outcomes[0]
    assert first.summary["explained"] == "probability"  # both sides have the probabilities
    assert first.summary["fidelity_metric"] == "r2"
    assert _value(first.metrics, "reference_fidelity") > 0.8
    assert first.summary["reference_top"][0] == first.summary["window_top"][0]
    shap = {m.feature for m in first.metrics if m.metric == "mean_abs_shap"}
    assert shap == set(FEATURES)


def test_a_model_relying_on_other_features_breaches(adult: Adult) -> None:
    window = _logged(_window(adult, 0), adult.other)
    outcome = compute_signal(SIGNAL, _input(_reference(adult), window))
    assert outcome.breached and _value(outcome.metrics, "ndcg") < 0.9
    assert set(outcome.summary["window_top"][:3]) <= set(OTHER_FEATURES)
    assert not set(outcome.summary["reference_top"][:3]) & set(OTHER_FEATURES)


def test_predicted_classes_are_explained_when_a_side_has_no_probabilities(adult: Adult) -> None:
    reference = _reference(adult)
    same = _logged(_window(adult, 1), adult.model, probabilities=False)
    outcome = compute_signal(SIGNAL, _input(reference, same))
    assert outcome.summary["explained"] == "prediction"
    assert outcome.summary["fidelity_metric"] == "balanced_accuracy"
    assert not outcome.breached, outcome.summary
    other = _logged(_window(adult, 1), adult.other, probabilities=False)
    assert compute_signal(SIGNAL, _input(reference, other)).breached


def test_threshold_and_top_n_take_effect(adult: Adult) -> None:
    data = _input(_reference(adult), _logged(_window(adult, 2), adult.other))
    default = compute_signal(Signal(kind=SignalKind.attribution_drift, options={"top_n": 3}), data)
    lenient = Signal(kind=SignalKind.attribution_drift, threshold=0.1, options={"top_n": 3})
    outcome = compute_signal(lenient, data)
    ndcg = next(m for m in outcome.metrics if m.metric == "ndcg")
    assert ndcg.value == _value(default.metrics, "ndcg") and 0.1 < ndcg.value < 0.9
    assert default.breached and not outcome.breached and ndcg.threshold == 0.1
    assert outcome.summary["top_n"] == 3 and len(outcome.summary["window_top"]) == 3


def test_a_threshold_above_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="threshold is the NDCG below which the signal"):
        Signal(kind=SignalKind.attribution_drift, threshold=1.5)


def test_a_reference_without_the_models_outputs_fails_the_signal(adult: Adult) -> None:
    window = _logged(_window(adult, 0), adult.model)
    with pytest.raises(InvalidInput, match=r"needs the model's outputs in the reference"):
        compute_signal(SIGNAL, _input(_reference(adult, outputs=False), window))


def test_both_sides_must_log_the_same_output(adult: Adult) -> None:
    scores_only = _reference(adult).drop_columns(["prediction"])
    window = _logged(_window(adult, 0), adult.model, probabilities=False)
    with pytest.raises(InvalidInput, match="the reference has the model's probabilities but no"):
        compute_signal(SIGNAL, _input(scores_only, window))


def test_a_surrogate_that_does_not_reproduce_the_model_fails_the_signal(adult: Adult) -> None:
    # the model reads relationship, education and capital gains; explained from two columns it
    # barely uses, no surrogate can reproduce it, and its attributions would not be the model's
    window = _logged(_window(adult, 0), adult.model)
    signal = Signal(kind=SignalKind.attribution_drift, features=("fnlwgt", "race"))
    with pytest.raises(
        InvalidState, match=r"reference reproduces its outputs with r2 -?0\.\d+ < min_fidelity 0\.7"
    ):
        compute_signal(signal, _input(_reference(adult), window))


def test_a_small_window_is_not_judged(adult: Adult) -> None:
    window = _logged(_window(adult, 0).iloc[:150], adult.model)
    outcome = compute_signal(SIGNAL, _input(_reference(adult), window))
    assert not outcome.breached and _value(outcome.metrics, "ndcg") is None
    assert outcome.summary == {
        "method": "surrogate",
        "reason": "window too small",
        "window_rows": 150,
        "min_window_rows": 200,
        "seconds": outcome.summary["seconds"],
    }


def test_the_reference_side_is_fitted_once_per_reference_and_options(adult: Adult) -> None:
    cache = attribution.SurrogateCache()
    reference = _reference(adult)
    for k, max_rows in ((0, 2000), (1, 2000), (2, 500)):
        compared = attribution.Compared(
            reference=reference,
            current=_logged(_window(adult, k), adult.model),
            roles=ROLES,
            features=tuple(FEATURES),
        )
        options = {"max_rows": max_rows}
        signal = Signal(kind=SignalKind.attribution_drift, options=options)
        outcome = attribution.attribution_drift(signal, compared, cache)
        assert outcome.summary["reference_rows_explained"] == max_rows
    assert cache.cache.builds == 2


def _value(metrics: Any, name: str) -> Any:
    return next(m.value for m in metrics if m.metric == name and not m.feature)


# Through the app: a deployed model's traffic, a reference with and one without its outputs.
SIGNATURE = Signature(
    inputs=[ColumnSpec(name=c, type="float" if c in ADULT_NUMERIC else "str") for c in FEATURES],
    outputs=[ColumnSpec(name="income", type="str")],
    task="binary",
    probabilities=True,
    classes=["<=50K", ">50K"],
)


def _monitor(name: str, reference: str) -> str:
    return f"""
name: {name}
target: {{name: scorer}}
reference: {{dataset: {reference}}}
schedule: {{interval: P1D, start: "2026-03-01T00:00:00Z"}}
signals:
  - {{kind: data_drift}}
  - {{kind: attribution_drift, threshold: 0.85, options: {{top_n: 8}}}}
"""


def _records(adult: Adult) -> list[dict[str, Any]]:
    """A day of the model's traffic: 600 production rows with its predictions."""
    rows = _window(adult, 3).iloc[:600]
    scores = adult.model.predict_proba(rows[FEATURES]).tolist()
    predictions = adult.model.predict(rows[FEATURES])
    features = rows[FEATURES].astype(object).where(rows[FEATURES].notna(), None)
    return [
        {
            "correlation_id": f"r{k}",
            "timestamp": (T0 + timedelta(minutes=2 * k)).isoformat(),
            "features": features.iloc[k].to_dict(),
            "prediction": str(predictions[k]),
            "probabilities": scores[k],
        }
        for k in range(len(rows))
    ]


def test_through_the_app_a_reference_without_outputs_fails_only_that_signal(
    client: TestClient, world: World, services: Services, settings: Settings, adult: Adult
) -> None:
    deploy(services, SIGNATURE)
    register_reference(client, world, settings, _reference(adult), "with-outputs")
    register_reference(client, world, settings, _reference(adult, outputs=False), "labels-only")
    send(client, world, _records(adult))
    yaml = world.headers("data-scientist") | {"Content-Type": "application/yaml"}
    runs = {}
    for name, reference in (("explained", "with-outputs"), ("unexplained", "labels-only")):
        r = client.post(
            f"{PROJECT}/monitors/apply", content=_monitor(name, reference), headers=yaml
        )
        assert r.status_code == 200, r.text
        body = {"window_end": (T0 + timedelta(days=1)).isoformat()}
        r = client.post(
            f"{PROJECT}/monitors/{name}/run", json=body, headers=world.headers("ml-engineer")
        )
        assert r.status_code == 200, r.text
        runs[name] = r.json()["run"]
    explained = runs["explained"]
    assert explained["status"] == "succeeded", explained
    signal = explained["summary"]["attribution_drift"]
    assert signal["status"] == "succeeded" and not signal["breached"], signal
    assert signal["ndcg"] > 0.85 and signal["top_n"] == 8 and signal["explained"] == "probability"
    unexplained = runs["unexplained"]
    assert unexplained["status"] == "partial", unexplained
    failed = unexplained["summary"]["attribution_drift"]
    assert failed["status"] == "failed"
    assert failed["error"].startswith("invalid_input: attribution drift needs the model's outputs")
    assert unexplained["summary"]["data_drift"]["status"] == "succeeded"
    r = client.get(
        f"{PROJECT}/monitors/explained/results",
        params={"signal": "attribution_drift"},
        headers=world.headers("viewer"),
    )
    points = {(p["metric"], p["feature"]) for p in r.json()["items"]}
    assert ("ndcg", "") in points and ("mean_abs_shap", "relationship") in points
