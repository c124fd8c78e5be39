"""Validation of OIDC/JWT bearer tokens against a configured issuer, audience and keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt

from governance.core.errors import Unauthenticated
from governance.core.settings import Settings


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

    def _key_for(self, token: str) -> Any:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in self.algorithms:
            raise Unauthenticated("token algorithm is not accepted")
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        assert self._keyset is not None
        kid = header.get("kid")
        for key in self._keyset.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise Unauthenticated("token signed by an unknown key")

    def subject(self, token: str) -> str:
        """Return the verified subject of ``token`` or raise Unauthenticated."""
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", self.subject_claim]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid bearer token: {type(exc).__name__}") from exc
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("token has no subject")
        return subject
