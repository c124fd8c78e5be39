"""Ingest caps: rows, decoded bytes and days per batch, checked before decoding where possible."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from governance.core.db import Database
from monitors.capture.files import ParquetCaptureStore
from monitors.capture.models import CaptureBatchRow
from steward.api.app import create_app
from steward.api.deps import Services
from tests.builders import World
from tests.monitors.capture.conftest import arrow_stream, bulk_table, json_body, records

URL = "/api/v1/projects/alpha/endpoints/income-api"
PARQUET = {"Content-Type": "application/x-parquet"}
ARROW = {"Content-Type": "application/vnd.apache.arrow.stream"}


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def _constant_rows(n: int, value: str) -> pa.Table:
    """``n`` rows of one constant string column, dictionary-encoded: tiny on disk."""
    indices = pa.array(np.zeros(n, dtype=np.int32))
    return pa.table({"job": pa.DictionaryArray.from_arrays(indices, pa.array([value]))})


def _nothing_stored(db: Database, files: ParquetCaptureStore) -> bool:
    with db.read() as session:
        batches = session.scalar(select(func.count()).select_from(CaptureBatchRow))
    return batches == 0 and not list(files.root.rglob("*.parquet"))


@pytest.fixture
def capped(services: Services, endpoint: str) -> Iterator[TestClient]:
    """A client on an app with small caps: 1000 rows, 10 MB decoded, 3 days."""
    small = services.settings.model_copy(
        update={
            "ingest_max_rows": 1000,
            "ingest_max_decoded_bytes": 10_000_000,
            "ingest_max_days": 3,
        }
    )
    app = create_app(
        services=dataclasses.replace(services, settings=small), seal_in_background=False
    )
    with TestClient(app) as client:
        yield client


def _refused(response: Any, status: int, cap: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == ("payload_too_large" if status == 413 else "invalid_input")
    assert cap in body["detail"], body


def test_parquet_bomb_is_refused_from_its_footer(
    client: TestClient,
    world: World,
    endpoint: str,
    db: Database,
    files: ParquetCaptureStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = _parquet(_constant_rows(8_000_000, "constant"))
    assert len(body) < 200_000

    def decode(*args: Any, **kwargs: Any) -> pa.Table:
        raise AssertionError("the body was decoded before its footer was checked")

    # Proof without a stopwatch: the refusal must come before any decoding at all.
    monkeypatch.setattr(pq, "read_table", decode)
    r = client.post(f"{URL}/inferences", content=body, headers=world.headers("owner") | PARQUET)
    _refused(r, 413, "STEWARD_INGEST_MAX_ROWS")
    assert _nothing_stored(db, files)


def test_long_strings_repeated_are_refused_before_expanding(
    capped: TestClient, world: World, db: Database, files: ParquetCaptureStore
) -> None:
    # 100 rows of one 1 MB value: ~50 KB of Parquet, 100 MB once decoded.
    body = _parquet(_constant_rows(100, "x" * 1_000_000))
    assert len(body) < 1_000_000
    r = capped.post(f"{URL}/inferences", content=body, headers=world.headers("owner") | PARQUET)
    _refused(r, 413, "STEWARD_INGEST_MAX_DECODED_BYTES")
    assert _nothing_stored(db, files)


def test_row_caps_on_every_format(
    capped: TestClient, world: World, db: Database, files: ParquetCaptureStore
) -> None:
    owner = world.headers("owner")
    table = bulk_table(1200)
    stream = arrow_stream(table)
    _refused(capped.post(f"{URL}/inferences", content=stream, headers=owner | ARROW), 413, "1000")
    parquet = _parquet(table)
    _refused(
        capped.post(f"{URL}/inferences", content=parquet, headers=owner | PARQUET), 413, "1000"
    )
    _refused(
        capped.post(f"{URL}/inferences", content=json_body(records(1001)), headers=owner),
        413,
        "1000",
    )
    labels = {"labels": [{"correlation_id": f"c{i}", "label": ">50K"} for i in range(1001)]}
    _refused(capped.post(f"{URL}/labels", json=labels, headers=owner), 413, "1000")
    assert _nothing_stored(db, files)


def test_too_many_days_are_refused(
    capped: TestClient, world: World, db: Database, files: ParquetCaptureStore
) -> None:
    owner = world.headers("owner")
    spread = json_body(records(4, step=timedelta(days=1)))
    _refused(capped.post(f"{URL}/inferences", content=spread, headers=owner), 422, "4 days")
    wide = bulk_table(4)
    times = [t.as_py() + timedelta(days=i) for i, t in enumerate(wide.column("timestamp"))]
    wide = wide.set_column(1, "timestamp", pa.array(times, pa.timestamp("ms")))
    r = capped.post(f"{URL}/inferences", content=_parquet(wide), headers=owner | PARQUET)
    _refused(r, 422, "STEWARD_INGEST_MAX_DAYS")
    assert _nothing_stored(db, files)


def test_batches_under_the_caps_land(
    capped: TestClient, world: World, db: Database, files: ParquetCaptureStore
) -> None:
    owner = world.headers("owner")
    r = capped.post(
        f"{URL}/inferences", content=json_body(records(3, step=timedelta(days=1))), headers=owner
    )
    assert r.status_code == 201 and len(r.json()["days"]) == 3, r.text
    r = capped.post(
        f"{URL}/inferences", content=_parquet(bulk_table(1000)), headers=owner | PARQUET
    )
    assert r.status_code == 201 and r.json()["rows"] == 1000, r.text
    stream = arrow_stream(bulk_table(1000, prefix="s"))
    r = capped.post(f"{URL}/inferences", content=stream, headers=owner | ARROW)
    assert r.status_code == 201 and r.json()["rows"] == 1000, r.text
    labels = {"labels": [{"correlation_id": f"c{i}", "label": ">50K"} for i in range(3)]}
    assert capped.post(f"{URL}/labels", json=labels, headers=owner).status_code == 201
    assert not _nothing_stored(db, files)
