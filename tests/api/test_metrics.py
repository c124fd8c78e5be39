"""``/metrics``: run freshness and durations per monitor, the leader gauge, build info, HTTP."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from governance.core.clock import ManualClock
from governance.core.db import Database
from monitors.runs.service import backfill, list_runs
from monitors.runs.sources import RunEnvironment
from monitors.scheduler.lease import Lease
from monitors.specs.schemas import Monitor
from steward.api.app import create_app
from steward.api.deps import Services
from steward.metrics import RUN_BUCKETS
from tests.builders import World
from tests.monitors.runs.conftest import HOUR, START, env, monitor

__all__ = ["env", "monitor"]
MONITORS = "/api/v1/projects/{project}/monitors"


def _families(client: TestClient, token: str) -> dict[str, tuple[str, list[Sample]]]:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return {f.name: (f.type, f.samples) for f in text_string_to_metric_families(r.text)}


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    [found] = [s.value for s in samples if s.name == name and s.labels == labels]
    return found


@pytest.fixture
def seeded(db: Database, monitor: Monitor, env: RunEnvironment) -> Iterator[None]:
    """Twelve hourly runs of monitor 'drift' in alpha (11 succeeded, 1 without data)."""
    clock = ManualClock(START + 11 * HOUR)
    backfill(
        db, project="alpha", name="drift", since=START - HOUR, until=None, env=env, clock=clock
    )
    yield


def test_last_success_and_run_duration_histogram_per_monitor(
    client: TestClient, world: World, db: Database, seeded: None
) -> None:
    families = _families(client, world.tokens["viewer"])
    kind, samples = families["steward_monitor_last_success_timestamp_seconds"]
    assert kind == "gauge"
    assert samples == [
        Sample(
            "steward_monitor_last_success_timestamp_seconds",
            {"project": "alpha", "monitor": "drift"},
            (START + 11 * HOUR).timestamp(),
        )
    ]
    kind, samples = families["steward_monitor_run_duration_seconds"]
    assert kind == "histogram"
    durations = [r.duration_seconds for r in list_runs(db, project="alpha", name="drift")]
    assert len(durations) == 12
    labels = {"project": "alpha", "monitor": "drift"}
    for bound in RUN_BUCKETS:
        expected = sum(d <= bound for d in durations)
        le = {**labels, "le": repr(float(bound))}
        assert _value(samples, "steward_monitor_run_duration_seconds_bucket", **le) == expected
    inf = _value(samples, "steward_monitor_run_duration_seconds_bucket", **labels, le="+Inf")
    assert inf == _value(samples, "steward_monitor_run_duration_seconds_count", **labels) == 12
    total = _value(samples, "steward_monitor_run_duration_seconds_sum", **labels)
    assert total == pytest.approx(sum(durations))
    # A token without alpha sees none of alpha's series; the process series it does see.
    beta = _families(client, world.outsider_token)
    assert beta["steward_monitor_run_duration_seconds"][1] == []
    assert beta["steward_monitor_last_success_timestamp_seconds"][1] == []
    assert beta["steward_build_info"][1]


def test_leader_gauge_and_build_info(client: TestClient, world: World, db: Database) -> None:
    def leaders() -> dict[str, float]:
        kind, samples = _families(client, world.tokens["viewer"])["steward_daemon_leader"]
        assert kind == "gauge"
        return {s.labels["lease"]: s.value for s in samples}

    assert leaders() == {"monitor-daemon": 0.0}  # no daemon ever ran: still a series to alert on
    Lease(db, holder="host:1:a", ttl=60).acquire()
    demo = Lease(db, holder="host:2:b", ttl=60, name="demo-daemon")
    demo.acquire()
    assert leaders() == {"monitor-daemon": 1.0, "demo-daemon": 1.0}
    demo.release()
    assert leaders() == {"monitor-daemon": 1.0, "demo-daemon": 0.0}
    kind, samples = _families(client, world.tokens["viewer"])["steward_build_info"]
    assert kind == "gauge"
    version = importlib.metadata.version("steward")
    assert samples == [Sample("steward_build_info", {"version": version}, 1.0)]


def test_a_token_without_metrics_read_gets_no_series_at_all(
    client: TestClient, world: World, seeded: None
) -> None:
    families = _families(client, world.tokens["app-developer"])
    assert "steward_build_info" not in families and "steward_http_requests" not in families
    assert all(samples == [] for _, samples in families.values())


def test_http_requests_by_route_template_never_the_raw_path(
    client: TestClient, world: World, services: Services, seeded: None
) -> None:
    viewer = world.headers("viewer")
    for _ in range(2):
        assert client.get("/api/v1/projects/alpha/monitors", headers=viewer).status_code == 200
    assert client.get("/api/v1/projects/alpha/monitors/drift", headers=viewer).status_code == 200
    assert client.get("/api/v1/projects/alpha/monitors/nope", headers=viewer).status_code == 404
    assert client.get("/no/such/path-123").status_code == 404
    assert client.delete("/api/v1/health").status_code == 405
    assert client.request("BREW", "/api/v1/health").status_code == 405
    # Refused by middleware before routing (NaN is not JSON): still named by its template.
    nan = client.post(
        "/api/v1/projects/alpha/monitors",
        content=b'{"name": NaN}',
        headers={**viewer, "Content-Type": "application/json"},
    )
    assert nan.status_code == 422
    families = _families(client, world.tokens["viewer"])
    kind, samples = families["steward_http_requests"]
    assert kind == "counter"
    counts = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in samples
        if s.name == "steward_http_requests_total"
    }
    one = MONITORS + "/{monitor}"
    assert counts == {
        ("GET", MONITORS, "200"): 2.0,
        ("GET", one, "200"): 1.0,
        ("GET", one, "404"): 1.0,
        ("GET", "unmatched", "404"): 1.0,
        ("DELETE", "/api/v1/health", "405"): 1.0,
        ("other", "/api/v1/health", "405"): 1.0,
        ("POST", MONITORS, "422"): 1.0,
    }
    kind, samples = families["steward_http_request_duration_seconds"]
    assert kind == "histogram"
    timed = {"method": "GET", "route": MONITORS}
    assert _value(samples, "steward_http_request_duration_seconds_count", **timed) == 2.0
    inf = _value(samples, "steward_http_request_duration_seconds_bucket", **timed, le="+Inf")
    assert inf == 2.0
    # The first scrape is counted once answered; another app keeps a registry of its own.
    again = _families(client, world.tokens["viewer"])["steward_http_requests"][1]
    assert (
        _value(again, "steward_http_requests_total", method="GET", route="/metrics", status="200")
        == 1.0
    )
    with TestClient(create_app(services=services, seal_in_background=False)) as other:
        fresh = _families(other, world.tokens["viewer"])["steward_http_requests"][1]
    assert fresh == []
