"""Dataset versions whose bytes are uploaded to Steward instead of named by location.

The bytes stream into a temporary 0600 file under ``<first dataset root>/<project>/uploads`` while
their SHA-256 is computed; they are checked against the declared hash and inspected (schema, row
count), renamed to ``<sha256><suffix>`` (content-addressed: the same bytes are one file, never
rewritten with others) and registered exactly as a location under the root would be. Every
refusal (hash mismatch, size, unreadable content, a version holding other content, a full disk)
leaves no file behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import InvalidInput
from governance.core.files import (
    TEMP_PREFIX,
    PrivateTemp,
    locked,
    private_temp,
    receive_hashed,
    remove_leftovers,
)
from governance.core.paths import Unconfined, project_prefixes
from governance.core.principal import Principal
from lineage.datafile import FileFacts, inspect_path
from lineage.registry import save_dataset_version
from lineage.schemas import DatasetCreate, DatasetVersion

UPLOADS = "uploads"
_LOCK = ".lock"
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
CSV = "text/csv"
OPAQUE = "application/octet-stream"
# What the bytes are read as: the suffix of the stored file (none: hashed only, never read).
SUFFIXES = {**dict.fromkeys(PARQUET_TYPES, ".parquet"), CSV: ".csv", OPAQUE: ""}
_WALL = SystemClock()


def upload_dataset_version(
    db: Database,
    *,
    project: str,
    name: str,
    chunks: Iterable[bytes],
    media_type: str | None,
    roots: Sequence[Path],
    actor: Principal,
    version: str | None = None,
    sha256: str | None = None,
    namespace: str | None = None,
    description: str = "",
    max_bytes: int | None = None,
    clock: Clock = _WALL,
) -> DatasetVersion:
    """Store uploaded bytes under the project's dataset prefix and register them as a version.

    ``media_type`` says how to read them (Parquet, CSV, or opaque bytes that are only hashed);
    ``sha256``, when given, must be the hash of what arrived.
    """
    suffix = upload_suffix(media_type)
    folder = upload_folder(roots, project)
    with private_temp(folder, suffix=suffix) as temp:
        digest, _ = receive_hashed(chunks, temp.file, max_bytes)
        if sha256 is not None and digest != sha256.lower():
            raise InvalidInput(
                "the declared sha256 differs from the uploaded bytes", field="sha256"
            )
        facts = _inspect(temp, digest)
        target = folder / f"{digest}{suffix}"
        data = DatasetCreate(
            name=name, namespace=namespace, uri=target.as_uri(), version=version, sha256=digest,
            columns=facts.columns, row_count=facts.row_count, description=description,
        )  # fmt: skip
        # One publication at a time per project: whether the file existed before decides
        # whether a failed registration may remove it.
        with locked(folder / _LOCK):
            return _publish(db, temp, target, project=project, data=data, actor=actor, clock=clock)


def upload_suffix(media_type: str | None) -> str:
    """The stored file's suffix for a Content-Type; InvalidInput for one Steward cannot store."""
    media = (media_type or OPAQUE).split(";", 1)[0].strip().lower()
    if media not in SUFFIXES:
        allowed = ", ".join(SUFFIXES)
        raise InvalidInput(f"unsupported media type {media!r}; use one of {allowed}")
    return SUFFIXES[media]


def upload_folder(roots: Sequence[Path], project: str) -> Path:
    """``<first dataset root>/<project>/uploads`` (resolved); Unconfined if it leads elsewhere."""
    prefixes = project_prefixes(roots, project)
    if not prefixes:
        raise Unconfined()
    folder = prefixes[0] / UPLOADS
    if folder.exists() and not folder.resolve().is_relative_to(prefixes[0]):
        raise Unconfined()  # a link planted in the project's folder must not move the writes
    return folder


def remove_upload_leftovers(roots: Sequence[Path]) -> int:
    """Delete temporary upload files whose writer died (a crash); how many."""
    return remove_leftovers(
        path for root in roots for path in Path(root).glob(f"*/{UPLOADS}/{TEMP_PREFIX}*")
    )


def _inspect(temp: PrivateTemp, digest: str) -> FileFacts:
    temp.file.flush()
    try:
        return inspect_path(temp.path, sha256=digest)
    except InvalidInput as exc:
        kind = temp.path.suffix.lstrip(".").upper()
        raise InvalidInput(
            f"the uploaded bytes are not a readable {kind} file", field="body"
        ) from exc


def _publish(
    db: Database,
    temp: PrivateTemp,
    target: Path,
    *,
    project: str,
    data: DatasetCreate,
    actor: Principal,
    clock: Clock,
) -> DatasetVersion:
    existed = target.exists()
    temp.commit(target)
    try:
        created = save_dataset_version(db, project=project, data=data, actor=actor, clock=clock)
    except BaseException:
        if not existed:
            target.unlink(missing_ok=True)
        raise
    if created.uri != data.uri and not existed:
        # The version was registered before, from another location: this copy serves nothing.
        target.unlink(missing_ok=True)
    return created
