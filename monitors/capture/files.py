"""Parquet files of captured rows, partitioned by project / endpoint / day, written atomically.

A batch is first staged as ``.pending-<batch>.parquet`` in each day directory it touches (written
whole under a temporary name, fsynced, renamed: a pending file is always complete), then
published by ``os.replace`` to ``part-<batch>.parquet`` once the database has recorded the batch.
Readers only ever list ``part-*.parquet``, so they never see a partial file, and a published
file is never modified again (retention deletes whole days). Files are 0600, folders 0700; a
staging that fails (a full disk: ``InsufficientStorage``) leaves none of the batch's files.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from governance.core.clock import to_utc
from governance.core.errors import InvalidInput
from governance.core.files import (
    TEMP_PREFIX,
    fsync_dir,
    remove_leftovers,
    storage_errors,
    write_private_atomic,
)
from monitors.capture.schemas import CORRELATION_ID, CaptureKind

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")
_DIRS = {CaptureKind.inference: "inferences", CaptureKind.label: "labels"}
_PART = "part-{}.parquet"
_PENDING = ".pending-{}.parquet"
_READ_ATTEMPTS = 3


def _segment(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise InvalidInput(f"invalid name {name!r}")
    # Escaping '/', ':', '@' and '+' keeps every name one plain directory level.
    return quote(name, safe="._-")


def _write_parquet(table: pa.Table, handle: Any) -> None:
    # correlation ids are unique: a dictionary of them only costs time (and bytes) to give up on
    encoded = [name for name in table.column_names if name != CORRELATION_ID]
    pq.write_table(table, handle, compression="snappy", use_dictionary=encoded)


def _sorted_by(table: pa.Table, column: str) -> pa.Table:
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


class ParquetCaptureStore:
    """Captured inferences and labels as Parquet files under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def endpoint_dir(self, kind: CaptureKind, project: str, endpoint: str) -> Path:
        """Directory of one endpoint's partitions (names checked and escaped: they are paths)."""
        return (
            self.root
            / _DIRS[kind]
            / f"project={_segment(project)}"
            / f"endpoint={_segment(endpoint)}"
        )

    def day_dir(self, kind: CaptureKind, project: str, endpoint: str, day: str) -> Path:
        """Directory of one day partition."""
        return self.endpoint_dir(kind, project, endpoint) / f"day={day}"

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
                folder = self.day_dir(kind, project, endpoint, day.isoformat())
                write = functools.partial(_write_parquet, _sorted_by(same, by))
                write_private_atomic(folder / _PENDING.format(batch.hex), write)
                staged.append(day.isoformat())
        except BaseException:
            self.discard(kind, project, endpoint, batch, staged)
            raise
        return staged

    def publish(
        self, kind: CaptureKind, project: str, endpoint: str, batch: UUID, days: list[str]
    ) -> None:
        """Make a staged batch visible (idempotent: finishes a publish cut short by a crash)."""
        for day in days:
            folder = self.day_dir(kind, project, endpoint, day)
            pending = folder / _PENDING.format(batch.hex)
            if not pending.exists():
                continue
            with storage_errors():
                try:
                    os.replace(pending, folder / _PART.format(batch.hex))
                except FileNotFoundError:
                    continue  # a concurrent retry of the batch published it first
                fsync_dir(folder)

    def discard(
        self, kind: CaptureKind, project: str, endpoint: str, batch: UUID, days: list[str]
    ) -> None:
        """Remove a staged batch that will not be published."""
        for day in days:
            (self.day_dir(kind, project, endpoint, day) / _PENDING.format(batch.hex)).unlink(
                missing_ok=True
            )

    def remove_leftovers(self) -> int:
        """Delete what writers and retention passes that died (a crash) left; how many."""
        removed = remove_leftovers(self.root.glob(f"*/project=*/endpoint=*/day=*/{TEMP_PREFIX}*"))
        for trash in self.root.glob("*/project=*/endpoint=*/.trash-*"):
            shutil.rmtree(trash, ignore_errors=True)  # a day already out of every listing
            removed += 1
        return removed

    def pending(self, kind: CaptureKind, older_than: float) -> Iterator[tuple[Path, UUID]]:
        """Staged files older than ``older_than`` seconds, with their batch ids."""
        cutoff = time.time() - older_than
        for path in (self.root / _DIRS[kind]).glob("project=*/endpoint=*/day=*/.pending-*"):
            try:
                stale = path.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue
            if stale:
                yield path, UUID(hex=path.name[len(".pending-") : -len(".parquet")])

    # reading
    def days(self, kind: CaptureKind, project: str, endpoint: str) -> list[str]:
        """Day partitions of one endpoint, oldest first."""
        base = self.endpoint_dir(kind, project, endpoint)
        if not base.is_dir():
            return []
        return sorted(p.name[4:] for p in base.iterdir() if p.name.startswith("day="))

    def endpoints(self, kind: CaptureKind) -> list[tuple[str, str]]:
        """Every (project, endpoint) with stored partitions."""
        folders = sorted((self.root / _DIRS[kind]).glob("project=*/endpoint=*"))
        return [
            (unquote(f.parent.name[len("project=") :]), unquote(f.name[len("endpoint=") :]))
            for f in folders
        ]

    def files(self, kind: CaptureKind, project: str, endpoint: str, days: list[str]) -> list[Path]:
        """Published files of the given days (never a pending one)."""
        paths: list[Path] = []
        for day in days:
            paths.extend(sorted(self.day_dir(kind, project, endpoint, day).glob("part-*.parquet")))
        return paths

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
                return _read_files(paths, columns, where)
            except FileNotFoundError:
                # Retention removed a day between listing and reading: list again.
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        return None

    # retention
    def delete_day(self, kind: CaptureKind, project: str, endpoint: str, day: str) -> int:
        """Remove one day partition; returns how many published files it held."""
        folder = self.day_dir(kind, project, endpoint, day)
        if not folder.is_dir():
            return 0
        count = len(list(folder.glob("part-*.parquet")))
        # Renaming first takes the whole day out of readers' listings in one step.
        trash = folder.with_name(f".trash-{day}-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return count


def _read_files(
    paths: list[Path], columns: list[str] | None, where: pc.Expression | None
) -> pa.Table:
    schemas = [pq.read_schema(p) for p in paths]
    schema = pa.unify_schemas(schemas, promote_options="permissive")
    dataset = ds.dataset([str(p) for p in paths], schema=schema, format="parquet")
    wanted = None if columns is None else [c for c in columns if c in schema.names]
    return dataset.to_table(columns=wanted, filter=where)


def cutoff_day(today: date, retention_days: int) -> str:
    """Partitions strictly before this day are past retention."""
    return (today - timedelta(days=retention_days)).isoformat()
