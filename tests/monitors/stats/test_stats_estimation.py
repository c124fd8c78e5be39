"""Label-free performance (CBPE, DLE) on Adult: honest bands, and NannyML 0.13.1's numbers.

A model is trained on one part of the Adult training split, the reference is a second,
disjoint part scored by it, and the windows are the Adult test split (unshifted), its people
over 45 only (a covariate shift), and its men only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from stats_data import ADULT_CATEGORICAL, ADULT_NUMERIC

from monitors.stats.estimation import (
    CBPE_METRICS,
    CbpeModel,
    estimate_cbpe,
    fit_cbpe,
    realised_cbpe,
)
from monitors.stats.loss_estimation import estimate_dle, fit_dle, realised_dle

TRAIN = slice(0, 8_000)
REFERENCE = slice(8_000, 18_000)
WINDOW = 1_000
CHUNKS = 10
FEATURES = [c for c in ADULT_CATEGORICAL if c != "income"] + [
    c for c in ADULT_NUMERIC if c != "hours-per-week"
]
# DLE regresses hours-per-week on the other columns; its error model sees the same features.
DLE_FEATURES = tuple(FEATURES)


def _pipeline(estimator: Any, features: list[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [c for c in features if c in ADULT_CATEGORICAL]
    numeric = [c for c in features if c not in categorical]
    encode = ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                categorical,
            ),
            ("num", StandardScaler(), numeric),
        ]
    )
    return make_pipeline(encode, estimator)


@pytest.fixture(scope="module")
def scored(adult: pd.DataFrame, adult_test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Reference and test rows with a logistic regression's scores and predictions."""
    from sklearn.linear_model import LogisticRegression

    model = _pipeline(LogisticRegression(max_iter=2_000), FEATURES)
    train = adult.iloc[TRAIN]
    model.fit(train[FEATURES], train["income"] == ">50K")
    out = {}
    for name, frame in (("reference", adult.iloc[REFERENCE]), ("test", adult_test)):
        frame = frame.reset_index(drop=True).copy()
        frame["score"] = model.predict_proba(frame[FEATURES])[:, 1]
        frame["predicted"] = frame["score"] >= 0.5
        frame["truth"] = frame["income"] == ">50K"
        out[name] = frame
    return out


def _cbpe(reference: pd.DataFrame) -> CbpeModel:
    return fit_cbpe(
        reference["truth"].to_numpy(),
        reference["predicted"].to_numpy(),
        reference["score"].to_numpy(),
        chunks=CHUNKS,
    )


def _windows(test: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """Windows of the test split: unshifted, people over 45 only, men only."""
    for name, rows in (
        ("unshifted", test),
        ("over 45", test[test["age"] > 45]),
        ("men", test[test["sex"] == "Male"]),
    ):
        for start in range(0, len(rows) - WINDOW + 1, WINDOW):
            yield name, rows.iloc[start : start + WINDOW]


def test_cbpe_intervals_cover_the_realised_performance(scored: dict[str, pd.DataFrame]) -> None:
    model = _cbpe(scored["reference"])
    covered: dict[str, list[bool]] = {m: [] for m in CBPE_METRICS}
    shifted_accuracy = []
    for name, window in _windows(scored["test"]):
        truth, predicted, score = (window[c].to_numpy() for c in ("truth", "predicted", "score"))
        real = realised_cbpe(truth, predicted, score)
        for estimate in estimate_cbpe(model, predicted, score, real):
            inside = estimate.lower_confidence <= real[estimate.metric] <= estimate.upper_confidence
            covered[estimate.metric].append(inside)
            if name == "over 45" and estimate.metric == "accuracy":
                shifted_accuracy.append((estimate.value, real["accuracy"]))
    for metric, hits in covered.items():
        assert len(hits) >= 30
        assert np.mean(hits) >= 0.9, (metric, np.mean(hits))
    # The shift moves accuracy (older people earn more: harder cases) and CBPE follows it.
    base = model.bands["accuracy"].mean
    assert all(e < base - 0.02 and r < base - 0.02 for e, r in shifted_accuracy)


def test_an_unshifted_window_without_labels_stays_in_the_band(
    scored: dict[str, pd.DataFrame],
) -> None:
    reference = scored["reference"]
    model = _cbpe(reference)
    assert model.calibrator is not None  # a logistic regression on Adult gains from it
    window = scored["test"].iloc[:WINDOW]
    estimates = estimate_cbpe(model, window["predicted"].to_numpy(), window["score"].to_numpy())
    assert not any(e.outside_band for e in estimates)
    assert all(e.realised is None for e in estimates)


def test_a_reference_too_small_for_its_chunks_is_refused() -> None:
    truth = np.array([True, False] * 4)
    with pytest.raises(ValueError, match="8 reference rows cannot make 10 chunks"):
        fit_cbpe(truth, truth, truth.astype(float) * 0.8 + 0.1, chunks=10)


# --- DLE ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regressed(adult: pd.DataFrame, adult_test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Reference and test rows with a ridge regression's predicted hours-per-week."""
    from sklearn.linear_model import Ridge

    model = _pipeline(Ridge(), FEATURES)
    train = adult.iloc[TRAIN]
    model.fit(train[FEATURES], train["hours-per-week"])
    out = {}
    for name, frame in (("reference", adult.iloc[REFERENCE]), ("test", adult_test)):
        frame = frame.reset_index(drop=True).copy()
        frame["y_pred"] = model.predict(frame[FEATURES])
        out[name] = frame
    return out


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame[list(DLE_FEATURES)], preserve_index=False)


@pytest.mark.parametrize("metric", ["mae", "rmse"])
def test_dle_intervals_cover_the_realised_loss(
    regressed: dict[str, pd.DataFrame], metric: str
) -> None:
    reference = regressed["reference"]
    model = fit_dle(
        metric,
        _arrow(reference),
        DLE_FEATURES,
        reference["hours-per-week"].to_numpy(float),
        reference["y_pred"].to_numpy(),
        chunks=CHUNKS,
    )
    hits = []
    for _, window in _windows(regressed["test"]):
        truth = window["hours-per-week"].to_numpy(float)
        predicted = window["y_pred"].to_numpy()
        real = realised_dle(metric, truth, predicted)
        estimate = estimate_dle(model, _arrow(window), predicted, real)
        assert estimate.realised == real
        hits.append(estimate.lower_confidence <= real <= estimate.upper_confidence)  # type: ignore[operator]
    assert len(hits) >= 30
    assert np.mean(hits) >= 0.9, np.mean(hits)


# --- parity with NannyML 0.13.1 ---------------------------------------------------------------


def _nannyml() -> Any:
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # it otherwise reports usage over the network
    return pytest.importorskip("nannyml")


NML_COLUMNS = {
    "roc_auc": "roc_auc",
    "accuracy": "accuracy",
    "f1": "f1",
    "precision": "precision",
    "recall": "recall",
}


def test_cbpe_equals_nannyml_per_chunk(scored: dict[str, pd.DataFrame]) -> None:
    nml = _nannyml()
    reference = scored["reference"]
    analysis = scored["test"].iloc[: 8 * WINDOW]
    columns = {"y_pred_proba": "score", "y_pred": "predicted", "y_true": "truth"}
    estimator = nml.CBPE(
        **columns,
        problem_type="classification_binary",
        metrics=list(CBPE_METRICS),
        chunk_size=WINDOW,
    )
    as_ints = {"predicted": int, "truth": int}
    estimator.fit(reference[["score", "predicted", "truth"]].astype(as_ints))
    result = estimator.estimate(analysis[["score", "predicted", "truth"]].astype(as_ints))
    theirs = result.filter(period="analysis").data
    model = _cbpe(reference)
    assert (model.calibrator is not None) == estimator.needs_calibration
    for i in range(8):
        window = analysis.iloc[i * WINDOW : (i + 1) * WINDOW]
        ours = estimate_cbpe(model, window["predicted"].to_numpy(), window["score"].to_numpy())
        for e in ours:
            row = theirs[e.metric].iloc[i]
            assert e.value == pytest.approx(row["value"], abs=1e-9), e.metric
            assert e.sampling_error == pytest.approx(row["sampling_error"], abs=1e-9)
            assert e.lower_threshold == pytest.approx(row["lower_threshold"], abs=1e-9)
            assert e.upper_threshold == pytest.approx(row["upper_threshold"], abs=1e-9)
            assert e.lower_confidence == pytest.approx(row["lower_confidence_boundary"], abs=1e-9)


# NannyML fits LightGBM, this module HistGradientBoosting: the two error models differ, so the
# estimates agree to within a fraction of the estimate's own sampling error, not to 1e-9.
# Measured on these windows: at most 0.36 (MAE) and 0.34 (RMSE) sampling errors apart.
DLE_TOLERANCE = 0.5  # in sampling errors of the window


@pytest.mark.parametrize("metric", ["mae", "rmse"])
def test_dle_agrees_with_nannyml_within_its_sampling_error(
    regressed: dict[str, pd.DataFrame], metric: str
) -> None:
    nml = _nannyml()
    reference, analysis = regressed["reference"], regressed["test"].iloc[: 8 * WINDOW]
    categorical = [c for c in DLE_FEATURES if c in ADULT_CATEGORICAL]
    columns = [*DLE_FEATURES, "y_pred", "hours-per-week"]

    def frame(rows: pd.DataFrame) -> pd.DataFrame:
        out = rows[columns].copy()
        out[categorical] = out[categorical].astype("category")
        return out

    estimator = nml.DLE(
        feature_column_names=list(DLE_FEATURES),
        y_pred="y_pred",
        y_true="hours-per-week",
        metrics=[metric],
        chunk_size=WINDOW,
        hyperparameters={"n_jobs": 1, "verbose": -1},  # one thread, quiet: same model
    )
    estimator.fit(frame(reference))
    theirs = estimator.estimate(frame(analysis)).filter(period="analysis").data[metric]
    model = fit_dle(
        metric,
        _arrow(reference),
        DLE_FEATURES,
        reference["hours-per-week"].to_numpy(float),
        reference["y_pred"].to_numpy(),
        chunks=CHUNKS,
    )
    gaps = []
    for i in range(8):
        window = analysis.iloc[i * WINDOW : (i + 1) * WINDOW]
        ours = estimate_dle(model, _arrow(window), window["y_pred"].to_numpy())
        row = theirs.iloc[i]
        # the same reference statistics give the same sampling error and thresholds
        assert ours.sampling_error == pytest.approx(row["sampling_error"], rel=1e-9)
        assert ours.lower_threshold == pytest.approx(row["lower_threshold"], rel=1e-9)
        assert ours.upper_threshold == pytest.approx(row["upper_threshold"], rel=1e-9)
        gaps.append(abs(ours.value - row["value"]) / ours.sampling_error)
    assert max(gaps) <= DLE_TOLERANCE, gaps
