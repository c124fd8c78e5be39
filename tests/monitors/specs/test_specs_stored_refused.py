"""A monitor stored before its options were typed: a clear error naming it, and a way to repair.

Specs stored by earlier versions were checked by the loose schema (free-form options). One that
the typed schema refuses is never loaded half-way nor its options dropped: reading or running
it is a 409 naming the monitor and the refused option, the daemon leaves it out (and logs why)
while every other monitor runs, and applying a corrected definition or deleting it repairs it.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from governance.core.db import Database
from monitors.specs.models import MonitorRow
from monitors.specs.service import list_monitors
from tests.builders import World

BASE = "/api/v1/projects/alpha/monitors"
YAML = {"Content-Type": "application/yaml"}
LOOSE = {"kind": "data_quality", "options": {"null_rate": 0.1, "out_of_range_rate": 0.2}}
FIXED = """
name: quality
target: {name: income}
signals: [{kind: data_quality, options: {out_of_range_rate: 0.2}}]
"""


def _store_loose_spec(db: Database, client: TestClient, world: World) -> None:
    """Create two monitors, then give 'quality' a spec as the loose schema let it be stored."""
    ds = world.headers("data-scientist")
    for name in ("other", "quality"):
        r = client.post(BASE, json={"name": name, "target": {"name": "income"}}, headers=ds)
        assert r.status_code == 201, r.text
    spec = client.get(f"{BASE}/quality", headers=ds).json()["spec"]
    spec["signals"] = [LOOSE]
    with db.engine.begin() as conn:
        conn.execute(update(MonitorRow).where(MonitorRow.name == "quality").values(spec=spec))


def _audit(client: TestClient, world: World, action: str) -> list[dict[str, Any]]:
    r = client.get("/api/v1/audit", params={"action": action}, headers=world.headers("admin"))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _assert_refused(r: Any) -> None:
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "monitor_spec_refused"
    assert body["detail"].startswith("monitor 'quality' (revision 1) was stored with a definition")
    assert "signals.0.options.null_rate: unknown option 'null_rate'" in body["detail"]
    assert body["detail"].endswith(
        "apply a corrected definition under the same name, or delete the monitor"
    )
    assert body["errors"][0]["loc"] == "signals.0.options.null_rate"


def test_reading_or_running_it_names_the_monitor_and_the_option(
    db: Database, client: TestClient, world: World
) -> None:
    _store_loose_spec(db, client, world)
    viewer, engineer = world.headers("viewer"), world.headers("ml-engineer")
    _assert_refused(client.get(f"{BASE}/quality", headers=viewer))
    _assert_refused(client.get(BASE, headers=viewer))
    end = {"window_end": "2026-03-02T00:00:00Z"}
    _assert_refused(client.post(f"{BASE}/quality/run", json=end, headers=engineer))
    patch = client.patch(f"{BASE}/quality", json={"enabled": False}, headers=engineer)
    _assert_refused(patch)
    taken = client.post(BASE, json={"name": "quality", "target": {"name": "x"}}, headers=engineer)
    assert taken.status_code == 409 and taken.json()["code"] == "conflict"
    assert client.get(f"{BASE}/other", headers=viewer).status_code == 200


def test_the_daemon_runs_the_others_and_logs_why_it_skips_it(
    db: Database, client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    _store_loose_spec(db, client, world)
    with caplog.at_level(logging.ERROR, logger="steward.monitors"):
        runnable = list_monitors(db, enabled_only=True, skip_refused=True)
    assert [m.name for m in runnable] == ["other"]
    [record] = caplog.records
    assert record.getMessage().startswith("monitor alpha/quality left out: monitor 'quality'")


def test_applying_a_corrected_definition_repairs_it(
    db: Database, client: TestClient, world: World
) -> None:
    _store_loose_spec(db, client, world)
    r = client.post(f"{BASE}/apply", content=FIXED, headers=world.headers("data-scientist") | YAML)
    assert r.status_code == 200, r.text
    [monitor] = r.json()
    assert monitor["revision"] == 2
    assert monitor["spec"]["signals"][0]["options"]["out_of_range_rate"] == 0.2
    names = [m["spec"]["name"] for m in client.get(BASE, headers=world.headers("viewer")).json()]
    assert names == ["other", "quality"]
    assert [e["target"] for e in _audit(client, world, "monitor.update")] == ["monitor:quality"]


def test_deleting_it_repairs_it_too(db: Database, client: TestClient, world: World) -> None:
    _store_loose_spec(db, client, world)
    r = client.delete(f"{BASE}/quality", headers=world.headers("owner"))
    assert r.status_code == 204, r.text
    assert [m.name for m in list_monitors(db, project="alpha")] == ["other"]
    [entry] = _audit(client, world, "monitor.delete")
    assert entry["target"] == "monitor:quality"
    assert entry["details"]["refused"][0]["loc"] == "signals.0.options.null_rate"
