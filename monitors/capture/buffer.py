"""Inference rows of scored requests, written to the capture store in batches off the request.

Scoring answers in milliseconds; storing a Parquet file and a batch row per request would cost
more than the model. The scoring route hands its rows here and returns; a thread writes them per
(project, endpoint) through the same ingest path bulk uploads take, at most every
``max_delay`` seconds or ``max_rows`` rows, and on stop. Rows scored under different schemas (a
version with another signature deployed meanwhile) are written as separate batches, each checked
against the schema it was scored with.

A write that fails for want of storage or database is retried at the next flush; rows beyond
``max_pending`` are dropped oldest first, logged and counted, so a broken disk cannot take the
server's memory with it. A write the store refuses (its endpoint deleted meanwhile) would be
refused again: its rows are dropped at once, logged and counted, rather than block the rows
behind them. What a crash loses is at most the rows of the last ``max_delay`` seconds
(``flush_every_request`` trades speed for none).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import InsufficientStorage, StewardError, Unavailable
from governance.core.principal import Principal
from monitors.capture.bulk import IngestLimits
from monitors.capture.files import ParquetCaptureStore
from monitors.capture.schemas import ExpectedSchema
from monitors.capture.service import ingest_scored
from monitors.capture.source import EndpointSchemaSource

log = logging.getLogger(__name__)
# (project, endpoint, rows, the schema they were checked against when scored)
Writer = Callable[[str, str, pa.Table, ExpectedSchema | None], object]
Key = tuple[str, str, ExpectedSchema | None]
# Failures a later attempt may get past: the disk or the database is back.
_TRANSIENT: tuple[type[BaseException], ...] = (OSError, InsufficientStorage, Unavailable)


@dataclass(kw_only=True, slots=True)
class BufferStats:
    """What the buffer wrote and lost so far."""

    written_rows: int = 0
    dropped_rows: int = 0  # over ``max_pending`` while writes failed
    refused_rows: int = 0  # refused by the store: writing them again would be refused again
    failed_writes: int = 0
    pending: dict[tuple[str, str], int] = field(default_factory=dict)


class CaptureBuffer:
    """Rows waiting to be stored, per (project, endpoint); thread-safe."""

    def __init__(
        self,
        write: Writer,
        *,
        # A write costs about 7 ms whatever its size, plus 0.5 ms per 1,000 rows (SQLite, local
        # disk): batches of 10,000 rows spent half the writing on the fixed part.
        max_rows: int = 100_000,
        max_delay: float = 1.0,
        max_pending: int = 1_000_000,
        flush_every_request: bool = False,
    ) -> None:
        self.write, self.max_rows, self.max_delay = write, max_rows, max_delay
        self.max_pending, self.flush_every_request = max_pending, flush_every_request
        self._tables: dict[Key, list[pa.Table]] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = BufferStats()

    def add(
        self, project: str, endpoint: str, table: pa.Table, schema: ExpectedSchema | None = None
    ) -> None:
        """Queue the rows of one request, checked against ``schema`` when it was scored (written
        now when ``flush_every_request``)."""
        if self._thread is None:
            self.start()  # at the first request: a server that never scores runs no thread
        with self._lock:
            self._tables.setdefault((project, endpoint, schema), []).append(table)
            pending = self.stats.pending.get((project, endpoint), 0) + len(table)
            self.stats.pending[(project, endpoint)] = pending
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
            for key, parts in tables.items():
                self._write(key, pa.concat_tables(parts))

    def _write(self, key: Key, table: pa.Table) -> None:
        project, endpoint, schema = key
        try:
            self.write(project, endpoint, table, schema)
        except _TRANSIENT as exc:
            self._failed(key, table, exc)
            return
        except StewardError as exc:
            rows = len(table)
            self.stats.refused_rows += rows
            log.error("capture of %s/%s refused, %d rows lost: %s", project, endpoint, rows, exc)
            return
        except Exception as exc:  # the database's own errors, a bug: the thread must go on
            self._failed(key, table, exc)
            return
        self.stats.written_rows += len(table)

    def _failed(self, key: Key, table: pa.Table, exc: BaseException) -> None:
        self.stats.failed_writes += 1
        log.error("capture of %s/%s failed, kept for retry: %s", key[0], key[1], exc)
        self._keep(key, table)

    def _keep(self, key: Key, table: pa.Table) -> None:
        project, endpoint, _ = key
        with self._lock:
            parts = [table, *self._tables.get(key, [])]
            rows = sum(len(t) for t in parts)
            if rows > self.max_pending:
                dropped = rows - self.max_pending
                parts = [pa.concat_tables(parts).slice(dropped)]
                self.stats.dropped_rows += dropped
                log.error("capture of %s/%s dropped %d rows", project, endpoint, dropped)
            self._tables[key] = parts
            # every schema's rows of the endpoint, those added since the failed write included
            held = (t for (p, e, _), ts in self._tables.items() if (p, e) == key[:2] for t in ts)
            self.stats.pending[(project, endpoint)] = sum(len(t) for t in held)

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

    def write(
        project: str, endpoint: str, table: pa.Table, scored: ExpectedSchema | None
    ) -> object:
        return ingest_scored(
            db, files=files, schemas=schemas, project=project, endpoint=endpoint, table=table,
            actor=actor, clock=clock, limits=limits, scored=scored,
        )  # fmt: skip

    return write
