"""Validation of OIDC/JWT bearer tokens against a configured issuer, audience and keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt

from governance.core.errors import Unauthenticated
from governance.core.settings import Settings

_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}  # by algorithm name prefix


class JwtVerifier:
    """Checks signature, issuer, audience and expiry with a fixed list of algorithms."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: list[str],
        subject_claim: str = "sub",
        jwks_file: Path | None = None,
        jwks_url: str | None = None,
        leeway: float = 30.0,
    ) -> None:
        if not (jwks_file or jwks_url):
            raise ValueError("a JWKS file or URL is required for OIDC")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.subject_claim = subject_claim
        self.leeway = leeway
        self._keyset = (
            jwt.PyJWKSet.from_dict(json.loads(jwks_file.read_text())) if jwks_file else None
        )
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier | None:
        """Build a verifier when OIDC is configured, else None."""
        if not (settings.oidc_issuer and settings.oidc_audience):
            return None
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            algorithms=settings.oidc_algorithms,
            subject_claim=settings.oidc_subject_claim,
            jwks_file=settings.oidc_jwks_file,
            jwks_url=settings.oidc_jwks_url,
        )

    def _keys_for(self, token: str) -> list[Any]:
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise Unauthenticated("token algorithm is not accepted")
        if self._client is not None:
            candidates = [self._client.get_signing_key_from_jwt(token)]
        else:
            assert self._keyset is not None
            kid = header.get("kid")
            candidates = [k for k in self._keyset.keys if kid is None or k.key_id == kid]
        # Only keys of the algorithm's type: PyJWT raises TypeError (a 500) on a mismatch, and
        # a token without a kid must find its key among keys of other types.
        keys = [k.key for k in candidates if k.key_type == _KEY_TYPES.get(str(alg)[:2])]
        if not keys:
            raise Unauthenticated("token signed by an unknown key")
        return keys

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        return jwt.decode(
            token,
            key,
            algorithms=self.algorithms,
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
            options={"require": ["exp", "iss", "aud", self.subject_claim]},
        )

    def verify(self, token: str) -> tuple[str, datetime]:
        """Return the verified subject of ``token`` and its expiry, or raise Unauthenticated."""
        try:
            keys = self._keys_for(token)
            for key in keys[:-1]:
                try:
                    return self._identity_of(self._decode(token, key))
                except jwt.InvalidSignatureError:
                    continue
            return self._identity_of(self._decode(token, keys[-1]))
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid bearer token: {type(exc).__name__}") from exc

    def _identity_of(self, claims: dict[str, Any]) -> tuple[str, datetime]:
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("token has no subject")
        # PyJWT has checked that ``exp`` is present and numeric.
        return subject, datetime.fromtimestamp(float(claims["exp"]), UTC)
