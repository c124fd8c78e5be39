"""Dataset versions whose bytes are uploaded to Steward instead of named by location.

The bytes stream into a temporary 0600 file under ``<first dataset root>/<project>/uploads`` while
their SHA-256 is computed; they are checked against the declared hash and inspected (schema, row
count), renamed to ``<sha256><suffix>`` (content-addressed: the same bytes are one file, never
rewritten with others) and registered exactly as a location under the root would be. Every
refusal (hash mismatch, size, unreadable content, a version holding other content, a full disk)
leaves no file behind.

With an object-store location (``Settings.dataset_uri``), the bytes are received, checked and
inspected in the same local temporary file, then uploaded whole (one object, complete or
absent) to ``<location>/<project>/uploads/<sha256><suffix>`` and registered under that URI; a
failed registration removes an object this upload created. The lock is per server: uploads of
the same bytes from two servers at once write the same object twice, which is harmless.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pyarrow.fs as pafs

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
from lineage.storage import Location

UPLOADS = "uploads"
_LOCK = ".lock"
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
CSV = "text/csv"
OPAQUE = "application/octet-stream"
# What the bytes are read as: the suffix of the stored file (none: hashed only, never read).
SUFFIXES = {**dict.fromkeys(PARQUET_TYPES, ".parquet"), CSV: ".csv", OPAQUE: ""}
_WALL = SystemClock()
_CHUNK = 1 << 20


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
    store: Location | None = None,
) -> DatasetVersion:
    """Store uploaded bytes under the project's dataset prefix and register them as a version.

    ``media_type`` says how to read them (Parquet, CSV, or opaque bytes that are only hashed);
    ``sha256``, when given, must be the hash of what arrived. ``store``: the object-store
    location to keep them in (``objectdata.dataset_location``) instead of the first root.
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
        key = None if store is None else store.path(project, UPLOADS, f"{digest}{suffix}")
        uri = target.as_uri() if key is None or store is None else store.uri_of(key)
        data = DatasetCreate(
            name=name, namespace=namespace, uri=uri, version=version, sha256=digest,
            columns=facts.columns, row_count=facts.row_count, description=description,
        )  # fmt: skip
        register = functools.partial(
            save_dataset_version, db, project=project, data=data, actor=actor, clock=clock
        )
        # One publication at a time per project: whether the file existed before decides
        # whether a failed registration may remove it.
        with locked(folder / _LOCK):
            if key is not None and store is not None:
                return _publish_object(temp, store, key, register)
            return _publish(temp, target, register)


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


def remove_upload_leftovers(
    roots: Sequence[Path], store: Location | None = None, *, older_than: float = 3600
) -> int:
    """Delete temporary upload files whose writer died (a crash); how many.

    In an object store, where no lock tells a live upload from a dead one, staging objects
    older than ``older_than`` seconds are the dead ones.
    """
    removed = remove_leftovers(
        path for root in roots for path in Path(root).glob(f"*/{UPLOADS}/{TEMP_PREFIX}*")
    )
    return removed + (0 if store is None else _remove_object_leftovers(store, older_than))


def _remove_object_leftovers(store: Location, older_than: float) -> int:
    fs, cutoff, removed = store.filesystem, time.time() - older_than, 0
    projects = fs.get_file_info(pafs.FileSelector(store.base, allow_not_found=True))
    for project in (p for p in projects if p.type == pafs.FileType.Directory):
        selector = pafs.FileSelector(f"{project.path}/{UPLOADS}", allow_not_found=True)
        for info in fs.get_file_info(selector):
            stale = info.mtime is not None and info.mtime.timestamp() < cutoff
            if info.base_name.startswith(TEMP_PREFIX) and stale:
                with contextlib.suppress(FileNotFoundError):
                    fs.delete_file(info.path)
                removed += 1
    return removed


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
    temp: PrivateTemp, target: Path, register: Callable[[], DatasetVersion]
) -> DatasetVersion:
    existed = target.exists()
    temp.commit(target)
    try:
        created = register()
    except BaseException:
        if not existed:
            target.unlink(missing_ok=True)
        raise
    if created.uri != target.as_uri() and not existed:
        # The version was registered before, from another location: this copy serves nothing.
        target.unlink(missing_ok=True)
    return created


def _publish_object(
    temp: PrivateTemp, store: Location, key: str, register: Callable[[], DatasetVersion]
) -> DatasetVersion:
    fs = store.filesystem
    existed = fs.get_file_info(key).type == pafs.FileType.File
    if not existed:
        temp.file.flush()
        _upload(temp.path, fs, key)
    try:
        created = register()
    except BaseException:
        if not existed:
            fs.delete_file(key)
        raise
    if created.uri != store.uri_of(key) and not existed:
        fs.delete_file(key)  # registered before from another location: this copy serves nothing
    return created


def _upload(path: Path, fs: pafs.FileSystem, key: str) -> None:
    """Upload a file whole: to a temporary key, then a server-side copy to ``key``.

    A stream cut short may still complete its upload when closed; the final key only ever
    receives a copy of a finished one.
    """
    folder, name = key.rsplit("/", 1)
    staging = f"{folder}/{TEMP_PREFIX}{secrets.token_hex(8)}-{name}"
    try:
        with path.open("rb") as source, fs.open_output_stream(staging) as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
        fs.copy_file(staging, key)
    finally:
        with contextlib.suppress(FileNotFoundError):
            fs.delete_file(staging)
