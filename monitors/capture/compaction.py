"""Compaction of a day's small published capture files into one file of large row groups.

Per day partition, one pass: (1) list the visible files and choose the small ones; (2) read
them and write their rows, in time order, as ``.compacting-<id>.parquet`` (invisible), its
footer naming every file it replaces, transitively through earlier compact files; (3) commit by
publishing it as ``compact-<id>.parquet``: from then on every listing hides the replaced files
(``ParquetCaptureStore.listing``), so a reader sees the old files or the new one, never both
and never neither; (4) delete replaced files once they have been hidden for the grace period
(a reader that listed them before the swap may still be reading them).

Rows written into the day meanwhile are new ``part-`` files the pass never chose, so nothing is
lost or doubled under concurrent ingest. A pass cut short anywhere is harmless: before (3) it
leaves an invisible file, removed once stale; after (3) the next pass deletes what is left. The
batch records in the database name days, which compaction keeps; a pending batch file whose
published copy was compacted since is recognised by ``publish`` through the replaced names.
Compaction is the daemon leader's job: one compactor at a time.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass

import pyarrow.fs as pafs

from governance.core.db import Database
from governance.core.ids import new_id
from governance.core.settings import Settings
from monitors.capture.files import (
    COMPACT,
    COMPACTING,
    REPLACES,
    DayFiles,
    ParquetCaptureStore,
    read_files,
    sorted_by,
    write_parquet,
)
from monitors.capture.schemas import RECEIVED_AT, TIMESTAMP, CaptureKind
from monitors.capture.service import capture_files

log = logging.getLogger(__name__)

_ORDER = {CaptureKind.inference: TIMESTAMP, CaptureKind.label: RECEIVED_AT}
ROW_GROUP_ROWS = 1 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class CompactionPolicy:
    """Which files a pass compacts, and how long replaced and abandoned files are kept."""

    min_files: int = 8
    small_bytes: int = 32 * 1024**2
    max_bytes: int = 512 * 1024**2
    grace_seconds: float = 600.0
    stale_seconds: float = 3600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Day:
    """One day partition of one endpoint."""

    kind: CaptureKind
    project: str
    endpoint: str
    day: str


def compact_due(db: Database, settings: Settings) -> int:
    """Compact every day that has enough small published files; how many days were compacted."""
    del db  # batches name days, which compaction keeps: nothing to change there
    policy = CompactionPolicy(
        min_files=settings.compaction_min_files,
        small_bytes=settings.compaction_small_bytes,
        max_bytes=settings.compaction_max_bytes,
        grace_seconds=settings.compaction_grace_seconds,
    )
    return compact_store(capture_files(settings), policy)


def compact_store(files: ParquetCaptureStore, policy: CompactionPolicy) -> int:
    """One pass over every day partition of the store; how many days were compacted."""
    compacted = 0
    for kind in CaptureKind:
        for project, endpoint in files.endpoints(kind):
            for day in files.days(kind, project, endpoint):
                where = Day(kind=kind, project=project, endpoint=endpoint, day=day)
                compacted += compact_day(files, where, policy)
    return compacted


def compact_day(files: ParquetCaptureStore, where: Day, policy: CompactionPolicy) -> bool:
    """Sweep one day, then compact its small files if there are enough; whether it did."""
    listing = files.listing(where.kind, where.project, where.endpoint, where.day)
    sweep(files, listing, policy)
    chosen = choose(listing, policy)
    if len(chosen) < policy.min_files:
        return False
    try:
        staged = stage(files, where, chosen)
    except FileNotFoundError:
        return False  # retention removed the day meanwhile
    commit(files, staged)
    if policy.grace_seconds == 0:
        sweep(files, files.listing(where.kind, where.project, where.endpoint, where.day), policy)
    log.info(
        "compacted %d files of %s/%s %s", len(chosen), where.project, where.endpoint, where.day
    )
    return True


def choose(listing: DayFiles, policy: CompactionPolicy) -> list[pafs.FileInfo]:
    """The small visible files, oldest first, up to ``max_bytes`` of them."""
    chosen: list[pafs.FileInfo] = []
    total = 0
    for info in listing.visible:
        if info.size < policy.small_bytes and total + info.size <= policy.max_bytes:
            chosen.append(info)
            total += info.size
    return chosen


def stage(files: ParquetCaptureStore, where: Day, chosen: list[pafs.FileInfo]) -> str:
    """Write the rows of ``chosen`` as one invisible compact file; its path."""
    replaces = {info.base_name for info in chosen}
    for info in chosen:
        if info.base_name.startswith("compact-"):
            replaces |= files.replaces(info.path)
    table = read_files(files.filesystem, [info.path for info in chosen], None, None)
    table = sorted_by(table, _ORDER[where.kind])
    meta = {**(table.schema.metadata or {}), REPLACES: json.dumps(sorted(replaces)).encode()}
    folder = files.day_path(where.kind, where.project, where.endpoint, where.day)
    path = f"{folder}/{COMPACTING.format(new_id().hex)}"
    write = functools.partial(
        write_parquet, table.replace_schema_metadata(meta), row_group_size=ROW_GROUP_ROWS
    )
    files.objects.write(path, write)
    return path


def commit(files: ParquetCaptureStore, staged: str) -> str:
    """Publish a staged compact file: the one step that swaps the replaced files for it."""
    folder, name = staged.rsplit("/", 1)
    target = f"{folder}/{COMPACT.format(name[len('.compacting-') : -len('.parquet')])}"
    files.objects.move(staged, target)
    return target


def sweep(files: ParquetCaptureStore, listing: DayFiles, policy: CompactionPolicy) -> int:
    """Delete replaced files hidden for the grace period and stale staged compactions; how many."""
    now = time.time()
    doomed = [info.path for info, since in listing.hidden if since <= now - policy.grace_seconds]
    doomed += [
        info.path
        for info in listing.staging
        if info.base_name.startswith(".compacting-")
        and info.mtime is not None
        and info.mtime.timestamp() <= now - policy.stale_seconds
    ]
    for path in doomed:
        files.objects.delete(path)
    return len(doomed)
