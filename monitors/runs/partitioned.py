"""Profile mode over a window's capture files: summarised row group by row group.

A window whose day partitions hold at least ``Settings.monitor_profile_rows`` rows is never
loaded whole: each Parquet row group is read, cut to the window, profiled against the reference
and sampled, here (one row group in memory at a time) or on the workers of the Dask cluster at
``Settings.dask_address``; the summaries are merged in file order, so both give the same result.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from governance.core.clock import to_utc
from governance.core.errors import Unavailable
from governance.core.settings import Settings
from monitors.capture.files import days_between
from monitors.capture.schemas import TIMESTAMP, CaptureKind
from monitors.capture.service import capture_files
from monitors.runs.sources import WindowParts
from monitors.specs.schemas import Target, TargetKind
from monitors.specs.windows import Span
from monitors.stats.partition import (
    PartitionSummary,
    Sampling,
    WindowSummary,
    finish,
    merge_partitions,
    summarise_partition,
)
from monitors.stats.reference import ReferenceProfile

# Rows one task summarises (a row group at a time): tasks spread the work over the workers;
# memory is bounded by the row group, whatever the task's size.
TASK_ROWS = 500_000
_ATTEMPTS = 3  # retention or compaction may replace a file between listing and reading
_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True, slots=True)
class RowGroup:
    """One row group of one capture file: the unit a partition summary covers."""

    path: str
    index: int
    rows: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Task:
    """Row groups summarised together, and what summarising them needs."""

    groups: tuple[RowGroup, ...]
    filesystem: pafs.FileSystem
    start: datetime
    end: datetime
    sampling: Sampling


class CapturePartitions:
    """Windows of the capture store in profile mode, in this process or on a Dask cluster."""

    def __init__(self, settings: Settings, *, client: Any = None) -> None:
        self.settings = settings
        self.client = client
        self.min_rows = settings.monitor_profile_rows
        self.sampling = Sampling(rows=settings.monitor_sample_rows)

    def find(self, *, project: str, target: Target, span: Span) -> WindowParts | None:
        """The window's row groups when it holds at least the threshold's rows, else None."""
        if self.min_rows is None or target.kind is not TargetKind.endpoint:
            return None
        store = capture_files(self.settings)
        filesystem = store.filesystem
        first, last = days_between(span.start, span.end)
        kind = CaptureKind.inference
        days = [d for d in store.days(kind, project, target.name) if first <= d <= last]
        paths = [str(p) for p in store.files(kind, project, target.name, days)]
        groups = tuple(g for path in paths for g in _row_groups(filesystem, path, span))
        rows = sum(g.rows for g in groups)
        if not groups or rows < self.min_rows:
            return None
        return WindowParts(project=project, target=target, span=span, units=groups, rows=rows)

    def summarise(self, parts: WindowParts, reference: ReferenceProfile) -> WindowSummary:
        """Summarise every row group and merge (listing again when a file was replaced)."""
        for _ in range(_ATTEMPTS):
            try:
                return self._summarise(parts, reference)
            except FileNotFoundError:
                found = self.find(project=parts.project, target=parts.target, span=parts.span)
                if found is None:
                    break
                parts = found
        raise Unavailable("the window's files changed while they were read: the run is retried")

    def _summarise(self, parts: WindowParts, reference: ReferenceProfile) -> WindowSummary:
        tasks = self._tasks(parts)
        client = self._client()
        if client is None:
            summaries: Iterator[PartitionSummary | None] = (
                summarise_task(t, reference) for t in tasks
            )
        else:
            summaries = _on_cluster(client, tasks, reference)
        merged = merge_partitions((s for s in summaries if s is not None), self.sampling)
        return finish(merged, self.sampling)

    def _tasks(self, parts: WindowParts) -> list[Task]:
        filesystem = capture_files(self.settings).filesystem
        start, end = to_utc(parts.span.start), to_utc(parts.span.end)
        return [
            Task(groups=chunk, filesystem=filesystem, start=start, end=end, sampling=self.sampling)
            for chunk in _chunks(parts.units, TASK_ROWS)
        ]

    def _client(self) -> Any:
        if self.client is not None or not self.settings.dask_address:
            return self.client
        return dask_client(self.settings.dask_address)


def dask_client(address: str) -> Any:
    """One client per scheduler address in this process, connected on first use."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(address)
        if client is None or client.status != "running":
            from distributed import Client

            client = Client(address, set_as_default=False)  # type: ignore[no-untyped-call]
            _CLIENTS[address] = client
        return client


def _on_cluster(
    client: Any, tasks: Sequence[Task], reference: ReferenceProfile
) -> Iterator[PartitionSummary | None]:
    """Summaries computed on the workers, yielded in task order as each arrives."""
    # the reference goes to each worker once, not once per task
    shared = client.scatter(reference, broadcast=True, hash=False)
    futures = client.map(summarise_task, tasks, reference=shared, pure=False)
    try:
        for future in futures:
            yield future.result()
            future.release()
    finally:
        client.cancel(futures)


def summarise_task(task: Task, reference: ReferenceProfile) -> PartitionSummary | None:
    """Summarise a task's row groups one at a time (None when none has a row in the window)."""
    files: dict[str, pq.ParquetFile] = {}

    def one(group: RowGroup) -> PartitionSummary | None:
        if group.path not in files:
            files.clear()  # a task's row groups come file by file
            files[group.path] = pq.ParquetFile(task.filesystem.open_input_file(group.path))
        table = _in_window(files[group.path].read_row_group(group.index), task)
        return summarise_partition(reference, table, task.sampling) if table.num_rows else None

    summaries = (one(group) for group in task.groups)
    return merge_partitions((s for s in summaries if s is not None), task.sampling)


def _in_window(table: pa.Table, task: Task) -> pa.Table:
    times = table.column(TIMESTAMP)
    start = pa.scalar(task.start, type=pa.timestamp("us", "UTC"))
    end = pa.scalar(task.end, type=pa.timestamp("us", "UTC"))
    inside = pc.and_(pc.greater_equal(times, start), pc.less(times, end))
    return table.filter(inside)


def _row_groups(filesystem: pafs.FileSystem, path: str, span: Span) -> Iterator[RowGroup]:
    """Row groups of a file that may hold rows of the window (by their timestamp statistics)."""
    meta = pq.read_metadata(path, filesystem=filesystem)
    column = meta.schema.names.index(TIMESTAMP) if TIMESTAMP in meta.schema.names else None
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        if column is not None and _outside(group.column(column).statistics, span):
            continue
        yield RowGroup(path=path, index=index, rows=group.num_rows)


def _outside(statistics: Any, span: Span) -> bool:
    if statistics is None or not statistics.has_min_max:
        return False
    low, high = statistics.min, statistics.max
    if not isinstance(low, datetime) or not isinstance(high, datetime):
        return False
    return to_utc(high) < to_utc(span.start) or to_utc(low) >= to_utc(span.end)


def _chunks(groups: Sequence[RowGroup], rows: int) -> Iterator[tuple[RowGroup, ...]]:
    chunk: list[RowGroup] = []
    held = 0
    for group in groups:
        if chunk and held + group.rows > rows:
            yield tuple(chunk)
            chunk, held = [], 0
        chunk.append(group)
        held += group.rows
    if chunk:
        yield tuple(chunk)
