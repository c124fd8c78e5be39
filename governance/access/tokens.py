"""API token format: ``stw_<prefix>_<secret>``; only the prefix and SHA-256(secret) are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

TOKEN_SCHEME = "stw"
_PREFIX_BYTES = 6
_SECRET_BYTES = 32
# Compared against when the prefix is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = hashlib.sha256(b"steward-dummy").hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenParts:
    """A token split into its lookup prefix and secret."""

    prefix: str
    secret: str


def generate_token() -> tuple[str, TokenParts]:
    """Return a new token's full text and its parts."""
    prefix = secrets.token_hex(_PREFIX_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return f"{TOKEN_SCHEME}_{prefix}_{secret}", TokenParts(prefix=prefix, secret=secret)


def parse_token(text: str) -> TokenParts | None:
    """Split a presented token, or None if it is not a Steward token."""
    scheme, sep, rest = text.partition("_")
    if scheme != TOKEN_SCHEME or not sep:
        return None
    prefix, sep, secret = rest.partition("_")
    if not sep or len(prefix) != 2 * _PREFIX_BYTES or not secret or len(secret) > 128:
        return None
    return TokenParts(prefix=prefix, secret=secret)


def hash_secret(secret: str) -> str:
    """SHA-256 of the secret (tokens carry 256 random bits, so no slow KDF is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash or _DUMMY_HASH) and bool(
        stored_hash
    )
