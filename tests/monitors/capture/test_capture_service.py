"""Ingest, idempotency, validation, labels, windows, recovery and retention of captured rows."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.access import service as access
from governance.access.schemas import ProjectCreate
from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit, verify_audit
from governance.core.clock import ManualClock
from governance.core.errors import Conflict, InvalidInput, InvalidState, NotFound
from governance.core.principal import Principal
from lineage import service as lineage
from lineage.schemas import EndpointCreate
from monitors.capture import service
from monitors.capture.files import ParquetCaptureStore
from monitors.capture.schemas import CaptureKind, IngestResult, StoredBatch
from monitors.capture.source import LineageSchemaSource
from monitors.capture.store import SqlCaptureStore
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.monitors.capture.conftest import (
    T0,
    arrow_stream,
    bulk_table,
    deploy_endpoint,
    json_body,
    records,
)

APP = Principal(id=None, name="app-developer-user")
HOUR = timedelta(hours=1)


def _ingest(
    services: Services,
    files: ParquetCaptureStore,
    clock: ManualClock,
    body: bytes,
    *,
    endpoint: str = "income-api",
    content_type: str = "application/json",
    key: str | None = None,
    project: str = "alpha",
) -> IngestResult:
    return service.ingest_inferences(
        services.db,
        files=files,
        schemas=LineageSchemaSource(),
        project=project,
        endpoint=endpoint,
        body=body,
        content_type=content_type,
        idempotency_key=key,
        actor=APP,
        clock=clock,
    )


def _labels(
    services: Services, files: ParquetCaptureStore, clock: ManualClock, body: bytes
) -> IngestResult:
    return service.ingest_labels(
        services.db,
        files=files,
        schemas=LineageSchemaSource(),
        project="alpha",
        endpoint="income-api",
        body=body,
        content_type=None,
        actor=APP,
        clock=clock,
    )


def _window(files: ParquetCaptureStore, hours: int = 1, **kw: object) -> pa.Table:
    return service.read_window(
        files,
        project="alpha",
        endpoint="income-api",
        start=T0,
        end=T0 + HOUR * hours,
        **kw,  # type: ignore[arg-type]
    )


def test_json_batch_round_trips_into_the_window(services, files, clock, endpoint) -> None:
    result = _ingest(services, files, clock, json_body(records(100)))
    assert (result.rows, result.duplicate, result.days) == (100, False, ["2026-03-01"])
    table = _window(files)
    assert table.num_rows == 100
    assert table.column_names == [
        "correlation_id",
        "timestamp",
        "age",
        "hours",
        "job",
        "prediction",
        "probabilities",
    ]
    assert table.schema.field("hours").type == pa.int64()
    assert table.column("correlation_id").to_pylist()[:3] == ["c0", "c1", "c2"]
    assert table.column("probabilities").to_pylist()[1] == [0.2, 0.8]
    narrow = _window(files, columns=["age"])
    assert narrow.column_names == ["age"]
    later = service.read_window(
        files,
        project="alpha",
        endpoint="income-api",
        start=T0 + timedelta(seconds=50),
        end=T0 + timedelta(seconds=60),
    )
    assert later.column("correlation_id").to_pylist() == [f"c{i}" for i in range(50, 60)]


def test_a_retried_batch_is_stored_once(services, files, clock, endpoint) -> None:
    body = json_body(records(10))
    first = _ingest(services, files, clock, body)
    again = _ingest(services, files, clock, body)
    assert again.duplicate and again.batch_id == first.batch_id
    keyed = _ingest(services, files, clock, json_body(records(5, start=10)), key="k-1")
    replay = _ingest(services, files, clock, json_body(records(5, start=10)), key="k-1")
    assert replay.duplicate and replay.batch_id == keyed.batch_id
    with pytest.raises(Conflict):
        _ingest(services, files, clock, json_body(records(5, start=20)), key="k-1")
    assert _window(files).num_rows == 15
    (count,) = [c for c in service.ingest_counts(services.db) if c.kind == CaptureKind.inference]
    assert (count.batches, count.rows, count.duplicates) == (2, 15, 2)


def test_a_bad_batch_is_refused_whole_with_every_reason(services, files, clock, endpoint) -> None:
    recs = records(5)
    recs[1]["features"]["age"] = "old"
    recs[2]["features"]["zip"] = "12345"
    recs[3]["prediction"] = 7
    recs[4]["probabilities"] = [1.0]
    recs.append(dict(recs[0]))
    with pytest.raises(InvalidInput) as caught:
        _ingest(services, files, clock, json_body(recs))
    reasons = " | ".join(e["msg"] for e in caught.value.extra["errors"])
    for fragment in (
        "age: expected float",
        "unknown features ['zip']",
        "prediction: expected",
        "expected 2 probabilities",
        "correlation ids repeated",
    ):
        assert fragment in reasons
    assert _window(files).num_rows == 0
    assert not list(files.root.rglob("*.parquet"))
    with pytest.raises(InvalidInput):
        _ingest(services, files, clock, b'{"records": [{"correlation_id": ""}]}')
    (count,) = service.ingest_counts(services.db)
    assert (count.refused, count.batches) == (2, 0)


def test_arrow_and_parquet_bulk_bodies(services, files, clock, endpoint) -> None:
    stream = _ingest(
        services,
        files,
        clock,
        arrow_stream(bulk_table(300)),
        content_type="application/vnd.apache.arrow.stream",
    )
    sink = io.BytesIO()
    pq.write_table(bulk_table(200, prefix="p"), sink)
    parquet = _ingest(services, files, clock, sink.getvalue(), content_type="application/x-parquet")
    assert (stream.rows, parquet.rows) == (300, 200)
    table = _window(files)
    assert table.num_rows == 500
    assert table.schema.field("age").type == pa.float64()
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")


def test_bulk_bodies_are_checked_against_the_signature(services, files, clock, endpoint) -> None:
    bad = bulk_table(10).drop_columns(["hours"]).append_column("extra", pa.array([1] * 10))
    with pytest.raises(InvalidInput) as caught:
        _ingest(
            services,
            files,
            clock,
            arrow_stream(bad),
            content_type="application/vnd.apache.arrow.stream",
        )
    msgs = [e["msg"] for e in caught.value.extra["errors"]]
    assert "missing column 'hours'" in msgs and "unknown columns ['extra']" in msgs
    wrong = bulk_table(10).set_column(2, "age", pa.array(["x"] * 10))
    with pytest.raises(InvalidInput, match="age"):
        _ingest(
            services,
            files,
            clock,
            arrow_stream(wrong),
            content_type="application/vnd.apache.arrow.stream",
        )
    with pytest.raises(InvalidInput, match="not a valid"):
        _ingest(services, files, clock, b"garbage", content_type="application/x-parquet")
    with pytest.raises(InvalidInput, match="unsupported content type"):
        _ingest(services, files, clock, b"a,b", content_type="text/csv")


def test_labels_join_by_correlation_id_latest_wins(services, files, clock, endpoint) -> None:
    _ingest(services, files, clock, json_body(records(4)))
    first = {
        "labels": [
            {"correlation_id": "c0", "label": ">50K"},
            {"correlation_id": "c1", "label": "<=50K"},
        ]
    }
    _labels(services, files, clock, json.dumps(first).encode())
    clock.advance(HOUR)
    fix = {
        "labels": [
            {"correlation_id": "c1", "label": ">50K"},
            {"correlation_id": "zz", "label": ">50K"},
        ]
    }
    _labels(services, files, clock, json.dumps(fix).encode())
    table = _window(files, with_labels=True, columns=["prediction"])
    assert table.column_names == ["prediction", "label"]
    assert table.column("label").to_pylist() == [">50K", ">50K", None, None]
    with pytest.raises(InvalidInput, match="label: expected string"):
        _labels(services, files, clock, b'{"labels": [{"correlation_id": "c2", "label": 1}]}')


def test_batches_split_by_day_and_windows_cross_days(services, files, clock, endpoint) -> None:
    result = _ingest(services, files, clock, json_body(records(48, step=HOUR)))
    assert result.days == ["2026-03-01", "2026-03-02"]
    assert _window(files, hours=48).num_rows == 48
    assert (
        service.read_window(
            files, project="alpha", endpoint="income-api", start=T0 + HOUR * 23, end=T0 + HOUR * 25
        ).num_rows
        == 2
    )


def test_unknown_or_undeployed_endpoints_are_refused(services, files, clock, world: World) -> None:
    with pytest.raises(NotFound):
        _ingest(services, files, clock, json_body(records(1)), endpoint="nope")
    lineage.create_endpoint(
        services.db, project="alpha", data=EndpointCreate(name="idle"), actor=OPERATOR
    )
    with pytest.raises(InvalidState):
        _ingest(services, files, clock, json_body(records(1)), endpoint="idle")


def test_readers_never_see_staged_files_and_a_retry_finishes_a_cut_short_batch(
    services, files, clock, endpoint
) -> None:
    body = json_body(records(7))
    schema = LineageSchemaSource().expected_schema(services.db, project="alpha", endpoint=endpoint)
    table = service._parse_inferences(body, "application/json", schema, T0)
    batch = StoredBatch(
        id=uuid.uuid4(),
        project="alpha",
        endpoint=endpoint,
        kind=CaptureKind.inference,
        content_hash=hashlib.sha256(b"inference\napplication/json\n" + body).hexdigest(),
        idempotency_key="crash",
        rows=7,
        actor="test",
        days=["2026-03-01"],
        created_at=T0,
    )
    # The batch was recorded, then the process died before publishing its staged file.
    files.stage(CaptureKind.inference, "alpha", endpoint, batch.id, table, "timestamp")
    with services.db.transaction() as session:
        SqlCaptureStore(session).add_batch(batch)
    assert _window(files).num_rows == 0
    again = _ingest(services, files, clock, body, key="crash")
    assert again.duplicate and again.batch_id == batch.id
    assert _window(files).num_rows == 7


def test_recovery_publishes_recorded_and_drops_orphaned_staged_files(
    services, files, endpoint
) -> None:
    orphan = uuid.uuid4()
    files.stage(
        CaptureKind.inference,
        "alpha",
        "income-api",
        orphan,
        bulk_table(3).select(["timestamp"]),
        "timestamp",
    )
    assert service.recover_pending(services.db, files=files, older_than=0) == 1
    assert not list(files.root.rglob(".pending-*"))


def test_retention_deletes_old_partitions_and_audits_it(services, world: World) -> None:
    owner = Principal(id=None, name="admin")
    access.create_project(
        services.db, data=ProjectCreate(name="short", retention_days=2), actor=owner
    )
    deploy_endpoint(services, project="short")
    deploy_endpoint(services)
    files = service.capture_files(services.settings)
    clock = ManualClock(T0)
    for day in range(5):
        at = T0 + timedelta(days=day)
        _ingest(
            services, files, clock, json_body(records(3, at=at, prefix=f"d{day}-")), project="short"
        )
    _ingest(services, files, clock, json_body(records(3)))  # 'alpha' keeps everything
    clock.set(T0 + timedelta(days=4, hours=12))
    result = service.apply_retention(services.db, files=files, clock=clock)
    assert result.deleted == {"short/income-api": ["2026-03-01", "2026-03-02"]}
    assert files.days(CaptureKind.inference, "short", "income-api") == [
        "2026-03-03",
        "2026-03-04",
        "2026-03-05",
    ]
    assert files.days(CaptureKind.inference, "alpha", "income-api") == ["2026-03-01"]
    page = list_audit(
        services.db, flt=AuditFilter(action="inference.retention.delete"), cursor=None, limit=10
    )
    (entry,) = page.items
    assert entry.project == "short" and entry.details["inference"] == ["2026-03-01", "2026-03-02"]
    assert verify_audit(services.db, keys=services.signer).ok
    assert service.apply_retention(services.db, files=files, clock=clock).partitions == 0


def test_unsafe_names_never_become_paths(services, files, clock, endpoint) -> None:
    with pytest.raises(InvalidInput):
        files.endpoint_dir(CaptureKind.inference, "alpha", "../etc")
    path = files.endpoint_dir(CaptureKind.inference, "alpha", "a/b:c")
    assert path.parent.parent.parent == files.root and path.name == "endpoint=a%2Fb%3Ac"


def test_json_structure_and_times_are_checked(services, files, clock, endpoint) -> None:
    cases = {
        b"[]": "expected a JSON object",
        b'{"records": []}': "expected a JSON object",
        b'{"records": [1]}': "expected an object",
        b'{"records": [{"correlation_id": "a", "features": {}, "extra": 1}]}': "unknown fields",
        b'{"records": [{"correlation_id": 5, "features": {}}]}': "correlation_id: expected",
        b'{"records": [{"correlation_id": "a", "features": []}]}': "features: expected an object",
        b'{"records": [{"correlation_id": "a", "timestamp": "soon", "features": {}}]}': "ISO-8601",
        b'{"records": [{"correlation_id": "a", "timestamp": "0001-01-01T00:00:00+05:00", '
        b'"features": {}}]}': "outside 1970 to 2200",
        b'{"records": [{"correlation_id": "a", "features": {}, "probabilities": {"x": 1}}]}': "ke",
    }
    for body, fragment in cases.items():
        with pytest.raises(InvalidInput) as caught:
            _ingest(services, files, clock, body)
        assert fragment in str(caught.value.extra["errors"]), body
    mixed = records(2)
    mixed[0]["timestamp"] = "2026-03-01T00:30:00"  # naive: taken as UTC
    mixed[1]["timestamp"] = "2026-03-01T02:00:00+02:00"
    mixed.append({"correlation_id": "now", "features": {"age": 1}})
    _ingest(services, files, clock, json_body(mixed))
    table = service.read_window(
        files, project="alpha", endpoint=endpoint, start=T0, end=clock.now() + HOUR
    )
    times = {r["correlation_id"]: r["timestamp"] for r in table.to_pylist()}
    assert times["c0"].hour == 0 and times["c0"].minute == 30 and times["c1"].hour == 0
    assert times["now"] == clock.now()


def test_windows_are_in_time_order_whatever_the_arrival_order(
    services, files, clock, endpoint
) -> None:
    _ingest(
        services, files, clock, json_body(records(3, start=10, at=T0 + HOUR / 2, prefix="late"))
    )
    _ingest(services, files, clock, json_body(records(3, prefix="early")))
    ids = _window(files).column("correlation_id").to_pylist()
    assert ids == ["early0", "early1", "early2", "late10", "late11", "late12"]


def _scored(services: Services, files: ParquetCaptureStore, clock, table: pa.Table) -> IngestResult:
    return service.ingest_scored(
        services.db, files=files, schemas=LineageSchemaSource(), project="alpha",
        endpoint="income-api", table=table, actor=APP, clock=clock,
    )  # fmt: skip


def test_scored_rows_are_checked_stored_and_a_retried_write_stored_once(
    services, files, clock, endpoint
) -> None:
    first = _scored(services, files, clock, bulk_table(50, prefix="s"))
    again = _scored(services, files, clock, bulk_table(50, prefix="s"))  # a retry after a crash
    assert (first.rows, first.duplicate, again.duplicate) == (50, False, True)
    assert again.batch_id == first.batch_id
    assert _scored(services, files, clock, bulk_table(50, prefix="t")).duplicate is False
    assert _window(files).num_rows == 100
    # rows of another signature (a deployment changed while they waited) are refused, not stored
    with pytest.raises(InvalidInput, match="hours"):
        _scored(services, files, clock, bulk_table(5, prefix="u").drop_columns(["hours"]))
    assert _window(files).num_rows == 100


def test_a_batch_is_stored_in_time_order_whatever_order_it_came_in(
    services, files, clock, endpoint
) -> None:
    table = bulk_table(40)
    reversed_rows = table.take(pa.array(range(39, -1, -1)))
    _scored(services, files, clock, reversed_rows)
    (stored,) = [pq.read_table(p) for p in files.root.rglob("*.parquet")]
    assert stored.column("correlation_id").to_pylist() == [f"b{i}" for i in range(40)]
