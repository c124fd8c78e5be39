"""Ed25519 checkpoint signing in the C2SP signed-note format; the key lives outside the database."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from governance.core.errors import InvalidInput
from governance.core.files import private_dir

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
    def create(cls, path: Path, *, origin: str) -> Signer:
        """Write a fresh key to ``path``, which must not exist (0600, fsynced), and load it."""
        private_dir(path.parent)  # 0700: the key's folder is Steward's alone
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise InvalidInput(f"{path} already exists") from exc
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        return cls.load_or_create(path, origin=origin)

    @classmethod
    def load_or_create(cls, path: Path, *, origin: str) -> Signer:
        """Load the PEM key at ``path``, creating it with mode 0600 when absent."""
        if not path.exists():
            return cls.create(path, origin=origin)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput("audit signing key is not an Ed25519 key")
        return cls(key, origin=origin)

    def sign(self, checkpoint: Checkpoint, *, cosigners: Iterable[Signer] = ()) -> str:
        """Return the complete signed note (one signature line per signer, this one first)."""
        lines = [s.signature_line(checkpoint) for s in (self, *cosigners)]
        return f"{checkpoint.body()}\n" + "".join(lines)

    def signature_line(self, checkpoint: Checkpoint) -> str:
        """This key's signature line of a note stating ``checkpoint``."""
        sig = self._key.sign(checkpoint.body().encode())
        blob = base64.b64encode(key_id(checkpoint.origin, self.public_key) + sig).decode()
        return f"{_DASH} {checkpoint.origin} {blob}\n"

    def sign_bytes(self, data: bytes) -> bytes:
        """A raw Ed25519 signature (key rotation endorsements)."""
        return self._key.sign(data)

    def sign_checkpoint(self, *, size: int, root: bytes) -> str:
        """The signed note stating that the log named ``origin`` had ``size`` entries."""
        return self.sign(Checkpoint(origin=self.origin, size=size, root=root))

    def stated(self, note: str) -> tuple[int, bytes] | None:
        """``(size, root)`` of a note this key signed for this log; None otherwise."""
        try:
            checkpoint = open_note(note, self.public_key, origin=self.origin)
        except InvalidInput:
            return None
        return (checkpoint.size, checkpoint.root) if checkpoint.origin == self.origin else None

    def public_pem(self) -> str:
        """The public key in PEM form (for auditors)."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def verifier_key(self) -> str:
        """The public key as a signed-note verifier key."""
        return verifier_key(self.origin, self.public_key)


class UnknownKey(InvalidInput):
    """A note carries no signature by any key the verifier knows (it cannot be checked)."""


class KeyRing:
    """The public keys a verifier trusts, by signed-note key id (the audit key and its history)."""

    def __init__(self, keys: Iterable[tuple[str, Ed25519PublicKey]] = ()) -> None:
        self._keys: dict[bytes, Ed25519PublicKey] = {}
        for name, key in keys:
            self.add(name, key)

    def add(self, name: str, public_key: Ed25519PublicKey) -> None:
        """Trust ``public_key`` for notes from the log named ``name``."""
        self._keys[key_id(name, public_key)] = public_key

    def get(self, kid: bytes) -> Ed25519PublicKey | None:
        """The key with this key id, if trusted."""
        return self._keys.get(kid)

    def __len__(self) -> int:
        return len(self._keys)


def open_note(note: str, keys: KeyRing | Ed25519PublicKey, *, origin: str = "") -> Checkpoint:
    """Verify a signed note and return the checkpoint it states.

    Raises ``UnknownKey`` when no signature is by a known key, ``InvalidInput`` when a known key's
    signature does not verify or the note is malformed. With a bare key, ``origin`` names it.
    """
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        raise InvalidInput("note has no signature block")
    lines = body.split("\n")
    if len(lines) < 3:
        raise InvalidInput("checkpoint body is too short")
    name, size_text, root_b64 = lines[0], lines[1], lines[2]
    try:
        checkpoint = Checkpoint(
            origin=name, size=int(size_text), root=base64.b64decode(root_b64, validate=True)
        )
    except ValueError as exc:
        raise InvalidInput("checkpoint body is malformed") from exc
    ring = keys if isinstance(keys, KeyRing) else KeyRing([(origin or name, keys)])
    unknown: list[str] = []
    for line in sigs.strip("\n").split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH or parts[1] != name:
            continue
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError:
            continue
        public_key = ring.get(blob[:4])
        if public_key is None:
            unknown.append(blob[:4].hex())
            continue
        try:
            public_key.verify(blob[4:], (body + "\n").encode())
        except InvalidSignature as exc:
            raise InvalidInput("bad signature by the audit key") from exc
        return checkpoint
    if unknown:
        raise UnknownKey(f"signed by key {', '.join(unknown)}, which is not in the key history")
    raise InvalidInput("no valid signature from the audit key")
