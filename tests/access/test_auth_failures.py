"""Failed authentications are audited per client and reason per interval, counted exactly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from governance.audit.schemas import AuditEntry, AuditFilter
from governance.audit.service import list_audit, verify_audit
from governance.core.clock import ManualClock
from steward.api.app import create_app
from steward.api.deps import Services
from tests.builders import World

BAD = {"Authorization": "Bearer stw_000000000000_" + "y" * 43}


def _failures(services: Services) -> list[AuditEntry]:
    page = list_audit(services.db, flt=AuditFilter(action="auth.fail"), cursor=None, limit=500)
    return list(page.items)


def _by_actor(entries: list[AuditEntry]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for e in entries:
        totals[e.actor] = totals.get(e.actor, 0) + int(e.details["count"])
    return totals


def _app(services: Services) -> FastAPI:
    return create_app(services=services, seal_in_background=False)


def test_500_bad_tokens_give_a_few_entries_whose_counts_sum_to_500(
    world: World, services: Services
) -> None:
    clock = ManualClock(datetime.now(UTC))
    services.clock = clock
    with TestClient(_app(services), client=("192.0.2.7", 4000)) as scraper:
        for i in range(500):
            if i and i % 200 == 0:  # two interval rollovers along the way
                clock.advance(timedelta(seconds=61))
            assert scraper.get("/api/v1/projects", headers=BAD).status_code == 401
        # The first failure was visible at once; the rest wait for their interval to pass.
        written = _failures(services)
        assert written[0].details == {"reason": "unknown token", "count": 1}
        assert written[0].request_id
        assert sum(int(e.details["count"]) for e in written) < 500
    entries = _failures(services)  # the app's shutdown wrote what it still held
    assert sum(int(e.details["count"]) for e in entries) == 500
    assert [e.details["count"] for e in entries] == [1, 199, 1, 199, 1, 99]
    assert {e.actor for e in entries} == {"anonymous@192.0.2.7"}
    assert {e.client for e in entries} == {"192.0.2.7"}
    assert all(e.decision == "deny" for e in entries)
    assert verify_audit(services.db).ok


def test_two_clients_and_two_reasons_are_counted_apart(world: World, services: Services) -> None:
    app = _app(services)
    with (
        TestClient(app, client=("192.0.2.1", 1)) as one,
        TestClient(app, client=("192.0.2.2", 2)) as two,
    ):
        for _ in range(30):
            one.get("/api/v1/me", headers=BAD)
        for _ in range(20):
            two.get("/api/v1/me", headers=BAD)
            two.get("/api/v1/me")  # no credential at all: another reason
        # A good token in between changes nothing in the counts.
        assert one.get("/api/v1/me", headers=world.headers("viewer")).status_code == 200
    entries = _failures(services)
    assert _by_actor(entries) == {"anonymous@192.0.2.1": 30, "anonymous@192.0.2.2": 40}
    reasons = {(e.actor, e.details["reason"]): 0 for e in entries}
    for e in entries:
        reasons[(e.actor, e.details["reason"])] += int(e.details["count"])
    assert reasons == {
        ("anonymous@192.0.2.1", "unknown token"): 30,
        ("anonymous@192.0.2.2", "unknown token"): 20,
        ("anonymous@192.0.2.2", "missing bearer token"): 20,
    }


def test_concurrent_failures_are_counted_exactly(world: World, services: Services) -> None:
    threads, per_thread = 8, 40
    with TestClient(_app(services)) as client:
        start = threading.Barrier(threads)

        def hammer() -> None:
            start.wait()
            for _ in range(per_thread):
                client.get("/api/v1/me", headers=BAD)

        workers = [threading.Thread(target=hammer) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert _by_actor(_failures(services)) == {"anonymous@testclient": threads * per_thread}


def test_an_interval_of_zero_audits_every_failure_on_its_own(
    world: World, services: Services
) -> None:
    services.auth_failures.interval = timedelta(0)
    with TestClient(_app(services)) as client:
        for _ in range(5):
            client.get("/api/v1/me", headers=BAD)
        assert [e.details["count"] for e in _failures(services)] == [1] * 5
