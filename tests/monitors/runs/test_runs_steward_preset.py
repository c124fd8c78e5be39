"""The steward drift preset through the monitor path: applied over HTTP, run, read over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
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
from tests.builders import World
from tests.monitors.runs.conftest import HOUR, START

BASE = "/api/v1/projects/alpha/monitors"
SCHEDULE = {"interval": "PT1H", "start": START.isoformat()}


def _apply(client: TestClient, world: World, name: str, signals: list[dict[str, Any]]) -> None:
    body = {"name": name, "target": {"name": "scorer"}, "schedule": SCHEDULE, "signals": signals}
    r = client.post(BASE, json=body, headers=world.headers("data-scientist"))
    assert r.status_code == 201, r.text


def _runs(client: TestClient, world: World, name: str) -> list[dict[str, Any]]:
    r = client.get(f"{BASE}/{name}/runs", headers=world.headers("viewer"))
    assert r.status_code == 200, r.text
    return sorted(r.json(), key=lambda run: run["window_end"])


def _backfill(db: Database, env: RunEnvironment, name: str, hours: int) -> None:
    clock = ManualClock(START + hours * HOUR)
    backfill(db, project="alpha", name=name, since=START, until=None, env=env, clock=clock)


def test_a_monitor_applied_without_a_preset_uses_steward(
    client: TestClient, world: World, db: Database, env: RunEnvironment
) -> None:
    _apply(client, world, "plain", [{"kind": "data_drift"}, {"kind": "prediction_drift"}])
    spec = client.get(f"{BASE}/plain", headers=world.headers("viewer")).json()["spec"]
    assert [s["preset"] for s in spec["signals"]] == ["steward", "steward"]
    _backfill(db, env, "plain", 12)
    runs = _runs(client, world, "plain")
    # traffic shifts from the window ending at START + 9h on (see conftest)
    assert [r["summary"]["data_drift"]["breached"] for r in runs] == [False] * 8 + [True] * 4
    assert not any(r["summary"]["prediction_drift"]["breached"] for r in runs)
    last = runs[-1]["summary"]["data_drift"]
    assert last["window_large_enough"] and last["correction"] == "holm"
    assert (last["window_rows"], last["min_window_rows"]) == (1000, 30)
    r = client.get(f"{BASE}/plain/results", headers=world.headers("viewer"))
    metrics = {(p["feature"], p["metric"]) for p in r.json()["items"] if p["feature"]}
    assert metrics == {
        ("age", "ks_p_value"),
        ("hours", "ks_p_value"),
        ("sex", "chi2_contingency_p_value"),
        ("prediction", "chi2_contingency_p_value"),
    }


def test_a_window_below_min_window_rows_says_so_and_does_not_breach(
    client: TestClient, world: World, db: Database, env: RunEnvironment
) -> None:
    signals = [
        {"kind": "data_drift", "options": {"min_window_rows": 5000}},
        {"kind": "prediction_drift", "options": {"min_window_rows": 1000}},
    ]
    _apply(client, world, "strict", signals)
    _backfill(db, env, "strict", 12)
    runs = _runs(client, world, "strict")
    drift = [r["summary"]["data_drift"] for r in runs]
    assert not any(d["breached"] for d in drift)  # the last four windows are shifted
    assert all(d["reason"] == "window too small" and not d["window_large_enough"] for d in drift)
    assert sorted(drift[-1]["insufficient"]) == ["age", "hours", "sex"]
    assert all(r["summary"]["prediction_drift"]["window_large_enough"] for r in runs)


def _mild_shift_env() -> RunEnvironment:
    """Four normal features; in the one window, ``a`` is 0.2 sd up (raw KS p between 1/4 and 1
    of 0.05: the corrected p-value is above it)."""
    rng = np.random.default_rng(3)
    reference = pa.table({c: rng.normal(0, 1, 2000) for c in "abcd"})
    shifted = np.random.default_rng(0)
    stamps = [START + timedelta(seconds=10 * i + 1) for i in range(200)]
    window = pa.table(
        {
            "timestamp": pa.array(stamps, type=pa.timestamp("us", tz="UTC")),
            **{c: shifted.normal(0.2 if c == "a" else 0, 1, 200) for c in "abcd"},
        }
    )
    return RunEnvironment(
        windows=TableWindowReader({"scorer": window}),
        references=StaticReferenceLoader({"train": reference}, default="train"),
        alerts=MemoryAlertSink(),
        lineage=NoLineage(),
        profiles=ProfileCache(),
    )


def test_correction_changes_the_breach(client: TestClient, world: World, db: Database) -> None:
    env = _mild_shift_env()
    for name, options in (
        ("holm", {}),
        ("raw", {"correction": "none"}),
        ("bh", {"correction": "bh"}),
    ):
        _apply(client, world, name, [{"kind": "data_drift", "options": options}])
        _backfill(db, env, name, 1)
    summaries = {
        n: _runs(client, world, n)[0]["summary"]["data_drift"] for n in ("holm", "raw", "bh")
    }
    assert summaries["raw"]["breached"] and summaries["raw"]["drifted"] == ["a"]
    assert summaries["raw"]["correction"] == "none"
    assert not summaries["holm"]["breached"] and not summaries["bh"]["breached"]
    assert summaries["bh"]["correction"] == "benjamini_hochberg"
    r = client.get(f"{BASE}/holm/results", headers=world.headers("viewer"))
    [a] = [p for p in r.json()["items"] if p["feature"] == "a"]
    assert a["value"] > 0.05 and a["threshold"] == 0.05  # the corrected p-value is stored


def test_steward_refuses_a_method_and_a_threshold_above_1(client: TestClient, world: World) -> None:
    body = {
        "name": "m",
        "target": {"name": "scorer"},
        "signals": [{"kind": "data_drift", "method": "ks", "feature_threshold": 2}],
    }
    r = client.post(BASE, json=body, headers=world.headers("data-scientist"))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_input"
    locs = {e["loc"][-1] for e in r.json()["errors"]}
    assert locs == {"method", "feature_threshold"}, r.json()
    body["signals"] = [{"kind": "data_drift", "preset": "evidently", "method": "ks"}]
    assert client.post(BASE, json=body, headers=world.headers("data-scientist")).status_code == 201
