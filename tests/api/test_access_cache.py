"""The access cache: what another process changes takes effect within its time, ours at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from governance.access import service
from governance.access.schemas import Authenticated
from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.core.clock import ManualClock
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings
from steward.api.app import create_app
from steward.api.deps import AccessCache, Services
from tests.builders import OPERATOR, World, make_token
from tests.conftest import make_settings

ME, ALPHA = "/api/v1/me", "/api/v1/projects/alpha"


class Ticks:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Policy files checked rarely: the bindings are reloaded only when the cache says so."""
    return make_settings(tmp_path / "home", db_url, policy_reload_seconds=3600)


@pytest.fixture
def ticks(services: Services) -> Ticks:
    """The cache's clock, installed before the first request."""
    clock = Ticks()
    services.access = AccessCache(1.0, monotonic=clock)
    return clock


@pytest.fixture
def cached_client(services: Services, ticks: Ticks, world: World) -> Iterator[TestClient]:
    """A client on an app whose access cache runs on ``ticks``."""
    app = create_app(services=services, seal_in_background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _last_auth_failure(services: Services) -> dict[str, object]:
    page = list_audit(services.db, flt=AuditFilter(action="auth.fail"), cursor=None, limit=500)
    return dict(page.items[-1].details)


def test_a_token_revoked_by_another_process_is_refused_once_the_cache_time_passed(
    cached_client: TestClient, world: World, services: Services, ticks: Ticks
) -> None:
    viewer = world.headers("viewer")
    assert cached_client.get(ME, headers=viewer).status_code == 200
    (token,) = service.list_tokens(services.db, principal_id=world.principals["viewer"].id)
    service.revoke_token(services.db, token_id=token.id, actor=OPERATOR, any_owner=True)
    # Trusted for the cache time: the database was not read again.
    assert cached_client.get(ME, headers=viewer).status_code == 200
    ticks.value += 1.0
    r = cached_client.get(ME, headers=viewer)
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    assert _last_auth_failure(services) == {"reason": "token revoked", "count": 1}


def test_an_expired_token_is_refused_while_its_cache_entry_is_fresh(
    cached_client: TestClient, world: World, services: Services
) -> None:
    clock = ManualClock(datetime.now(UTC))
    services.clock = clock
    token = make_token(services, "viewer-user", days=1)
    assert cached_client.get(ME, headers=_bearer(token)).status_code == 200
    clock.advance(timedelta(days=1, minutes=1))  # the token was issued on the wall clock
    r = cached_client.get(ME, headers=_bearer(token))
    assert r.status_code == 401
    assert _last_auth_failure(services) == {"reason": "token expired", "count": 1}


def test_a_token_revoked_through_the_app_is_refused_on_its_next_request(
    cached_client: TestClient, world: World
) -> None:
    r = cached_client.post("/api/v1/tokens", json={"name": "t"}, headers=world.headers("viewer"))
    token, token_id = r.json()["token"], r.json()["id"]
    assert cached_client.get(ME, headers=_bearer(token)).status_code == 200
    r = cached_client.delete(f"/api/v1/tokens/{token_id}", headers=world.headers("viewer"))
    assert r.status_code == 200, r.text
    assert cached_client.get(ME, headers=_bearer(token)).status_code == 401


def test_a_role_revoked_through_the_app_is_enforced_on_the_next_request(
    cached_client: TestClient, world: World
) -> None:
    viewer = world.headers("viewer")
    assert cached_client.get(ALPHA, headers=viewer).status_code == 200
    url = f"{ALPHA}/roles/viewer-user/viewer"
    assert cached_client.delete(url, headers=world.headers("admin")).status_code == 204
    r = cached_client.get(ALPHA, headers=viewer)
    assert r.status_code == 404, r.text


def test_a_role_granted_by_another_process_takes_effect_within_the_cache_time(
    cached_client: TestClient, world: World, services: Services, ticks: Ticks
) -> None:
    outsider = _bearer(world.outsider_token)
    assert cached_client.get(ALPHA, headers=outsider).status_code == 404
    service.grant_role(
        services.db, project="alpha", principal="outsider", role="viewer", actor=OPERATOR
    )
    assert cached_client.get(ALPHA, headers=outsider).status_code == 404  # not reloaded yet
    ticks.value += 1.0
    assert cached_client.get(ALPHA, headers=outsider).status_code == 200


def test_a_role_revoked_by_another_process_is_enforced_once_the_cache_time_passed(
    cached_client: TestClient, world: World, services: Services, ticks: Ticks
) -> None:
    viewer = world.headers("viewer")
    assert cached_client.get(ALPHA, headers=viewer).status_code == 200
    service.revoke_role(
        services.db, project="alpha", principal="viewer-user", role="viewer", actor=OPERATOR
    )
    assert cached_client.get(ALPHA, headers=viewer).status_code == 200  # not reloaded yet
    ticks.value += 1.0
    assert cached_client.get(ALPHA, headers=viewer).status_code == 404


def test_allowed_decisions_are_forgotten_when_the_bindings_reload_or_access_changes() -> None:
    cache = AccessCache(1.0)
    decision = ("p", "user", "alpha", "project", "read", 3)
    stamp = cache.decision_stamp()
    assert stamp is not None
    cache.allowed(decision, stamp)
    assert cache.was_allowed(decision)
    cache.policy_synced(0)
    assert not cache.was_allowed(decision)
    cache.allowed(decision, stamp)  # decided before that load: not kept
    assert not cache.was_allowed(decision)
    fresh = cache.decision_stamp()
    assert fresh is not None
    cache.allowed(decision, fresh)
    cache.begin_change()
    assert cache.decision_stamp() is None
    cache.end_change()
    assert not cache.was_allowed(decision)


def test_nothing_cached_is_used_while_access_may_change_nor_after() -> None:
    ticks = Ticks()
    cache = AccessCache(1.0, monotonic=ticks)
    known = Authenticated(
        principal=Principal(id=None, name="p", kind=PrincipalKind.user), expires_at=None
    )
    now = datetime.now(UTC)
    cache.remember("Bearer a", known, generation=0)
    cache.policy_synced(0)
    assert cache.recall("Bearer a", now=now) == known and not cache.policy_due(60)
    assert cache.recall("Bearer b", now=now) is None
    cache.begin_change()
    assert cache.generation() is None
    assert cache.recall("Bearer a", now=now) is None and cache.policy_due(60)
    cache.end_change()
    assert cache.generation() == 1
    assert cache.recall("Bearer a", now=now) is None and cache.policy_due(60)
    cache.remember("Bearer a", known, generation=1)
    ticks.value += 0.999
    assert cache.recall("Bearer a", now=now) == known
    ticks.value += 0.001
    assert cache.recall("Bearer a", now=now) is None


def test_a_cache_time_of_zero_reads_the_database_every_time() -> None:
    cache = AccessCache(0.0)
    known = Authenticated(
        principal=Principal(id=None, name="p", kind=PrincipalKind.user), expires_at=None
    )
    cache.remember("Bearer a", known, generation=0)
    cache.policy_synced(0)
    assert cache.recall("Bearer a", now=datetime.now(UTC)) is None
    assert cache.policy_due(60)
