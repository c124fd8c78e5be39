"""Ed25519 checkpoint signing in the C2SP signed-note format; the key lives outside the database."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from governance.core.errors import InvalidInput

_ED25519 = b"\x01"
_DASH = "\u2014"


@dataclass(frozen=True, kw_only=True, slots=True)
class Checkpoint:
    """A signed statement: the log named ``origin`` had ``size`` entries with Merkle ``root``."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The signed text (tlog-checkpoint body)."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The signed-note key hash: first four bytes of SHA-256(name, newline, 0x01, key)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + raw).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The note verifier key string ``name+hash+base64(0x01||key)``."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = key_id(name, public_key).hex()
    return f"{name}+{kid}+{base64.b64encode(_ED25519 + raw).decode()}"


def parse_verifier_key(text: str) -> tuple[str, Ed25519PublicKey]:
    """Parse a verifier key string (optionally followed by its PEM) or a PEM public key."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidInput("public key is not Ed25519")
        return "", key
    # What `steward audit public-key` and GET /api/v1/audit/public-key print: the verifier
    # key on the first line, then the PEM.
    first = text.splitlines()[0] if text else ""
    try:
        name, _kid, b64 = first.split("+", 2)  # base64 may hold "+"; names and ids never do
        raw = base64.b64decode(b64, validate=True)
    except ValueError as exc:
        raise InvalidInput("malformed verifier key") from exc
    if raw[:1] != _ED25519 or len(raw) != 33:
        raise InvalidInput("verifier key is not an Ed25519 key")
    return name, Ed25519PublicKey.from_public_bytes(raw[1:])


class Signer:
    """Signs checkpoints with a private key read from (or created at) a file."""

    def __init__(self, private_key: Ed25519PrivateKey, *, origin: str) -> None:
        self._key = private_key
        self.origin = origin
        self.public_key = private_key.public_key()

    @classmethod
    def load_or_create(cls, path: Path, *, origin: str) -> Signer:
        """Load the PEM key at ``path``, creating it with mode 0600 when absent."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput("audit signing key is not an Ed25519 key")
        return cls(key, origin=origin)

    def sign(self, checkpoint: Checkpoint) -> str:
        """Return the complete signed note."""
        sig = self._key.sign(checkpoint.body().encode())
        blob = base64.b64encode(key_id(checkpoint.origin, self.public_key) + sig).decode()
        return f"{checkpoint.body()}\n{_DASH} {checkpoint.origin} {blob}\n"

    def sign_checkpoint(self, *, size: int, root: bytes) -> str:
        """The signed note stating that the log named ``origin`` had ``size`` entries."""
        return self.sign(Checkpoint(origin=self.origin, size=size, root=root))

    def public_pem(self) -> str:
        """The public key in PEM form (for auditors)."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def verifier_key(self) -> str:
        """The public key as a signed-note verifier key."""
        return verifier_key(self.origin, self.public_key)


def open_note(note: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """Verify a signed note and return the checkpoint it states; raises InvalidInput if not."""
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        raise InvalidInput("note has no signature block")
    lines = body.split("\n")
    if len(lines) < 3:
        raise InvalidInput("checkpoint body is too short")
    origin, size_text, root_b64 = lines[0], lines[1], lines[2]
    try:
        checkpoint = Checkpoint(
            origin=origin, size=int(size_text), root=base64.b64decode(root_b64, validate=True)
        )
    except ValueError as exc:
        raise InvalidInput("checkpoint body is malformed") from exc
    want = key_id(origin, public_key)
    for line in sigs.strip("\n").split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH or parts[1] != origin:
            continue
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError:
            continue
        if blob[:4] != want:
            continue
        try:
            public_key.verify(blob[4:], (body + "\n").encode())
        except InvalidSignature:
            break
        return checkpoint
    raise InvalidInput("no valid signature from the audit key")
