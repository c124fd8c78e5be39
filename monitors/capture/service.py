"""Use cases of inference capture: ingest, labels, windows for monitors, retention, counts."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from sqlalchemy.exc import IntegrityError

from governance.access.service import list_projects
from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput, TooLarge
from governance.core.ids import new_id
from governance.core.principal import SYSTEM, Principal
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.objectdata import dataset_location
from monitors.capture import bulk, validate
from monitors.capture.files import ParquetCaptureStore, cutoff_day, days_between
from monitors.capture.schemas import (
    CORRELATION_ID,
    LABEL,
    RECEIVED_AT,
    TIMESTAMP,
    CaptureKind,
    ExpectedSchema,
    IngestCount,
    IngestResult,
    RetentionResult,
    StoredBatch,
)
from monitors.capture.source import EndpointSchemaSource
from monitors.capture.store import CaptureStore, SqlCaptureStore

log = logging.getLogger(__name__)

_WALL: Final = SystemClock()
_UTC_US = pa.timestamp("us", tz="UTC")
# Labels are matched when they were received from the day before the window on.
LABEL_SKEW = timedelta(days=1)
Parser = Callable[[bytes, str, ExpectedSchema, datetime], pa.Table]


def capture_files(source: Settings | ParquetCaptureStore) -> ParquetCaptureStore:
    """The Parquet store at ``Settings.capture_uri`` (default ``data_dir``), or the store itself."""
    if isinstance(source, ParquetCaptureStore):
        return source
    assert source.data_dir is not None
    if source.capture_uri is None:
        return _store_at(str(source.data_dir.resolve()))  # relative to the cwd of this call
    return _store_at(source.capture_uri)


@functools.lru_cache(maxsize=64)
def _store_at(uri: str) -> ParquetCaptureStore:
    # One store per location and process: an object store's filesystem (its connection pool,
    # its region lookup) and the footers of compact files are set up once, not per request.
    return ParquetCaptureStore(uri)


def ingest_limits(settings: Settings) -> bulk.IngestLimits:
    """The per-batch caps configured in ``settings``."""
    return bulk.IngestLimits(
        rows=settings.ingest_max_rows,
        decoded_bytes=settings.ingest_max_decoded_bytes,
        days=settings.ingest_max_days,
    )


def _parse_inferences(
    body: bytes,
    media: str,
    schema: ExpectedSchema,
    now: datetime,
    *,
    limits: bulk.IngestLimits = bulk.DEFAULT_LIMITS,
) -> pa.Table:
    if media == bulk.JSON:
        return validate.inferences_from_json(body, schema, now=now, limits=limits)
    table = bulk.read_bulk(body, media, limits=limits)
    return validate.inferences_from_table(table, schema, now=now, limits=limits)


def _parse_labels(
    body: bytes,
    media: str,
    schema: ExpectedSchema,
    now: datetime,
    *,
    limits: bulk.IngestLimits = bulk.DEFAULT_LIMITS,
) -> pa.Table:
    if media == bulk.JSON:
        return validate.labels_from_json(body, schema, now=now, limits=limits)
    table = bulk.read_bulk(body, media, limits=limits)
    return validate.labels_from_table(table, schema, now=now)


def ingest_inferences(
    db: Database,
    *,
    files: ParquetCaptureStore,
    schemas: EndpointSchemaSource,
    project: str,
    endpoint: str,
    body: bytes,
    content_type: str | None,
    idempotency_key: str | None = None,
    actor: Principal,
    clock: Clock = _WALL,
    limits: bulk.IngestLimits = bulk.DEFAULT_LIMITS,
) -> IngestResult:
    """Check a batch of inference records against the endpoint's schema and store it once."""
    batch = _Batch(db, files, project, endpoint, CaptureKind.inference, actor, clock)
    parse = functools.partial(_parse_inferences, limits=limits)
    return batch.ingest(schemas, body, content_type, idempotency_key, parse)


def ingest_scored(
    db: Database,
    *,
    files: ParquetCaptureStore,
    schemas: EndpointSchemaSource,
    project: str,
    endpoint: str,
    table: pa.Table,
    actor: Principal,
    clock: Clock = _WALL,
    limits: bulk.IngestLimits = bulk.DEFAULT_LIMITS,
    scored: ExpectedSchema | None = None,
) -> IngestResult:
    """Store rows the server scored itself: checked like a bulk table, never encoded to bytes.

    The rows already have types; encoding them to an Arrow stream only to parse it back cost a
    third of writing them. Their digest (the idempotency point of a retried write) covers the
    correlation ids, unique per scored row. ``scored`` is the schema the rows were checked
    against when they were scored, request by request: they are stored under it, whichever
    version the endpoint serves by now, and two requests may repeat a correlation id (a client
    retrying one) where one batch may not.
    """
    batch = _Batch(db, files, project, endpoint, CaptureKind.inference, actor, clock)
    ids = table.column(CORRELATION_ID).combine_chunks()
    digest = hashlib.sha256(b"scored\n")
    for buffer in ids.buffers():
        if buffer is not None:
            digest.update(buffer)
    parse = functools.partial(_scored_rows, table=table, limits=limits, scored=scored)
    return batch.ingest(schemas, digest.digest(), bulk.ARROW_STREAM, None, parse)


def _scored_rows(
    _body: bytes, _media: str, schema: ExpectedSchema, now: datetime, *, table: pa.Table,
    limits: bulk.IngestLimits, scored: ExpectedSchema | None,
) -> pa.Table:  # fmt: skip
    return validate.inferences_from_table(
        table, scored or schema, now=now, limits=limits, unique_keys=scored is None
    )


def ingest_labels(
    db: Database,
    *,
    files: ParquetCaptureStore,
    schemas: EndpointSchemaSource,
    project: str,
    endpoint: str,
    body: bytes,
    content_type: str | None,
    idempotency_key: str | None = None,
    actor: Principal,
    clock: Clock = _WALL,
    limits: bulk.IngestLimits = bulk.DEFAULT_LIMITS,
) -> IngestResult:
    """Store the ground-truth labels of earlier inferences, keyed by correlation id."""
    batch = _Batch(db, files, project, endpoint, CaptureKind.label, actor, clock)
    parse = functools.partial(_parse_labels, limits=limits)
    return batch.ingest(schemas, body, content_type, idempotency_key, parse)


class _Batch:
    """One ingest: stage files, record the batch (the idempotency point), publish."""

    def __init__(
        self,
        db: Database,
        files: ParquetCaptureStore,
        project: str,
        endpoint: str,
        kind: CaptureKind,
        actor: Principal,
        clock: Clock,
    ) -> None:
        self.db, self.files, self.kind, self.actor, self.clock = db, files, kind, actor, clock
        self.project, self.endpoint = project, endpoint

    def ingest(
        self,
        schemas: EndpointSchemaSource,
        body: bytes,
        content_type: str | None,
        key: str | None,
        parse: Parser,
    ) -> IngestResult:
        """Run the whole use case."""
        # The endpoint first: an unknown one is a 404 whatever its name, body or media type.
        schema = schemas.expected_schema(self.db, project=self.project, endpoint=self.endpoint)
        self.files.endpoint_dir(self.kind, self.project, self.endpoint)  # refuses unsafe names
        media = bulk.media_type(content_type)
        digest = hashlib.sha256(f"{self.kind}\n{media}\n".encode() + body).hexdigest()
        with self.db.read() as session:
            earlier = SqlCaptureStore(session).find_batch(
                self.project, self.endpoint, self.kind, digest, key
            )
        if earlier is not None:
            return self._duplicate(earlier, digest)
        now = self.clock.now()
        try:
            table, truncated = validate.take_truncated(parse(body, media, schema, now))
        except (InvalidInput, TooLarge):
            self._count(refused=1)
            raise
        result = self._store(table, digest, key, now)
        if not truncated or result.duplicate:
            return result
        note = f"{truncated} time value(s) had sub-microsecond digits; truncated to microseconds"
        return result.model_copy(update={"truncated_timestamps": truncated, "warnings": [note]})

    def _store(self, table: pa.Table, digest: str, key: str | None, now: datetime) -> IngestResult:
        batch_id = new_id()
        by = TIMESTAMP if self.kind is CaptureKind.inference else RECEIVED_AT
        days = self.files.stage(self.kind, self.project, self.endpoint, batch_id, table, by)
        batch = StoredBatch(
            id=batch_id, project=self.project, endpoint=self.endpoint, kind=self.kind,
            content_hash=digest, idempotency_key=key, rows=table.num_rows,
            actor=self.actor.ref, days=days, created_at=now,
        )  # fmt: skip
        try:
            earlier = self._record(batch)
        except IntegrityError:
            earlier = self._find(digest, key)
        except BaseException:
            self.files.discard(self.kind, self.project, self.endpoint, batch_id, days)
            raise
        if earlier is not None:
            self.files.discard(self.kind, self.project, self.endpoint, batch_id, days)
            return self._duplicate(earlier, digest)
        self.files.publish(self.kind, self.project, self.endpoint, batch_id, days, fresh=True)
        return IngestResult(
            batch_id=batch_id, kind=self.kind, rows=batch.rows, duplicate=False, days=days
        )

    def _record(self, batch: StoredBatch) -> StoredBatch | None:
        with self.db.transaction() as session:
            store: CaptureStore = SqlCaptureStore(session)
            earlier = store.find_batch(
                self.project, self.endpoint, self.kind, batch.content_hash, batch.idempotency_key
            )
            if earlier is not None:
                return earlier
            store.add_batch(batch)
            store.count_ingest(self.project, self.endpoint, self.kind, batches=1, rows=batch.rows)
        return None

    def _find(self, digest: str, key: str | None) -> StoredBatch | None:
        with self.db.read() as session:
            return SqlCaptureStore(session).find_batch(
                self.project, self.endpoint, self.kind, digest, key
            )

    def _duplicate(self, earlier: StoredBatch, digest: str) -> IngestResult:
        if earlier.content_hash != digest:
            raise Conflict("Idempotency-Key was already used for a different batch")
        # A crash between recording and publishing leaves staged files: finish the job.
        self.files.publish(self.kind, self.project, self.endpoint, earlier.id, earlier.days)
        self._count(duplicates=1)
        return IngestResult(
            batch_id=earlier.id, kind=self.kind, rows=earlier.rows, duplicate=True,
            days=earlier.days,
        )  # fmt: skip

    def _count(self, **counts: int) -> None:
        with self.db.transaction() as session:
            store = SqlCaptureStore(session)
            store.count_ingest(self.project, self.endpoint, self.kind, **counts)


def _window_filter(start: datetime, end: datetime) -> pc.Expression:
    lo = pa.scalar(to_utc(start), type=_UTC_US)
    hi = pa.scalar(to_utc(end), type=_UTC_US)
    return (ds.field(TIMESTAMP) >= lo) & (ds.field(TIMESTAMP) < hi)


def read_window(
    source: Settings | ParquetCaptureStore,
    *,
    project: str,
    endpoint: str,
    start: datetime,
    end: datetime,
    columns: list[str] | None = None,
    with_labels: bool = False,
) -> pa.Table:
    """Inference rows with ``start <= timestamp < end``, oldest first, safe under writes.

    Only published files are read, so a concurrent ingest is either wholly absent from the
    result or present file by file, never half-written. ``columns`` limits the columns (those no
    file holds are left out); ``with_labels`` adds the latest ``label`` per correlation id.
    """
    try:
        start, end = to_utc(start), to_utc(end)
    except OverflowError as exc:
        raise InvalidInput("the window is out of range") from exc
    if end <= start:
        raise InvalidInput("the window must end after it starts")
    files = capture_files(source)
    wanted = None if columns is None else list(dict.fromkeys([*columns, TIMESTAMP]))
    if wanted is not None and with_labels:
        wanted.append(CORRELATION_ID)
    first, last = days_between(start, end)
    # Only partitions that exist: a window of centuries must not mean a million directory probes.
    days = [d for d in files.days(CaptureKind.inference, project, endpoint) if first <= d <= last]
    table = files.read(
        CaptureKind.inference, project, endpoint,
        days=days, columns=wanted, where=_window_filter(start, end),
    )  # fmt: skip
    if table is None:
        table = pa.table(
            {CORRELATION_ID: pa.array([], pa.string()), TIMESTAMP: pa.array([], _UTC_US)}
        )
    table = _in_time_order(table)
    if with_labels:
        table = table.append_column(LABEL, _labels_for(files, table, project, endpoint, start))
    if columns is not None:
        keep = [*columns, LABEL] if with_labels else columns
        table = table.select([c for c in dict.fromkeys(keep) if c in table.column_names])
    return table


def _in_time_order(table: pa.Table) -> pa.Table:
    times = table.column(TIMESTAMP)
    n = len(times)
    # Files are sorted inside and usually listed in ingest order: skip the sort when it is a no-op.
    if n < 2 or pc.all(pc.greater_equal(times.slice(1), times.slice(0, n - 1))).as_py():
        return table
    return table.sort_by([(TIMESTAMP, "ascending")])


def _labels_for(
    files: ParquetCaptureStore, table: pa.Table, project: str, endpoint: str, start: datetime
) -> pa.ChunkedArray:
    first = (to_utc(start) - LABEL_SKEW).date().isoformat()
    days = [d for d in files.days(CaptureKind.label, project, endpoint) if d >= first]
    labels = files.read(
        CaptureKind.label,
        project,
        endpoint,
        days=days,
        columns=[CORRELATION_ID, LABEL, RECEIVED_AT],
    )
    if labels is None or labels.num_rows == 0:
        return pa.chunked_array([pa.nulls(table.num_rows)])
    latest = labels.sort_by(RECEIVED_AT).group_by(CORRELATION_ID, use_threads=False)
    latest = latest.aggregate([(LABEL, "last")])
    positions = pc.index_in(table.column(CORRELATION_ID), value_set=latest.column(CORRELATION_ID))
    return pa.chunked_array([latest.column(f"{LABEL}_last").combine_chunks().take(positions)])


def apply_retention(
    db: Database,
    *,
    files: ParquetCaptureStore,
    actor: Principal = SYSTEM,
    clock: Clock = _WALL,
) -> RetentionResult:
    """Delete day partitions past their project's ``retention_days``; each deletion is audited."""
    files.remove_leftovers()
    recover_pending(db, files=files)
    endpoints = sorted(
        set(files.endpoints(CaptureKind.inference)) | set(files.endpoints(CaptureKind.label))
    )
    projects = list_projects(db, names={p for p, _ in endpoints})
    keep = {p.name: p.retention_days for p in projects if p.retention_days}
    today = to_utc(clock.now()).date()
    deleted: dict[str, list[str]] = {}
    for project, endpoint in endpoints:
        if project in keep:
            days = _expire(db, files, project, endpoint, cutoff_day(today, keep[project]), actor)
            if days:
                deleted[f"{project}/{endpoint}"] = days
    return RetentionResult(deleted=deleted)


def _expire(
    db: Database,
    files: ParquetCaptureStore,
    project: str,
    endpoint: str,
    cutoff: str,
    actor: Principal,
) -> list[str]:
    old = {
        kind: [d for d in files.days(kind, project, endpoint) if d < cutoff] for kind in CaptureKind
    }
    if not any(old.values()):
        return []
    before = datetime.combine(date.fromisoformat(cutoff), time(), tzinfo=UTC)
    # The audit entry commits before the files go: an interrupted pass is repeated, never hidden.
    with db.transaction() as session:
        SqlCaptureStore(session).forget_batches(project, endpoint, before)
        record_audit(
            session, actor=actor, action="inference.retention.delete", project=project,
            target=f"endpoint:{endpoint}",
            details={"before": cutoff, **{str(k): days for k, days in old.items()}},
        )  # fmt: skip
    for kind, days in old.items():
        for day in days:
            files.delete_day(kind, project, endpoint, day)
    return sorted({d for days in old.values() for d in days})


def clean_leftovers(db: Database, settings: Settings) -> int:
    """At start-up: remove what writers killed mid-way left, settle stale staged batches; how many.

    Temporary files (capture and dataset uploads) whose writer is gone are deleted whatever
    their age; staged batches are published or dropped by ``recover_pending``.
    """
    files = capture_files(settings)
    store = dataset_location(settings.dataset_uri)
    removed = files.remove_leftovers()
    removed += lineage.remove_upload_leftovers(settings.dataset_roots, store)
    return removed + recover_pending(db, files=files)


def recover_pending(db: Database, *, files: ParquetCaptureStore, older_than: float = 3600) -> int:
    """Publish staged files of recorded batches, delete those of unrecorded ones; how many."""
    handled = 0
    for kind in CaptureKind:
        for path, batch_id in list(files.pending(kind, older_than)):
            with db.read() as session:
                batch = SqlCaptureStore(session).batch(batch_id)
            if batch is None:
                files.remove(path)
            else:
                files.publish(kind, batch.project, batch.endpoint, batch.id, batch.days)
            handled += 1
    return handled


def ingest_counts(db: Database) -> list[IngestCount]:
    """Running ingest totals per endpoint and kind, for ``/metrics`` (monotonic counters)."""
    with db.read() as session:
        return SqlCaptureStore(session).totals()
