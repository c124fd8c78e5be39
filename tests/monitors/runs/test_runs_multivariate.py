"""Through the app: multivariate drift of an Adult income model's inputs.

The reference is one half of Adult's test split; the endpoint logs people of the other half:
a day as they are, a day with their marital status shuffled across them (every column's
distribution kept, its link with age, sex and relationship broken), a day with too few people,
and a day whose records lack a feature. The reconstruction error and the domain classifier
breach on the shuffled day only; per-column drift does not see it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from lineage.schemas import ColumnSpec, Signature
from monitors.runs.multivariate import FITS
from steward.api.deps import Services
from tests.builders import World
from tests.monitors.runs.traffic import apply_yaml, deploy, register_reference, run_day, send
from tests.monitors.stats.stats_data import read_adult_test

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ROWS = 500
PROJECT = "/api/v1/projects/alpha"
NUMERIC = ["age", "education-num", "hours-per-week"]
CATEGORICAL = ["sex", "marital-status", "relationship"]
FEATURES = NUMERIC + CATEGORICAL
SIGNATURE = Signature(
    inputs=[
        *(ColumnSpec(name=c, type="float") for c in NUMERIC),
        *(ColumnSpec(name=c, type="str") for c in CATEGORICAL),
    ],
    outputs=[ColumnSpec(name="prediction", type="str")],
    task="binary",
    classes=["<=50K", ">50K"],
)
MONITOR = """
name: joint
target: {name: scorer}
reference: {dataset: ref}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - {kind: multivariate_drift, name: pca}
  - {kind: data_drift}
"""
CLASSIFIER = """
name: classifier
target: {name: scorer}
reference: {dataset: ref}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - kind: multivariate_drift
    options: {method: domain_classifier, cv_folds: 3, max_reference_rows: 800, chunks: 4}
"""


def _records(day: int, rows: pd.DataFrame, features: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "correlation_id": f"d{day}c{k}",
            "timestamp": (T0 + timedelta(days=day, minutes=k)).isoformat(),
            "features": {c: row[c] for c in features},
            "prediction": row["income"],
        }
        for k, row in enumerate(rows.to_dict("records"))
    ]


@pytest.fixture
def runs(
    client: TestClient, world: World, services: Services, settings: Settings
) -> list[dict[str, Any]]:
    """Four days logged and run: as they are, unlinked, too few, without ``sex``."""
    people = read_adult_test()[[*FEATURES, "income"]]
    people = people.iloc[np.random.default_rng(0).permutation(len(people))]
    reference, pool = people.iloc[:4000], people.iloc[8000:].reset_index(drop=True)
    deploy(services, SIGNATURE)
    table = pa.Table.from_pandas(
        reference.rename(columns={"income": "label"}), preserve_index=False
    )
    register_reference(client, world, settings, table)
    unlinked = pool.iloc[ROWS : 2 * ROWS].copy()
    unlinked["marital-status"] = np.random.default_rng(1).permutation(unlinked["marital-status"])
    days = [pool.iloc[:ROWS], unlinked, pool.iloc[2 * ROWS : 2 * ROWS + 20]]
    for day, rows in enumerate(days):
        send(client, world, _records(day, rows, FEATURES))
    without_sex = [c for c in FEATURES if c != "sex"]
    send(client, world, _records(3, pool.iloc[3 * ROWS : 3 * ROWS + 100], without_sex))
    r = apply_yaml(client, world, MONITOR)
    assert r.status_code == 200, r.text
    FITS.clear()  # each test fits its own reference (another test may have cached an equal one)
    return [run_day(client, world, "joint", day) for day in range(4)]


def test_the_joint_shift_breaches_both_methods_and_not_per_column_drift(
    client: TestClient, world: World, runs: list[dict[str, Any]]
) -> None:
    summaries = [r["summary"] for r in runs[:2]]
    assert [s["pca"]["breached"] for s in summaries] == [False, True]
    assert [s["data_drift"]["breached"] for s in summaries] == [False, False]
    assert len(FITS) == 1  # one fit for every window of the reference, not one per window
    pca = summaries[1]["pca"]
    assert pca["method"] == "reconstruction_error" and pca["judged_by"] == "reference_chunks"
    assert pca["reconstruction_error"] > pca["upper_band"] > pca["lower_band"] > 0
    assert (pca["band_chunks"], pca["band_chunk_rows"]) == (200, ROWS)
    assert pca["window_large_enough"] is True and pca["window_rows"] == ROWS
    r = client.get(
        f"{PROJECT}/monitors/joint/results",
        params={"signal": "pca", "limit": 100},
        headers=world.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    stored = [p for p in r.json()["items"] if p["metric"] == "reconstruction_error"]
    # the small window has no value; the window without sex failed
    assert sorted((p["value"] is None, p["breached"]) for p in stored) == [
        (False, False),
        (False, True),
        (True, False),
    ]


def test_the_domain_classifier_tells_the_unlinked_day_from_the_reference(
    client: TestClient, world: World, runs: list[dict[str, Any]]
) -> None:
    r = apply_yaml(client, world, CLASSIFIER)
    assert r.status_code == 200, r.text
    plain, unlinked = (run_day(client, world, "classifier", d)["summary"] for d in (0, 1))
    signal = "multivariate_drift"
    assert [plain[signal]["breached"], unlinked[signal]["breached"]] == [False, True]
    auroc = unlinked[signal]
    assert auroc["method"] == "domain_classifier" and auroc["band_chunks"] == 4
    assert auroc["domain_classifier_auroc"] > auroc["upper_band"]
    assert plain[signal]["band_chunk_rows"] == auroc["band_chunk_rows"] == 192


def test_a_small_window_does_not_breach_and_says_so(runs: list[dict[str, Any]]) -> None:
    small = runs[2]
    assert small["status"] == "succeeded"
    summary = small["summary"]["pca"]
    assert summary["breached"] is False and summary["window_large_enough"] is False
    assert summary["reason"] == "window too small"
    assert (summary["window_rows"], summary["min_window_rows"]) == (20, 50)


def test_a_feature_missing_from_the_window_fails_the_signal_saying_which(
    runs: list[dict[str, Any]],
) -> None:
    run = runs[3]
    assert run["status"] == "partial", run
    summary = run["summary"]["pca"]
    assert summary["status"] == "failed"
    assert summary["error"] == "invalid_input: features missing from the window: sex"
    assert run["summary"]["data_drift"]["status"] == "succeeded"


def test_a_threshold_replaces_the_band(
    client: TestClient, world: World, runs: list[dict[str, Any]]
) -> None:
    text = MONITOR.replace("name: joint", "name: fixed").replace(
        "{kind: multivariate_drift, name: pca}", "{kind: multivariate_drift, threshold: 9.5}"
    )
    r = apply_yaml(client, world, text)
    assert r.status_code == 200, r.text
    body = {"window_end": (T0 + timedelta(days=2)).isoformat()}
    r = client.post(
        f"{PROJECT}/monitors/fixed/run", json=body, headers=world.headers("ml-engineer")
    )
    assert r.status_code == 200, r.text
    summary = r.json()["run"]["summary"]["multivariate_drift"]
    assert summary["judged_by"] == "threshold" and summary["breached"] is False


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ("{cv_folds: 3}", "cv_folds", "cv_folds does not apply to method reconstruction_error"),
        (
            "{method: domain_classifier, explained_variance: 0.9}",
            "explained_variance",
            "does not apply to method domain_classifier",
        ),
        (
            "{method: domain_classifier, min_window_rows: 4}",
            "min_window_rows",
            "below cv_folds (5)",
        ),
        ("{method: domain_classifier, chunks: 60}", "chunks", "at most 50 chunks"),
        ("{explained_variance: 1}", "explained_variance", "less than 1"),
        ("{method: pca}", "method", "'reconstruction_error' or 'domain_classifier'"),
    ],
)
def test_contradicting_options_are_refused_naming_the_field(
    client: TestClient, world: World, options: str, field: str, message: str
) -> None:
    signal = f"{{kind: multivariate_drift, options: {options}}}"
    text = f"name: bad\ntarget: {{name: scorer}}\nsignals: [{signal}]\n"
    r = apply_yaml(client, world, text)
    assert r.status_code == 422, r.text
    assert field in r.text and message in r.text


def test_an_auroc_threshold_above_one_is_refused(client: TestClient, world: World) -> None:
    signal = "{kind: multivariate_drift, threshold: 1.5, options: {method: domain_classifier}}"
    r = apply_yaml(client, world, f"name: bad\ntarget: {{name: scorer}}\nsignals: [{signal}]\n")
    assert r.status_code == 422, r.text
    assert "AUROC is at most 1" in r.text
