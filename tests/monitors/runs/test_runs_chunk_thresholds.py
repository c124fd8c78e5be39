"""Distances at small windows through the monitor path: applied over HTTP, backfilled, read back.

Windows of 60 rows are judged against the band of each distance over reference chunks of the
window's size; windows of 1,000 rows and a reference too short for enough chunks keep the tests'
fixed cut-offs; every run says which one judged.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.clock import ManualClock
from governance.core.db import Database
from monitors.runs.service import backfill
from monitors.runs.sources import (
    MemoryAlertSink,
    NoLineage,
    ProfileCache,
    RunEnvironment,
    StaticReferenceLoader,
    TableWindowReader,
)
from monitors.stats.thresholds import CHUNK_THRESHOLDS
from tests.builders import World
from tests.monitors.runs.conftest import HOUR, START
from tests.monitors.runs.synthetic import reference_table, traffic

BASE = "/api/v1/projects/alpha/monitors"
SCHEDULE = {"interval": "PT1H", "start": START.isoformat()}
NUMERIC = ["age", "hours"]
SIGNALS = [
    {"name": "wasserstein", "kind": "data_drift", "preset": "evidently", "method": "wasserstein",
     "features": NUMERIC},
    {"name": "jensenshannon", "kind": "data_drift", "preset": "evidently",
     "method": "jensenshannon"},
    {"name": "azure", "kind": "data_drift", "preset": "azure"},
    {"name": "predictions", "kind": "prediction_drift", "preset": "azure"},
]  # fmt: skip


def _env(rows: int, reference: pa.Table) -> RunEnvironment:
    """Twelve hourly windows of ``rows`` rows, shifted from the eighth on."""
    return RunEnvironment(
        windows=TableWindowReader({"scorer": traffic(START, windows=12, rows=rows, shift_from=8)}),
        references=StaticReferenceLoader({"train": reference}, default="train"),
        alerts=MemoryAlertSink(),
        lineage=NoLineage(),
        profiles=ProfileCache(),
    )


def _summaries(
    client: TestClient, world: World, db: Database, name: str, env: RunEnvironment
) -> list[dict[str, Any]]:
    """Apply the signals as monitor ``name``, backfill twelve windows, read their summaries."""
    body = {"name": name, "target": {"name": "scorer"}, "schedule": SCHEDULE, "signals": SIGNALS}
    r = client.post(BASE, json=body, headers=world.headers("data-scientist"))
    assert r.status_code == 201, r.text
    clock = ManualClock(START + 12 * HOUR)
    backfill(db, project="alpha", name=name, since=START, until=None, env=env, clock=clock)
    r = client.get(f"{BASE}/{name}/runs", headers=world.headers("viewer"))
    assert r.status_code == 200, r.text
    return [run["summary"] for run in sorted(r.json(), key=lambda run: run["window_end"])]


def test_small_windows_use_reference_chunk_thresholds_learnt_once(
    client: TestClient, world: World, db: Database
) -> None:
    learnt = CHUNK_THRESHOLDS.learnt
    runs = _summaries(client, world, db, "hourly", _env(60, reference_table()))
    for key in ("wasserstein", "jensenshannon", "azure", "predictions"):
        signals = [run[key] for run in runs]
        assert all(s["threshold_source"] == "reference_chunks" for s in signals), key
        thresholds = signals[0]["thresholds"]
        # 2,000 reference rows hold 33 chunks of 59 rows (60 bucketed down the ladder)
        assert (thresholds["chunk_rows"], thresholds["chunks"]) == (59, 33)
        if key != "predictions":
            # unshifted windows stay quiet, the shifted ones (age +2 sd, hours +3 sd) breach
            assert [s["breached"] for s in signals] == [False] * 8 + [True] * 4, key
    assert runs[0]["wasserstein"]["thresholds"]["reference_chunks"] == NUMERIC
    assert runs[0]["predictions"]["thresholds"]["reference_chunks"] == ["prediction"]
    # twelve windows of one size: each signal's thresholds were learnt once, not per window
    assert CHUNK_THRESHOLDS.learnt - learnt == len(SIGNALS)


def test_the_learnt_threshold_is_stored_with_each_result(
    client: TestClient, world: World, db: Database
) -> None:
    _summaries(client, world, db, "hourly", _env(60, reference_table()))
    r = client.get(f"{BASE}/hourly/results", headers=world.headers("viewer"))
    ages = [p for p in r.json()["items"] if p["feature"] == "age" and p["signal"] == "wasserstein"]
    assert len(ages) == 12
    # one band for every window of the size, above the fixed 0.1 a 60-row sample often exceeds
    assert len({p["threshold"] for p in ages}) == 1 and ages[0]["threshold"] > 0.1


@pytest.mark.parametrize(
    ("rows", "reference", "because"),
    [
        (1000, reference_table(), "window of 1000 rows is not small (< 1000)"),
        (60, reference_table(250), "make 4 chunks of 59 rows, fewer than 5"),
    ],
)
def test_large_windows_and_short_references_keep_the_fixed_cut_off(
    client: TestClient,
    world: World,
    db: Database,
    rows: int,
    reference: pa.Table,
    because: str,
) -> None:
    runs = _summaries(client, world, db, "fixed", _env(rows, reference))
    for run in runs:
        for key in ("wasserstein", "jensenshannon", "azure", "predictions"):
            assert run[key]["threshold_source"] == "fixed", key
            assert run[key]["thresholds"]["reference_chunks"] == []
            assert because in run[key]["thresholds"]["fixed_because"]
