"""Concurrent role revocations: a project always keeps an owner, whatever the interleaving."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from governance.access import service
from governance.core.errors import Conflict
from steward.api.deps import Services
from tests.builders import OPERATOR, World, make_principal

TRIALS = 100


def _race(services: Services, project: str, owners: list[str]) -> list[BaseException | None]:
    """Revoke each of ``owners`` in its own thread, released at the same instant."""
    start = threading.Barrier(len(owners))
    outcomes: list[BaseException | None] = [None] * len(owners)

    def revoke(i: int) -> None:
        start.wait()
        try:
            service.revoke_role(
                services.db, project=project, principal=owners[i], role="owner", actor=OPERATOR
            )
        except BaseException as exc:  # collected and judged in the main thread
            outcomes[i] = exc

    threads = [threading.Thread(target=revoke, args=(i,)) for i in range(len(owners))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_last_owner_survives_concurrent_revokes_on_sqlite_and_postgresql(
    client: TestClient, world: World, services: Services
) -> None:
    # The race bites on PostgreSQL (two transactions each see two owners); SQLite serialises
    # writers, and the test must hold on both.
    project = "gamma"
    r = client.post("/api/v1/projects", json={"name": project}, headers=world.headers("admin"))
    assert r.status_code == 201, r.text
    owners = ["admin", "co-owner"]
    make_principal(services, "co-owner")
    service.grant_role(services.db, project=project, principal="co-owner", role="owner",
                       actor=OPERATOR)  # fmt: skip
    for trial in range(TRIALS):
        outcomes = _race(services, project, owners)
        held = [b.principal for b in service.list_bindings(services.db, project=project)
                if b.role == "owner"]  # fmt: skip
        assert len(held) == 1, f"trial {trial}: owners left {held}, outcomes {outcomes}"
        refused = [o for o in outcomes if o is not None]
        assert len(refused) == 1, f"trial {trial}: {outcomes}"
        assert isinstance(refused[0], Conflict), refused[0]
        assert "last owner" in refused[0].detail
        removed = next(p for p, o in zip(owners, outcomes, strict=True) if o is None)
        service.grant_role(services.db, project=project, principal=removed, role="owner",
                           actor=OPERATOR)  # fmt: skip
    # Both are owners again after the last trial, and the API serves what the races left.
    r = client.get(f"/api/v1/projects/{project}/roles", headers=world.headers("admin"))
    assert r.status_code == 200, r.text
    assert sorted(b["principal"] for b in r.json() if b["role"] == "owner") == owners
