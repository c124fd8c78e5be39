"""Secrets at rest: sealed with AES-256-GCM under a key file that never enters the database.

A sealed value reads ``v1:<key id>:<base64url(nonce || ciphertext || tag)>``. The caller names a
context (the row the secret belongs to) that is bound in as associated data, so a sealed value
copied into another row does not open there. The key is 32 random bytes, base64 in a 0600 file
(``STEWARD_SECRETS_KEY_PATH``, by default beside the audit signing key); opening never creates
it, sealing creates it only when asked to.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.core.errors import InvalidState, Unavailable
from governance.core.files import fsync_dir, private_temp
from governance.core.settings import Settings

log = logging.getLogger("steward.secrets")

VERSION = "v1"
_NONCE = 12
_KEY_BYTES = 32


class SecretsKeyMissing(Unavailable):
    """Sealed secrets exist but the key that opens them is not there (restore it)."""

    code = "secrets_key_missing"

    def __init__(self) -> None:
        super().__init__(
            "the secrets key (STEWARD_SECRETS_KEY_PATH) is missing: restore it, or set new "
            "secrets on the channels that use it"
        )


class SecretUnreadable(InvalidState):
    """A sealed value that does not open: another key, another row, or altered."""

    code = "secret_unreadable"


def is_sealed(value: str) -> bool:
    """Whether a stored value is in the sealed format (not legacy plain text)."""
    return value.startswith(VERSION + ":")


class SecretBox:
    """Seals and opens short secrets with the key file at ``path`` (read once, then kept)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: bytes | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """The box of ``STEWARD_SECRETS_KEY_PATH``."""
        return cls(settings.secrets_key)

    def has_key(self) -> bool:
        """Whether the key is loaded or its file exists."""
        return self._key is not None or self.path.exists()

    def create_key(self) -> bool:
        """Create the key file (0600, in a 0700 folder) unless it exists; True if created."""
        if self.path.exists():
            return False
        with private_temp(self.path.parent, suffix=".key") as temp:
            temp.file.write(base64.b64encode(os.urandom(_KEY_BYTES)) + b"\n")
            temp.file.flush()
            os.fsync(temp.file.fileno())
            try:
                # A link, not a rename: whole or absent, and never over a key made meanwhile.
                os.link(temp.path, self.path)
            except FileExistsError:
                return False  # another process made it a moment ago: use theirs
            fsync_dir(self.path.parent)
        log.info("created the secrets key %s", self.path)
        return True

    def key_id(self) -> str:
        """A short fingerprint of the key (stored with each sealed value)."""
        return _key_id(self._load())

    def seal(self, plaintext: str, *, context: str) -> str:
        """Seal ``plaintext`` for the row named by ``context``."""
        key = self._load()
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), _aad(context))
        blob = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
        return f"{VERSION}:{_key_id(key)}:{blob}"

    def open(self, sealed: str, *, context: str) -> str:
        """The plain text of a value sealed for ``context``; raises SecretUnreadable if not."""
        version, _, rest = sealed.partition(":")
        kid, _, blob = rest.partition(":")
        if version != VERSION or not blob:
            raise SecretUnreadable("the stored secret is not in a sealed format this version reads")
        key = self._load()
        if kid != _key_id(key):
            raise SecretUnreadable("the stored secret was sealed with another secrets key")
        try:
            raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
            plain = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(context))
        except (InvalidTag, binascii.Error, ValueError):
            raise SecretUnreadable(
                "the stored secret does not open here (altered, or copied from another row)"
            ) from None
        return plain.decode()

    def _load(self) -> bytes:
        if self._key is not None:
            return self._key
        try:
            info = self.path.stat()
            text = self.path.read_bytes()
        except FileNotFoundError:
            raise SecretsKeyMissing() from None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("the secrets key %s is readable by others: chmod 600 it", self.path)
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except binascii.Error:
            key = b""
        if len(key) != _KEY_BYTES:
            raise InvalidState("the secrets key file does not hold a 32-byte base64 key")
        self._key = key
        return key


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"steward secrets key\x00" + key).hexdigest()[:8]


def _aad(context: str) -> bytes:
    return b"steward sealed secret\x00" + context.encode()
