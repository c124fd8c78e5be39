"""Model artifacts uploaded to Steward: content-addressed, hash-verified, checked before kept.

A model version is registered with the SHA-256 of its artifact; the upload streams into a 0600
temporary file while it is hashed, must match that hash and the version's flavour (checked
without running caller code, see ``formats``), and is renamed to
``<artifact_dir>/sha256/<2 hex>/<hash>``. The same bytes are one file whatever model or project
they belong to; a refused upload leaves nothing behind. Reads hash the file again, so bytes
changed on disk are refused rather than served or loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from governance.audit.service import record_audit
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidState, NotFound
from governance.core.files import TEMP_PREFIX, private_temp, receive_hashed, remove_leftovers
from governance.core.principal import Principal
from lineage import service as lineage
from lineage.schemas import ModelVersion, Signature
from retrain.artifacts.formats import Flavor, LoadedModel, check_artifact, flavor_of, load_model

FOLDER = "sha256"
INCOMING = "incoming"
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredArtifact:
    """Where a version's artifact lives and what it is."""

    project: str
    model: str
    version: int
    sha256: str
    flavor: Flavor
    size: int
    path: Path
    signature: Signature


def artifact_path(root: Path, sha256: str) -> Path:
    """The content address of an artifact under ``root``."""
    return Path(root) / FOLDER / sha256[:2] / sha256


def save_artifact(
    db: Database,
    *,
    project: str,
    model: str,
    version: int,
    chunks: Iterable[bytes],
    root: Path,
    actor: Principal,
    max_bytes: int | None = None,
    trusted: Sequence[str] = (),
) -> StoredArtifact:
    """Keep the uploaded artifact of a registered version; audited with its hash and size."""
    found = lineage.get_model_version(db, project=project, model=model, version=version)
    flavor = flavor_of(found.flavor)
    target = artifact_path(root, found.sha256)
    with private_temp(Path(root) / FOLDER / INCOMING) as temp:
        digest, size = receive_hashed(chunks, temp.file, max_bytes)
        if digest != found.sha256:
            raise Conflict(
                f"the uploaded bytes hash to {digest}, version {version} was registered with "
                f"{found.sha256}",
                code="artifact_mismatch",
            )
        temp.file.flush()
        check_artifact(temp.path, flavor, trusted=trusted)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp.commit(target)  # same hash, same bytes: replacing a copy changes nothing
    with db.transaction() as session:
        record_audit(
            session,
            actor=actor,
            action="model.artifact.upload",
            target=f"{model}/{version}",
            project=project,
            details={"sha256": digest, "size": size, "flavor": str(flavor)},
        )
    return _stored(found, flavor, target, size)


def find_artifact(
    db: Database, *, project: str, model: str, version: int, root: Path
) -> StoredArtifact:
    """The stored artifact of a version; NotFound until it was uploaded."""
    found = lineage.get_model_version(db, project=project, model=model, version=version)
    path = artifact_path(root, found.sha256)
    if not path.is_file():
        raise NotFound(f"no artifact was uploaded for {model} version {version}")
    return _stored(found, flavor_of(found.flavor), path, path.stat().st_size)


def read_verified(artifact: StoredArtifact) -> Iterator[bytes]:
    """The artifact's bytes, their hash checked first (a file changed on disk is refused)."""
    _verify(artifact)  # now, not at the first chunk: a refusal must come before any byte

    def chunks() -> Iterator[bytes]:
        with artifact.path.open("rb") as fh:
            while chunk := fh.read(READ_CHUNK):
                yield chunk

    return chunks()


def load_artifact(artifact: StoredArtifact, *, trusted: Sequence[str] = ()) -> LoadedModel:
    """The version's model, ready to score, from verified bytes."""
    _verify(artifact)
    return load_model(artifact.path, artifact.flavor, artifact.signature, trusted=trusted)


def remove_incoming_leftovers(root: Path) -> int:
    """Delete temporary uploads whose writer died; how many."""
    return remove_leftovers((Path(root) / FOLDER / INCOMING).glob(f"{TEMP_PREFIX}*"))


def _verify(artifact: StoredArtifact) -> None:
    digest = hashlib.sha256()
    with artifact.path.open("rb") as fh:
        while chunk := fh.read(READ_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != artifact.sha256:
        raise InvalidState(
            f"the stored artifact of {artifact.model} version {artifact.version} no longer "
            "matches its hash: it was changed on disk",
            code="artifact_corrupt",
        )


def _stored(found: ModelVersion, flavor: Flavor, path: Path, size: int) -> StoredArtifact:
    return StoredArtifact(
        project=found.project, model=found.model, version=found.version, sha256=found.sha256,
        flavor=flavor, size=size, path=path, signature=found.signature,
    )  # fmt: skip
