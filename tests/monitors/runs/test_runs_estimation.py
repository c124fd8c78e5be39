"""Through the app: label-free performance (CBPE) of an Adult income model.

A logistic regression trained on one part of Adult; the reference is a second part scored by
it (labels, predictions and per-class scores); the endpoint logs the test split's people, the
last day married people only (a covariate shift that lowers the model's ROC AUC). The estimate
stays in its band on the ordinary days and leaves it on the shifted one; the logged labels give
the realised value beside the estimate; a signal without what it needs fails alone, saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.errors import InvalidInput
from governance.core.settings import Settings
from lineage.schemas import ColumnSpec, Signature
from monitors.runs.estimation import FITS
from monitors.runs.signals import SignalInput, compute_signal
from monitors.specs.document import load_specs
from monitors.stats.reference import build_reference_profile
from steward.api.deps import Services
from tests.builders import World
from tests.monitors.runs.traffic import apply_yaml, deploy, register_reference, run_day, send
from tests.monitors.stats.stats_data import read_adult_test, read_adult_train

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ROWS = 500
DAYS = 3
CLASSES = ["<=50K", ">50K"]
PROJECT = "/api/v1/projects/alpha"
NUMERIC = ["age", "education-num", "hours-per-week"]
CATEGORICAL = ["sex", "marital-status"]
FEATURES = NUMERIC + CATEGORICAL
MONITOR = """
name: {name}
target: {{name: {endpoint}}}
reference: {{dataset: ref}}
schedule: {{interval: P1D, start: "2026-03-01T00:00:00Z"}}
signals:
  - {{kind: estimated_performance, name: cbpe, options: {{pos_label: ">50K"}}}}
  - kind: estimated_performance
    name: cbpe-accuracy
    threshold: 0.7
    options: {{metric: accuracy, pos_label: ">50K", chunks: 8, min_window_rows: 100}}
"""


def _model(train: pd.DataFrame) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("num", StandardScaler(), NUMERIC),
        ]
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=1_000))
    return model.fit(train[FEATURES], train["income"] == CLASSES[1])


def _scored(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    out = rows[[*FEATURES, "income"]].reset_index(drop=True).copy()
    out["score"] = model.predict_proba(out[FEATURES])[:, 1]
    out["prediction"] = np.where(out["score"] >= 0.5, CLASSES[1], CLASSES[0])
    return out


def _reference(scored: pd.DataFrame) -> pa.Table:
    """Features, label, prediction and the positive class's score (``probability_>50K``)."""
    return pa.table(
        {
            **{c: scored[c].to_list() for c in FEATURES},
            "label": scored["income"].to_list(),
            "prediction": scored["prediction"].to_list(),
            f"probability_{CLASSES[1]}": scored["score"].to_list(),
        }
    )


def _day(day: int, scored: pd.DataFrame) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records, labels = [], []
    for k, row in enumerate(scored.itertuples(index=False)):
        values = dict(zip(scored.columns, row, strict=True))
        cid = f"d{day}c{k}"
        records.append(
            {
                "correlation_id": cid,
                "timestamp": (T0 + timedelta(days=day, minutes=k)).isoformat(),
                "features": {c: values[c] for c in FEATURES},
                "prediction": values["prediction"],
                "probabilities": [1 - values["score"], values["score"]],
            }
        )
        labels.append({"correlation_id": cid, "label": values["income"]})
    return records, labels


def _signature(*, probabilities: bool) -> Signature:
    return Signature(
        inputs=[
            *(ColumnSpec(name=c, type="float") for c in NUMERIC),
            *(ColumnSpec(name=c, type="str") for c in CATEGORICAL),
        ],
        outputs=[ColumnSpec(name="prediction", type="str")],
        task="binary",
        probabilities=probabilities,
        classes=CLASSES,
    )


@pytest.fixture
def staged(
    client: TestClient, world: World, services: Services, settings: Settings
) -> dict[str, Any]:
    """Three days on an endpoint logging probabilities and one that does not; runs of each."""
    train, test = read_adult_train(), read_adult_test()
    model = _model(train.iloc[:4_000])
    deploy(services, _signature(probabilities=True), endpoint="scorer", model="scorer")
    deploy(services, _signature(probabilities=False), endpoint="plain", model="plain")
    register_reference(client, world, settings, _reference(_scored(model, train.iloc[4_000:8_000])))
    married = test[test["marital-status"] == "Married-civ-spouse"]
    days = [test.iloc[:ROWS], test.iloc[ROWS : 2 * ROWS], married.iloc[:ROWS]]
    for day, rows in enumerate(days):
        records, labels = _day(day, _scored(model, rows))
        send(client, world, records, endpoint="scorer", labels=labels)
        bare = [{k: v for k, v in r.items() if k != "probabilities"} for r in records]
        send(client, world, bare, endpoint="plain")
    for name, endpoint in (("cbpe", "scorer"), ("plain", "plain")):
        r = apply_yaml(client, world, MONITOR.format(name=name, endpoint=endpoint))
        assert r.status_code == 200, r.text
    FITS.clear()  # each test fits its own reference (another test may have cached an equal one)
    return {
        "runs": [run_day(client, world, "cbpe", d) for d in range(DAYS)],
        "plain": run_day(client, world, "plain", 0),
    }


def test_cbpe_follows_a_shift_and_shows_the_realised_value(
    client: TestClient, world: World, staged: dict[str, Any]
) -> None:
    runs = staged["runs"]
    assert [r["status"] for r in runs] == ["succeeded"] * DAYS
    # one fit per reference and fitting options (the two signals' chunks differ), not per window
    assert len(FITS) == 2
    cbpe = [r["summary"]["cbpe"] for r in runs]
    assert [s["breached"] for s in cbpe] == [False, False, True]
    for s in cbpe:
        assert s["method"] == "cbpe" and s["metric"] == "roc_auc" and s["calibrated"] is True
        assert s["window_rows"] == ROWS and s["labelled_rows"] == ROWS
        assert s["window_large_enough"] is True
        # the estimate's interval holds the realised ROC AUC of the logged labels
        assert s["roc_auc_lower_confidence"] <= s["realised_roc_auc"]
        assert s["realised_roc_auc"] <= s["roc_auc_upper_confidence"]
    shifted = cbpe[-1]
    assert shifted["outside_band"] is True and shifted["verdict"] == "degraded"
    assert shifted["estimated_roc_auc"] < shifted["roc_auc_lower_threshold"]
    # the threshold of the second signal bounds its accuracy estimate (0.7), the band too
    accuracy = runs[-1]["summary"]["cbpe-accuracy"]
    assert accuracy["breached"] is True and accuracy["beyond_threshold"] is True
    r = client.get(
        f"{PROJECT}/monitors/cbpe/results",
        params={"signal": "cbpe", "limit": 500},
        headers=world.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    stored = [p for p in r.json()["items"] if p["metric"] == "estimated_roc_auc"]
    assert len(stored) == DAYS and sum(p["breached"] for p in stored) == 1


def test_without_logged_probabilities_the_signal_fails_with_the_reason(
    staged: dict[str, Any],
) -> None:
    run = staged["plain"]
    assert run["status"] == "failed", run
    cbpe = run["summary"]["cbpe"]
    assert cbpe["status"] == "failed"
    assert "CBPE needs the window's probabilities: the endpoint logs none" in cbpe["error"]


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ("{metric: mae}", "metric", "mae is not an estimated classification metric"),
        ("{task: regression, pos_label: 1}", "pos_label", "applies to classification only"),
        ("{chunks: 1}", "chunks", "greater than or equal to 2"),
    ],
)
def test_contradicting_options_are_refused_naming_the_field(
    client: TestClient, world: World, options: str, field: str, message: str
) -> None:
    text = (
        "name: bad\ntarget: {name: scorer}\n"
        f"signals: [{{kind: estimated_performance, options: {options}}}]\n"
    )
    r = apply_yaml(client, world, text)
    assert r.status_code == 422, r.text
    assert field in r.text and message in r.text


HOURS = """
name: hours
target: {name: hours}
reference: {dataset: hours-ref}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - {kind: estimated_performance, options: {task: regression, metric: rmse}}
"""


# The regressor's inputs: hours-per-week is its target.
HOURS_INPUTS = ["age", "education-num", *CATEGORICAL, "income"]


def _regressed(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    out = rows[[*HOURS_INPUTS, "hours-per-week"]].reset_index(drop=True).copy()
    out["prediction"] = model.predict(out[HOURS_INPUTS])
    return out


def _hours_model(train: pd.DataFrame) -> Any:
    """A ridge regression of hours-per-week on age, education, sex, marital status, income."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = ["age", "education-num"]
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), [*CATEGORICAL, "income"]),
            ("num", StandardScaler(), numeric),
        ]
    )
    return make_pipeline(encode, Ridge()).fit(train[HOURS_INPUTS], train["hours-per-week"])


def test_dle_estimates_a_regressors_rmse_through_the_monitor(
    client: TestClient, world: World, services: Services, settings: Settings
) -> None:
    inputs = HOURS_INPUTS
    train, test = read_adult_train(), read_adult_test()
    model = _hours_model(train.iloc[:4_000])
    signature = Signature(
        inputs=[ColumnSpec(name=c, type="float" if c in NUMERIC else "str") for c in inputs],
        outputs=[ColumnSpec(name="prediction", type="float")],
        task="regression",
    )
    deploy(services, signature, endpoint="hours", model="hours")
    reference = _regressed(model, train.iloc[4_000:8_000])
    table = pa.table(
        {
            **{c: reference[c].to_list() for c in inputs},
            "label": reference["hours-per-week"].astype(float).to_list(),
            "prediction": reference["prediction"].to_list(),
        }
    )
    register_reference(client, world, settings, table, name="hours-ref")
    window = _regressed(model, test.iloc[:ROWS])
    records = [
        {
            "correlation_id": f"h{k}",
            "timestamp": (T0 + timedelta(minutes=k)).isoformat(),
            "features": {c: row[c] for c in inputs},
            "prediction": float(row["prediction"]),
        }
        for k, row in window.iterrows()
    ]
    labels = [
        {"correlation_id": f"h{k}", "label": float(row["hours-per-week"])}
        for k, row in window.iterrows()
    ]
    send(client, world, records, endpoint="hours", labels=labels)
    assert apply_yaml(client, world, HOURS).status_code == 200
    run = run_day(client, world, "hours", 0)
    assert run["status"] == "succeeded", run
    dle = run["summary"]["estimated_performance"]
    assert dle["method"] == "dle" and dle["metric"] == "rmse" and dle["breached"] is False
    assert dle["features"] == inputs and dle["labelled_rows"] == ROWS
    assert dle["rmse_lower_confidence"] <= dle["realised_rmse"] <= dle["rmse_upper_confidence"]


def test_a_reference_without_scores_or_labels_fails_the_signal_alone(
    client: TestClient, world: World, staged: dict[str, Any], settings: Settings
) -> None:
    reference = pa.table({"age": [30.0, 40.0], "sex": ["M", "F"], "prediction": CLASSES})
    register_reference(client, world, settings, reference, name="bare")
    text = MONITOR.format(name="bare", endpoint="scorer").replace("dataset: ref", "dataset: bare")
    text += "  - {kind: data_drift}\n"
    assert apply_yaml(client, world, text).status_code == 200
    run = run_day(client, world, "bare", 0)
    assert run["status"] == "partial", run
    error = run["summary"]["cbpe"]["error"]
    assert "CBPE needs labels in the reference (a column label, target" in error, error
    assert run["summary"]["data_drift"]["status"] == "succeeded"


def test_dle_refuses_a_window_without_the_features_it_learnt() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=400)
    reference = pa.table({"x": x, "prediction": 2 * x, "label": 2 * x + rng.normal(size=400)})
    [spec] = load_specs(
        "name: m\ntarget: {name: e}\n"
        "signals: [{kind: estimated_performance, options: {task: regression}}]\n"
    )
    data = SignalInput(
        profile=build_reference_profile(reference),
        reference=reference,
        current=reference.drop_columns(["x"]),
    )
    with pytest.raises(InvalidInput, match="DLE needs these columns in the window: x"):
        compute_signal(spec.signals[0], data)
    strings = reference.set_column(2, "label", pa.array(["a"] * 400))
    with pytest.raises(InvalidInput, match="DLE needs numbers as the reference's label"):
        compute_signal(
            spec.signals[0], SignalInput(profile=data.profile, reference=strings, current=reference)
        )
