"""A credential cannot mint a token for its principal that outlives the credential itself."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from fastapi.testclient import TestClient

from steward.api.deps import Services
from tests.access import test_oidc
from tests.access.test_oidc import Keys, _claims
from tests.builders import World

DAY = 86_400
# The OIDC test module's identity provider and app, shared rather than rebuilt here.
keys, oidc = test_oidc.keys, test_oidc.oidc
oidc_world, oidc_client = test_oidc.oidc_world, test_oidc.oidc_client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _expiry(response: Any) -> datetime:
    return datetime.fromisoformat(response.json()["expires_at"])


def _refused_for_outliving(response: Any) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_input"
    assert body["detail"].startswith("expires_in_days:"), body
    assert body["errors"][0]["loc"] == ["body", "expires_in_days"]


def _own_expiry(client: TestClient, headers: dict[str, str]) -> datetime:
    (mine,) = client.get("/api/v1/tokens", headers=headers).json()
    return datetime.fromisoformat(mine["expires_at"])


def test_a_token_cannot_mint_one_that_expires_later_or_never(
    client: TestClient, world: World
) -> None:
    viewer = world.headers("viewer")  # a token that expires in (at most) 30 days
    limit = _own_expiry(client, viewer)
    for body in ({"name": "never", "expires_in_days": None},
                 {"name": "31", "expires_in_days": 31}):  # fmt: skip
        _refused_for_outliving(client.post("/api/v1/tokens", json=body, headers=viewer))
    # Without an asked-for expiry the default (90 days) is shortened to the caller's own.
    r = client.post("/api/v1/tokens", json={"name": "default"}, headers=viewer)
    assert r.status_code == 201, r.text
    assert _expiry(r) == limit
    r = client.post("/api/v1/tokens", json={"name": "ok", "expires_in_days": 29}, headers=viewer)
    assert r.status_code == 201, r.text
    assert _expiry(r) <= limit
    # The child is bounded by its own expiry in turn: a day shorter still, not the parent's.
    child = _bearer(r.json()["token"])
    r = client.post("/api/v1/tokens", json={"name": "x", "expires_in_days": 29}, headers=child)
    _refused_for_outliving(r)
    r = client.post("/api/v1/tokens", json={"name": "y", "expires_in_days": 28}, headers=child)
    assert r.status_code == 201, r.text
    # A credential without an expiry may mint any token, as before.
    r = client.post("/api/v1/tokens", json={"name": "z", "expires_in_days": None},
                    headers=world.headers("admin"))  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["expires_at"] is None


def test_the_owner_route_bounds_tokens_for_yourself_but_not_for_others(
    client: TestClient, world: World
) -> None:
    admin = world.headers("admin")
    r = client.post("/api/v1/tokens", json={"name": "short", "expires_in_days": 2}, headers=admin)
    short = _bearer(r.json()["token"])
    r = client.post(
        "/api/v1/principals/admin/tokens",
        json={"name": "long", "expires_in_days": 3},
        headers=short,
    )
    _refused_for_outliving(r)
    r = client.post("/api/v1/principals/admin/tokens", json={"name": "a", "expires_in_days": 1},
                    headers=short)  # fmt: skip
    assert r.status_code == 201, r.text
    # A service account's token is the owner's decision, not bounded by the owner's session.
    client.post("/api/v1/principals", json={"name": "robot", "kind": "service"}, headers=admin)
    r = client.post("/api/v1/principals/robot/tokens", json={"name": "ci"}, headers=short)
    assert r.status_code == 201, r.text


def test_an_oidc_callers_jwt_expiry_bounds_the_token(
    oidc_client: TestClient, oidc: Services, keys: Keys
) -> None:
    exp = int(time.time()) + 3 * DAY
    token = jwt.encode(_claims(exp=exp), keys.rsa, algorithm="RS256", headers={"kid": "rsa-1"})
    headers = _bearer(token)
    r = oidc_client.post("/api/v1/tokens", json={"name": "default"}, headers=headers)
    assert r.status_code == 201, r.text
    assert _expiry(r) == datetime.fromtimestamp(exp, UTC)
    r = oidc_client.post("/api/v1/tokens", json={"name": "4", "expires_in_days": 4},
                         headers=headers)  # fmt: skip
    _refused_for_outliving(r)
    r = oidc_client.post("/api/v1/tokens", json={"name": "2", "expires_in_days": 2},
                         headers=headers)  # fmt: skip
    assert r.status_code == 201, r.text
    assert _expiry(r) <= datetime.fromtimestamp(exp, UTC)
    assert _expiry(r) > datetime.now(UTC) + timedelta(days=1)
