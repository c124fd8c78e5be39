"""API tokens: never stored in plain text, refused once revoked or expired, failures audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import inspect

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.core.clock import ManualClock
from steward.api.deps import Services
from tests.builders import World, make_principal, make_token
from tests.dumps import dump


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _auth_failures(services: Services) -> list[dict[str, object]]:
    page = list_audit(services.db, flt=AuditFilter(action="auth.fail"), cursor=None, limit=500)
    return [e.model_dump() for e in page.items]


def _dump(services: Services) -> str:
    names = inspect(services.db.engine).get_table_names()
    assert "access_tokens" in names and "audit_entries" in names
    return dump(services.db)


def test_no_token_in_plain_text_anywhere_in_a_database_dump(
    client: TestClient, world: World, services: Services
) -> None:
    admin = world.headers("admin")
    issued = [world.admin_token, world.outsider_token, *world.tokens.values()]
    r = client.post("/api/v1/tokens", json={"name": "mine", "expires_in_days": 7}, headers=admin)
    assert r.status_code == 201, r.text
    issued.append(r.json()["token"])
    client.post("/api/v1/principals", json={"name": "robot", "kind": "service"}, headers=admin)
    r = client.post("/api/v1/principals/robot/tokens", json={"name": "ci"}, headers=admin)
    assert r.status_code == 201, r.text
    issued.append(r.json()["token"])
    revoked = r.json()["id"]
    assert client.delete(f"/api/v1/principals/robot/tokens/{revoked}", headers=admin).is_success
    # Use each token, and present a well-formed unknown one: nothing of it may be stored.
    for token in issued:
        client.get("/api/v1/me", headers=_bearer(token))
    prefix = issued[0].split("_")[1]
    forged = f"stw_{prefix}_{'x' * 43}"
    assert client.get("/api/v1/me", headers=_bearer(forged)).status_code == 401
    issued.append(forged)

    dump = _dump(services)
    assert "access_tokens" in dump or not services.db.is_sqlite
    for token in issued:
        secret = token.split("_", 2)[2]
        assert token not in dump
        assert secret not in dump
    # The lookup prefixes are stored (that is what they are for); the secrets are not.
    assert prefix in dump


def test_revoked_token_is_refused_on_its_next_request(client: TestClient, world: World) -> None:
    r = client.post("/api/v1/tokens", json={"name": "short-lived"}, headers=world.headers("admin"))
    token, token_id = r.json()["token"], r.json()["id"]
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    r = client.delete(f"/api/v1/tokens/{token_id}", headers=_bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["revoked_at"] is not None
    r = client.get("/api/v1/me", headers=_bearer(token))
    assert r.status_code == 401
    assert r.json()["code"] == "unauthenticated"
    assert r.headers["www-authenticate"] == "Bearer"
    # The other tokens of the same principal still work.
    assert client.get("/api/v1/me", headers=world.headers("admin")).status_code == 200


def test_token_revoked_by_a_platform_owner_is_refused(
    client: TestClient, world: World, services: Services
) -> None:
    viewer = world.headers("viewer")
    assert client.get("/api/v1/projects/alpha", headers=viewer).status_code == 200
    tokens = client.get("/api/v1/principals/viewer-user/tokens", headers=world.headers("admin"))
    (info,) = tokens.json()
    r = client.delete(
        f"/api/v1/principals/viewer-user/tokens/{info['id']}", headers=world.headers("admin")
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/projects/alpha", headers=viewer).status_code == 401
    assert _auth_failures(services)[-1]["details"] == {"reason": "token revoked", "count": 1}


def test_expired_token_is_refused_on_its_next_request(
    client: TestClient, world: World, services: Services
) -> None:
    clock = ManualClock(datetime.now(UTC))
    services.clock = clock
    r = client.post(
        "/api/v1/tokens",
        json={"name": "one-day", "expires_in_days": 1},
        headers=world.headers("admin"),
    )
    token = r.json()["token"]
    assert datetime.fromisoformat(r.json()["expires_at"]) == clock.now() + timedelta(days=1)
    clock.advance(timedelta(hours=23, minutes=59))
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    clock.advance(timedelta(minutes=1))  # exactly at expiry: expired
    r = client.get("/api/v1/me", headers=_bearer(token))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert _auth_failures(services)[-1]["details"] == {"reason": "token expired", "count": 1}
    # Tokens without the short expiry are unaffected by the jump.
    assert client.get("/api/v1/me", headers=world.headers("admin")).status_code == 200


def test_token_created_through_the_service_expires_on_the_injected_clock(
    client: TestClient, world: World, services: Services
) -> None:
    make_principal(services, "batch")
    token = make_token(services, "batch", days=30)
    services.clock = ManualClock(datetime.now(UTC) + timedelta(days=31))
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_wrong_secret_for_a_known_prefix_is_refused(client: TestClient, world: World) -> None:
    _, prefix, secret = world.admin_token.split("_", 2)
    tampered = f"stw_{prefix}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    r = client.get("/api/v1/me", headers=_bearer(tampered))
    assert r.status_code == 401
    assert r.json()["detail"] == "unknown token"


def test_failed_authentications_are_audited_with_www_authenticate(
    client: TestClient, world: World, services: Services
) -> None:
    before = len(_auth_failures(services))
    attempts = {
        "malformed bearer token": {"Authorization": "Bearer not-a-token"},
        "missing bearer token": {"Authorization": "Basic dXNlcjpwYXNz"},
        "unknown token": _bearer("stw_000000000000_" + "y" * 43),
    }
    for reason, headers in attempts.items():
        r = client.get("/api/v1/projects", headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"] == reason
    entries = _auth_failures(services)[before:]
    # A missing credential is audited too: every failed authentication is an entry.
    assert [e["details"] for e in entries] == [{"reason": r, "count": 1} for r in attempts]
    for entry in entries:
        assert entry["decision"] == "deny"
        assert entry["actor"] == "anonymous@testclient"
        assert entry["request_id"]


def test_token_listings_never_show_secrets(client: TestClient, world: World) -> None:
    r = client.post("/api/v1/tokens", json={"name": "listed"}, headers=world.headers("admin"))
    secret = r.json()["token"]
    for path in ("/api/v1/tokens", "/api/v1/principals/admin/tokens"):
        r = client.get(path, headers=world.headers("admin"))
        assert r.status_code == 200
        assert secret not in r.text
        assert r.json(), path  # the listing holds the token just created
        assert all("token" not in t and "secret_hash" not in t for t in r.json())
