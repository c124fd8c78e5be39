"""Inference rows of scored requests, written to the capture store in batches off the request.

Scoring answers in milliseconds; storing a Parquet file and a batch row per request would cost
more than the model. The scoring route hands its rows here and returns; a thread writes them per
(project, endpoint) through the same ingest path bulk uploads take, at most every
``max_delay`` seconds or ``max_rows`` rows, and on stop. A write that fails is retried at the
next flush; rows beyond ``max_pending`` are dropped oldest first, logged and counted, so a
broken disk cannot take the server's memory with it. What a crash loses is at most the rows of
the last ``max_delay`` seconds (``flush_every_request`` trades speed for none).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import StewardError
from governance.core.principal import Principal
from monitors.capture.bulk import IngestLimits
from monitors.capture.files import ParquetCaptureStore
from monitors.capture.service import ingest_scored
from monitors.capture.source import EndpointSchemaSource

log = logging.getLogger(__name__)
Writer = Callable[[str, str, pa.Table], object]


@dataclass(kw_only=True, slots=True)
class BufferStats:
    """What the buffer wrote and lost so far."""

    written_rows: int = 0
    dropped_rows: int = 0
    failed_writes: int = 0
    pending: dict[tuple[str, str], int] = field(default_factory=dict)


class CaptureBuffer:
    """Rows waiting to be stored, per (project, endpoint); thread-safe."""

    def __init__(
        self,
        write: Writer,
        *,
        max_rows: int = 10_000,
        max_delay: float = 1.0,
        max_pending: int = 1_000_000,
        flush_every_request: bool = False,
    ) -> None:
        self.write, self.max_rows, self.max_delay = write, max_rows, max_delay
        self.max_pending, self.flush_every_request = max_pending, flush_every_request
        self._tables: dict[tuple[str, str], list[pa.Table]] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = BufferStats()

    def add(self, project: str, endpoint: str, table: pa.Table) -> None:
        """Queue the rows of one request (written now when ``flush_every_request``)."""
        if self._thread is None:
            self.start()  # at the first request: a server that never scores runs no thread
        key = (project, endpoint)
        with self._lock:
            self._tables.setdefault(key, []).append(table)
            pending = self.stats.pending.get(key, 0) + len(table)
            self.stats.pending[key] = pending
        if self.flush_every_request or self._stop.is_set():
            self.flush()  # no thread (or no longer one) to write them later
        elif pending >= self.max_rows:
            self._wake.set()

    def flush(self) -> None:
        """Write everything queued (one writer at a time; a failed write is kept for later)."""
        with self._flushing:
            with self._lock:
                tables, self._tables = self._tables, {}
                self.stats.pending = {}
            for (project, endpoint), parts in tables.items():
                self._write(project, endpoint, pa.concat_tables(parts))

    def _write(self, project: str, endpoint: str, table: pa.Table) -> None:
        try:
            self.write(project, endpoint, table)
        except (StewardError, OSError) as exc:
            self.stats.failed_writes += 1
            log.error("capture of %s/%s failed, kept for retry: %s", project, endpoint, exc)
            self._keep(project, endpoint, table)
            return
        self.stats.written_rows += len(table)

    def _keep(self, project: str, endpoint: str, table: pa.Table) -> None:
        with self._lock:
            parts = [table, *self._tables.get((project, endpoint), [])]
            rows = sum(len(t) for t in parts)
            if rows > self.max_pending:
                dropped = rows - self.max_pending
                parts = [pa.concat_tables(parts).slice(dropped)]
                self.stats.dropped_rows += dropped
                log.error("capture of %s/%s dropped %d rows", project, endpoint, dropped)
            self._tables[(project, endpoint)] = parts
            self.stats.pending[(project, endpoint)] = min(rows, self.max_pending)

    def start(self) -> None:
        """Write in the background until ``stop``."""
        with self._lock:
            if self._thread is not None or self.flush_every_request or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="capture-buffer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.max_delay)
            self._wake.clear()
            self.flush()


def capture_writer(
    db: Database,
    *,
    files: ParquetCaptureStore,
    schemas: EndpointSchemaSource,
    actor: Principal,
    clock: Clock,
    limits: IngestLimits,
) -> Writer:
    """A writer storing rows as one inference batch, checked as the bulk ingest path checks."""

    def write(project: str, endpoint: str, table: pa.Table) -> object:
        return ingest_scored(
            db, files=files, schemas=schemas, project=project, endpoint=endpoint, table=table,
            actor=actor, clock=clock, limits=limits,
        )  # fmt: skip

    return write
