"""The audit signing key's lifecycle: first creation, refusal when lost, the public key history.

The private key signs checkpoints; every public key that ever signed is appended to a history
file beside it (``audit-keys.txt``, one verifier key per line), so that checkpoints signed before
a rotation stay checkable after the old private key is gone. Reading the history never creates
or changes a file: verification must leave the machine as it found it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from governance.audit.signing import KeyRing, Signer, parse_verifier_key
from governance.core.errors import InvalidState
from governance.core.files import private_dir

HISTORY_NAME = "audit-keys.txt"


class AuditKeyMissing(InvalidState):
    """The log has entries but the key that seals it is gone."""

    code = "audit_key_missing"


def history_path(key_path: Path) -> Path:
    """Where the public keys of every audit signing key are kept."""
    return key_path.parent / HISTORY_NAME


def read_history(key_path: Path) -> list[str]:
    """The verifier keys in the history file, oldest first (empty when there is none)."""
    path = history_path(key_path)
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def record_in_history(key_path: Path, signer: Signer) -> None:
    """Append ``signer``'s verifier key to the history unless it is already there."""
    vkey = signer.verifier_key()
    if vkey in read_history(key_path):
        return
    private_dir(key_path.parent)
    fd = os.open(history_path(key_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(vkey + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def load_signer(key_path: Path, *, origin: str, log_empty: bool) -> Signer:
    """The signing key; created only for a log with no entries, refused when lost otherwise."""
    if key_path.exists():
        signer = Signer.load_or_create(key_path, origin=origin)
    elif log_empty:
        private_dir(key_path.parent)
        signer = Signer.load_or_create(key_path, origin=origin)
    else:
        raise AuditKeyMissing(
            f"the audit signing key {key_path} is missing but the log has entries: restore it, "
            "or run `steward audit rotate-key` to start a new key (the rotation is logged)"
        )
    record_in_history(key_path, signer)
    return signer


def key_ring(key_path: Path, *, origin: str, extra: Iterable[str] = ()) -> KeyRing:
    """The public keys verification trusts: the history, the current key, and ``extra``.

    ``extra`` holds verifier keys or PEM public keys an auditor supplies (``--key``).
    """
    ring = KeyRing()
    for text in [*read_history(key_path), *extra]:
        name, public = parse_verifier_key(text)
        ring.add(name or origin, public)
    if key_path.is_file():
        ring.add(origin, Signer.load_or_create(key_path, origin=origin).public_key)
    return ring
