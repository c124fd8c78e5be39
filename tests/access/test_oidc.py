"""OIDC/JWT bearer tokens through the real app: what is refused (401, audited), what gets in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from governance.access import service
from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.core.settings import Settings
from steward.api.app import build_services, create_app
from steward.api.deps import Services
from tests.builders import OPERATOR, World, build_world, make_principal

ISSUER = "https://idp.example.test/realms/steward"
AUDIENCE = "steward-api"


@dataclass
class Keys:
    """The identity provider's signing keys (in the JWKS) and one it never published."""

    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    stranger: rsa.RSAPrivateKey
    jwks_file: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """An RSA and a P-256 key published in a JWKS file (EC first: kid-less RS256 must search)."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {
        "keys": [
            {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec-1", "use": "sig"},
            {
                **RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True),
                "kid": "rsa-1",
                "use": "sig",
            },
        ]
    }
    path = tmp_path_factory.mktemp("oidc") / "jwks.json"
    path.write_text(json.dumps(jwks))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Keys(rsa=rsa_key, ec=ec_key, stranger=stranger, jwks_file=path)


@pytest.fixture
def oidc(settings: Settings, keys: Keys) -> Iterator[Services]:
    """Services wired from settings that configure OIDC (as ``steward serve`` would)."""
    configured = Settings(
        **settings.model_dump(exclude={"oidc_issuer", "oidc_audience", "oidc_jwks_file"}),
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_file=keys.jwks_file,
    )
    svc = build_services(configured)
    assert svc.jwt is not None
    yield svc
    svc.db.dispose()


@pytest.fixture
def oidc_world(oidc: Services) -> World:
    """Projects alpha/beta and principals; 'alice@example.test' is a data scientist in alpha."""
    world = build_world(oidc)
    make_principal(oidc, "alice@example.test")
    service.grant_role(
        oidc.db, project="alpha", principal="alice@example.test", role="data-scientist",
        actor=OPERATOR,
    )  # fmt: skip
    return world


@pytest.fixture
def oidc_client(oidc: Services, oidc_world: World) -> Iterator[TestClient]:
    """A client on the app built with the OIDC services."""
    with TestClient(create_app(services=oidc, seal_in_background=False)) as client:
        yield client


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "alice@example.test", "iss": ISSUER, "aud": AUDIENCE, "iat": now,
              "exp": now + 300}  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _auth_failures(svc: Services) -> list[Any]:
    flt = AuditFilter(action="auth.fail")
    return list_audit(svc.db, flt=flt, cursor=None, limit=500).items


def _refused(keys: Keys) -> dict[str, str]:
    rs256 = {"algorithm": "RS256", "headers": {"kid": "rsa-1"}}
    public_pem = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, _claims())
    confused = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return {
        "alg none": _unsigned({"alg": "none", "typ": "JWT"}, _claims()) + ".",
        "alg none, upper case": _unsigned({"alg": "NONE", "typ": "JWT"}, _claims()) + ".",
        "wrong audience": jwt.encode(_claims(aud="someone-else"), keys.rsa, **rs256),
        "wrong issuer": jwt.encode(_claims(iss="https://evil.example.test"), keys.rsa, **rs256),
        "expired": jwt.encode(_claims(exp=int(time.time()) - 120), keys.rsa, **rs256),
        "not yet valid": jwt.encode(_claims(nbf=int(time.time()) + 600), keys.rsa, **rs256),
        "no expiry": jwt.encode(_claims(exp=None), keys.rsa, **rs256),
        "no subject": jwt.encode(_claims(sub=None), keys.rsa, **rs256),
        "HS256 signed with the public key": f"{signing_input}.{_b64(confused)}",
        "unknown kid": jwt.encode(
            _claims(), keys.stranger, algorithm="RS256", headers={"kid": "rsa-2"}
        ),
        "unpublished key, no kid": jwt.encode(_claims(), keys.stranger, algorithm="RS256"),
        "unpublished key, known kid": jwt.encode(_claims(), keys.stranger, **rs256),
        "RS256 naming the EC key": jwt.encode(
            _claims(), keys.rsa, algorithm="RS256", headers={"kid": "ec-1"}
        ),
        "ES256 naming the RSA key": jwt.encode(
            _claims(), keys.ec, algorithm="ES256", headers={"kid": "rsa-1"}
        ),
        "RS384 (not in the accepted list)": jwt.encode(
            _claims(), keys.rsa, algorithm="RS384", headers={"kid": "rsa-1"}
        ),
        "tampered payload": _retarget(jwt.encode(_claims(), keys.rsa, **rs256), "admin"),
        "garbage with two dots": "abc.def.ghi",
    }


def _retarget(token: str, subject: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{_b64(json.dumps(_claims(sub=subject)).encode())}.{signature}"


def test_refused_tokens_get_401_and_an_audit_entry(
    oidc_client: TestClient, oidc: Services, keys: Keys
) -> None:
    cases = _refused(keys)
    before = len(_auth_failures(oidc))
    for name, token in cases.items():
        r = oidc_client.get("/api/v1/me", headers=_bearer(token))
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text}"
        assert r.headers["www-authenticate"] == "Bearer", name
        assert set(r.json()) == {"code", "detail", "request_id"}, name
        assert r.json()["code"] == "unauthenticated", name
        r = oidc_client.get("/api/v1/projects/alpha", headers=_bearer(token))
        assert r.status_code == 401, name
    oidc.auth_failures.flush()  # repeated reasons are counted, not written one by one
    entries = _auth_failures(oidc)[before:]
    assert sum(e.details["count"] for e in entries) == 2 * len(cases)
    assert all(e.decision == "deny" and e.details["reason"] for e in entries)
    # The audit trail never stores the presented credential.
    assert not any(token in json.dumps(e.model_dump(mode="json")) for token in cases.values()
                   for e in entries)  # fmt: skip


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
@pytest.mark.parametrize("with_kid", [True, False])
def test_valid_jwt_authenticates_with_the_roles_bound_to_its_subject(
    oidc_client: TestClient, keys: Keys, alg: str, with_kid: bool
) -> None:
    key, kid = (keys.rsa, "rsa-1") if alg == "RS256" else (keys.ec, "ec-1")
    token = jwt.encode(_claims(), key, algorithm=alg, headers={"kid": kid} if with_kid else None)
    headers = _bearer(token)
    r = oidc_client.get("/api/v1/me", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "alice@example.test"
    assert r.json()["via"] == "oidc"
    assert r.json()["roles"] == {"alpha": ["data-scientist"]}
    assert oidc_client.get("/api/v1/projects/alpha", headers=headers).status_code == 200
    # Roles, not the token, decide: a data scientist may not grant roles, nor see beta.
    grant = {"principal": "alice@example.test", "role": "owner"}
    r = oidc_client.post("/api/v1/projects/alpha/roles", json=grant, headers=headers)
    assert r.status_code == 403
    assert oidc_client.get("/api/v1/projects/beta", headers=headers).status_code == 404


def test_jwt_within_clock_leeway_is_accepted(oidc_client: TestClient, keys: Keys) -> None:
    token = jwt.encode(
        _claims(exp=int(time.time()) - 5), keys.rsa, algorithm="RS256", headers={"kid": "rsa-1"}
    )
    assert oidc_client.get("/api/v1/me", headers=_bearer(token)).status_code == 200


def test_valid_jwt_of_an_unknown_subject_holds_no_role(oidc_client: TestClient, keys: Keys) -> None:
    token = jwt.encode(_claims(sub="bob@example.test"), keys.ec, algorithm="ES256")
    r = oidc_client.get("/api/v1/me", headers=_bearer(token))
    assert r.status_code == 200
    assert r.json()["roles"] == {}
    r = oidc_client.get("/api/v1/projects/alpha", headers=_bearer(token))
    assert r.status_code == 404


def test_api_tokens_keep_working_when_oidc_is_configured(
    oidc_client: TestClient, oidc_world: World
) -> None:
    assert oidc_client.get("/api/v1/me", headers=oidc_world.headers("admin")).status_code == 200


def test_without_oidc_configured_a_jwt_is_refused(
    client: TestClient, world: World, keys: Keys
) -> None:
    token = jwt.encode(_claims(), keys.rsa, algorithm="RS256", headers={"kid": "rsa-1"})
    r = client.get("/api/v1/me", headers=_bearer(token))
    assert r.status_code == 401
    assert r.json()["detail"] == "malformed bearer token"


@pytest.mark.parametrize("algorithms", [["none"], ["RS256", "HS256"]])
def test_settings_refuse_symmetric_or_none_algorithms(
    settings: Settings, algorithms: list[str]
) -> None:
    with pytest.raises(ValueError, match="may not include"):
        Settings(home=settings.home, database_url=settings.database_url,
                 oidc_algorithms=algorithms)  # fmt: skip
