"""Parquet files of captured rows, partitioned by project / endpoint / day, written atomically.

The store lives under one storage location: a local folder or any pyarrow / fsspec filesystem
URI (``s3://bucket/prefix``, ``gs://...``; see ``lineage.storage``). Paths are built only from
checked and escaped names and ISO days, so none leaves the root.

A batch is first staged as ``.pending-<batch>.parquet`` in each day folder it touches (a pending
file is always complete: written under a temporary name and renamed locally, one completed
upload on an object store), then published as ``part-<batch>.parquet`` once the database has
recorded the batch (an ``os.replace`` locally; on an object store, which has no rename, a
server-side copy, whose target appears whole, then the deletion of the pending object). Readers
only ever list published names, so they never see a partial file or an unrecorded batch.

Compaction (``compaction``) replaces small published files of a day by one
``compact-<id>.parquet`` whose footer lists, under ``steward.replaces``, every file name it
holds the rows of (transitively). A listing hides those names: committing the compact file is
the one atomic step that swaps the old files for the new one, and the replaced files are deleted
later. Files are 0600 and folders 0700 locally; a staging that fails (a full disk:
``InsufficientStorage``) leaves none of the batch's files.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path, PosixPath, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from governance.core.clock import to_utc
from governance.core.errors import InvalidInput, InvalidState
from governance.core.files import TEMP_PREFIX, remove_leftovers
from lineage.storage import open_location
from monitors.capture.objects import Objects
from monitors.capture.schemas import CORRELATION_ID, RECEIVED_AT, TIMESTAMP, CaptureKind

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DIRS = {CaptureKind.inference: "inferences", CaptureKind.label: "labels"}
_PART = "part-{}.parquet"
_PENDING = ".pending-{}.parquet"
COMPACT = "compact-{}.parquet"
COMPACTING = ".compacting-{}.parquet"
REPLACES = b"steward.replaces"
_PUBLISHED = ("part-", "compact-")
_READ_ATTEMPTS = 5
_VANISHED = ("NO_SUCH_KEY", "RESOURCE_NOT_FOUND", "NoSuchKey")
_CACHED_FOOTERS = 4096


def _segment(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise InvalidInput(f"invalid name {name!r}")
    # Escaping '/', ':', '@' and '+' keeps every name one plain directory level.
    return quote(name, safe="._-")


def write_parquet(table: pa.Table, handle: Any, **options: Any) -> None:
    """Write a capture table (snappy; no dictionary of the unique correlation ids; statistics
    of the time columns only: windows are read by time, and the strings' minima and maxima
    cost a third of writing a batch of scored rows)."""
    encoded = [name for name in table.column_names if name != CORRELATION_ID]
    timed = [name for name in (TIMESTAMP, RECEIVED_AT) if name in table.column_names]
    pq.write_table(
        table, handle, compression="snappy", use_dictionary=encoded, write_statistics=timed,
        **options,
    )  # fmt: skip


def sorted_by(table: pa.Table, column: str) -> pa.Table:
    """``table`` in the order of ``column`` (a stable sort; rows already in order, as scored rows
    come, are not sorted again)."""
    values = table.column(column).combine_chunks()
    rows = len(values)
    if rows > 1 and (
        values.null_count
        or not pc.all(pc.greater_equal(values.slice(1), values.slice(0, rows - 1))).as_py()
    ):
        return table.sort_by(column)
    return table


def day_of(value: datetime) -> str:
    """The UTC day partition a timestamp falls in."""
    return to_utc(value).date().isoformat()


def days_between(start: datetime, end: datetime) -> tuple[str, str]:
    """The first and last day partitions a half-open window ``[start, end)`` may touch."""
    last = to_utc(end - timedelta(microseconds=1)) if end > start else to_utc(end)
    return to_utc(start).date().isoformat(), last.date().isoformat()


def _mtime(info: pafs.FileInfo) -> float:
    return info.mtime.timestamp() if info.mtime is not None else 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class DayFiles:
    """One listing of a day partition."""

    visible: list[pafs.FileInfo]  # what readers read: published and not replaced
    hidden: list[tuple[pafs.FileInfo, float]]  # replaced files, with when they were replaced
    staging: list[pafs.FileInfo]  # pending batches and compactions not committed
    replaced: frozenset[str]  # every name a committed compaction holds, whether still there


class ParquetCaptureStore:
    """Captured inferences and labels as Parquet files under one storage location."""

    def __init__(self, root: Path | str) -> None:
        self.location = open_location(root)
        self.filesystem: pafs.FileSystem = self.location.filesystem
        self.objects = Objects(self.location)
        self._footers: dict[str, frozenset[str]] = {}

    @property
    def local(self) -> bool:
        """Whether the store is a folder of this machine."""
        return self.location.local

    @property
    def root(self) -> Path:
        """The local folder of the store (InvalidState for an object store)."""
        if not self.local:
            raise InvalidState("the capture store is not a local folder")
        return Path(self.location.base)

    def _path(self, *parts: str) -> PurePosixPath:
        path = PurePosixPath(self.location.path(*parts))
        return PosixPath(path) if self.local else path

    def endpoint_dir(self, kind: CaptureKind, project: str, endpoint: str) -> PurePosixPath:
        """Folder of one endpoint's partitions (names checked and escaped: they are paths);
        a ``Path`` for a local store."""
        return self._path(
            _DIRS[kind], f"project={_segment(project)}", f"endpoint={_segment(endpoint)}"
        )

    def day_dir(self, kind: CaptureKind, project: str, endpoint: str, day: str) -> PurePosixPath:
        """Folder of one day partition (``day`` an ISO date)."""
        if not _DAY.match(day):
            raise InvalidInput(f"invalid day {day!r}")
        return self.endpoint_dir(kind, project, endpoint) / f"day={day}"

    def day_path(self, kind: CaptureKind, project: str, endpoint: str, day: str) -> str:
        """The day partition's folder as a path on ``filesystem``."""
        return self.day_dir(kind, project, endpoint, day).as_posix()

    # writing
    def stage(
        self, kind: CaptureKind, project: str, endpoint: str, batch: UUID, table: pa.Table, by: str
    ) -> list[str]:
        """Write ``table`` split by the UTC day of column ``by`` as pending files; their days.

        All or nothing: on any error (``InsufficientStorage`` for a full disk) the files staged
        so far are removed before it is raised.
        """
        days = pc.cast(table.column(by), pa.date32())
        unique = sorted(pc.unique(days).to_pylist())
        staged: list[str] = []
        try:
            for day in unique:
                same = table if len(unique) == 1 else table.filter(pc.equal(days, pa.scalar(day)))
                folder = self.day_path(kind, project, endpoint, day.isoformat())
                write = functools.partial(write_parquet, sorted_by(same, by))
                self.objects.write(f"{folder}/{_PENDING.format(batch.hex)}", write)
                staged.append(day.isoformat())
        except BaseException:
            self.discard(kind, project, endpoint, batch, staged)
            raise
        return staged

    def publish(
        self,
        kind: CaptureKind,
        project: str,
        endpoint: str,
        batch: UUID,
        days: list[str],
        *,
        fresh: bool = False,
    ) -> None:
        """Make a staged batch visible (idempotent: finishes a publish cut short by a crash).

        ``fresh``: the batch was staged by the caller just now, so it cannot be published yet.
        Otherwise a pending file whose batch is already published (an object-store publish
        interrupted between its copy and its delete, maybe compacted since) is only removed.
        """
        for day in days:
            folder = self.day_path(kind, project, endpoint, day)
            pending, part = _PENDING.format(batch.hex), _PART.format(batch.hex)
            source = f"{folder}/{pending}"
            if not fresh:
                if not self.objects.exists(source):
                    continue
                if self._published(kind, project, endpoint, day, part):
                    self.objects.delete(source)
                    continue
            self.objects.move(source, f"{folder}/{part}")  # False: a concurrent retry was first

    def _published(
        self, kind: CaptureKind, project: str, endpoint: str, day: str, name: str
    ) -> bool:
        listing = self.listing(kind, project, endpoint, day)
        return name in listing.replaced or any(i.base_name == name for i in listing.visible)

    def discard(
        self, kind: CaptureKind, project: str, endpoint: str, batch: UUID, days: list[str]
    ) -> None:
        """Remove a staged batch that will not be published."""
        for day in days:
            folder = self.day_path(kind, project, endpoint, day)
            self.objects.delete(f"{folder}/{_PENDING.format(batch.hex)}")

    def remove(self, path: str) -> None:
        """Delete one file of the store (a stale pending file)."""
        self.objects.delete(path)

    def remove_leftovers(self) -> int:
        """Delete what local writers and retention passes that died (a crash) left; how many.

        An object store has neither temporary files nor trash folders: its uploads are atomic.
        """
        if not self.local:
            return 0
        root = self.root
        removed = remove_leftovers(root.glob(f"*/project=*/endpoint=*/day=*/{TEMP_PREFIX}*"))
        for trash in root.glob("*/project=*/endpoint=*/.trash-*"):
            shutil.rmtree(trash, ignore_errors=True)  # a day already out of every listing
            removed += 1
        return removed

    def pending(self, kind: CaptureKind, older_than: float) -> Iterator[tuple[str, UUID]]:
        """Staged batch files older than ``older_than`` seconds, with their batch ids."""
        cutoff = time.time() - older_than
        base = self.location.path(_DIRS[kind])
        selector = pafs.FileSelector(base, allow_not_found=True, recursive=True)
        for info in self.filesystem.get_file_info(selector):
            name, folder = info.base_name, info.path.rsplit("/", 2)[-2]
            if info.type == pafs.FileType.File and name.startswith(".pending-"):
                # In a day partition only: a day being deleted (a trash folder) is not recovered.
                if folder.startswith("day=") and _mtime(info) < cutoff:
                    yield info.path, UUID(hex=name[len(".pending-") : -len(".parquet")])

    # reading
    def days(self, kind: CaptureKind, project: str, endpoint: str) -> list[str]:
        """Day partitions of one endpoint, oldest first."""
        base = self.endpoint_dir(kind, project, endpoint).as_posix()
        return sorted(n[4:] for n in self.objects.folders(base) if n.startswith("day="))

    def endpoints(self, kind: CaptureKind) -> list[tuple[str, str]]:
        """Every (project, endpoint) with stored partitions."""
        found: list[tuple[str, str]] = []
        base = self.location.path(_DIRS[kind])
        for project in sorted(self.objects.folders(base)):
            if project.startswith("project="):
                endpoints = self.objects.folders(f"{base}/{project}")
                found.extend(
                    (unquote(project[len("project=") :]), unquote(e[len("endpoint=") :]))
                    for e in sorted(endpoints)
                    if e.startswith("endpoint=")
                )
        return found

    def listing(self, kind: CaptureKind, project: str, endpoint: str, day: str) -> DayFiles:
        """The day's files: visible, replaced by a compaction, staged."""
        infos = self.objects.entries(self.day_path(kind, project, endpoint, day))
        files = [i for i in infos if i.type == pafs.FileType.File]
        data = [i for i in files if i.base_name.startswith(_PUBLISHED)]
        replaced: dict[str, float] = {}
        for info in data:
            if info.base_name.startswith("compact-"):
                for name in self.replaces(info.path):
                    replaced[name] = min(replaced.get(name, _mtime(info)), _mtime(info))
        return DayFiles(
            visible=sorted((i for i in data if i.base_name not in replaced), key=_name),
            hidden=[(i, replaced[i.base_name]) for i in data if i.base_name in replaced],
            staging=[i for i in files if i.base_name.startswith((".pending-", ".compacting-"))],
            replaced=frozenset(replaced),
        )

    def replaces(self, path: str) -> frozenset[str]:
        """Names a compact file replaces (read once: a published file never changes)."""
        found = self._footers.get(path)
        if found is None:
            with _vanished_as_missing():
                meta = pq.read_metadata(path, filesystem=self.filesystem).metadata or {}
            found = frozenset(json.loads(meta.get(REPLACES, b"[]")))
            if len(self._footers) >= _CACHED_FOOTERS:
                self._footers.clear()
            self._footers[path] = found
        return found

    def files(self, kind: CaptureKind, project: str, endpoint: str, days: list[str]) -> list[str]:
        """Published files of the given days as paths on ``filesystem`` (never a pending one,
        never one a committed compaction replaced)."""
        for attempt in range(_READ_ATTEMPTS):
            try:
                return [
                    info.path
                    for day in days
                    for info in self.listing(kind, project, endpoint, day).visible
                ]
            except FileNotFoundError:
                # A compact file replaced and removed between listing and reading its footer.
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        return []

    def read(
        self,
        kind: CaptureKind,
        project: str,
        endpoint: str,
        *,
        days: list[str],
        columns: list[str] | None = None,
        where: pc.Expression | None = None,
    ) -> pa.Table | None:
        """Rows of the published files of ``days`` (None when there are none)."""
        for attempt in range(_READ_ATTEMPTS):
            paths = self.files(kind, project, endpoint, days)
            if not paths:
                return None
            try:
                return read_files(self.filesystem, paths, columns, where)
            except FileNotFoundError:
                # Retention or compaction removed a file between listing and reading: list again.
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        return None

    # retention
    def delete_day(self, kind: CaptureKind, project: str, endpoint: str, day: str) -> int:
        """Remove one day partition; returns how many published files it held."""
        folder = self.day_path(kind, project, endpoint, day)
        count = len(self.listing(kind, project, endpoint, day).visible)
        if not self.local:
            # No rename of a folder on an object store: the day's objects go one by one (a
            # reader of a day past retention may see fewer rows while it goes).
            self.objects.delete_tree(folder)
            return count
        path = Path(folder)
        if not path.is_dir():
            return 0
        # Renaming first takes the whole day out of readers' listings in one step.
        trash = path.with_name(f".trash-{day}-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return count


def _name(info: pafs.FileInfo) -> str:
    return str(info.base_name)


def read_files(
    filesystem: pafs.FileSystem,
    paths: list[str],
    columns: list[str] | None,
    where: pc.Expression | None,
) -> pa.Table:
    """The rows of Parquet ``paths`` on ``filesystem``, their schemas unified."""
    with _vanished_as_missing():
        schemas = [pq.read_schema(p, filesystem=filesystem) for p in paths]
        schema = pa.unify_schemas(schemas, promote_options="permissive")
        dataset = ds.dataset(paths, schema=schema, format="parquet", filesystem=filesystem)
        wanted = None if columns is None else [c for c in columns if c in schema.names]
        return dataset.to_table(columns=wanted, filter=where)


@contextmanager
def _vanished_as_missing() -> Iterator[None]:
    """Raise an object deleted while it was being read as ``FileNotFoundError``.

    S3 reports an object deleted between its HEAD and its GET as a plain ``OSError``
    (NO_SUCH_KEY or RESOURCE_NOT_FOUND); callers list again on ``FileNotFoundError``.
    """
    try:
        yield
    except FileNotFoundError:
        raise
    except OSError as exc:
        if any(code in str(exc) for code in _VANISHED):
            raise FileNotFoundError(str(exc)) from exc
        raise


def cutoff_day(today: date, retention_days: int) -> str:
    """Partitions strictly before this day are past retention."""
    return (today - timedelta(days=retention_days)).isoformat()
