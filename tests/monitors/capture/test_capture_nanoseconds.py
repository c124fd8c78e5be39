"""Sub-microsecond time values are truncated to microseconds, counted and said, never refused."""

from __future__ import annotations

import io
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from tests.builders import World
from tests.monitors.capture.conftest import T0, arrow_stream, bulk_table, json_body, records

URL = "/api/v1/projects/alpha/endpoints/income-api"
WINDOW = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"}


def _stored_times(client: TestClient, world: World) -> list[object]:
    r = client.get(
        f"{URL}/inferences",
        params={**WINDOW, "format": "arrow"},
        headers=world.headers("data-scientist"),
    )
    assert r.status_code == 200, r.text
    table = pa.ipc.open_stream(r.content).read_all()
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    return table.column("timestamp").to_pylist()


def test_json_times_with_nine_fractional_digits_are_cut_to_microseconds(
    client: TestClient, world: World, endpoint: str
) -> None:
    recs = records(4)
    recs[0]["timestamp"] = "2026-03-01T00:00:00.123456789Z"
    recs[1]["timestamp"] = "2026-03-01T00:00:01.000001999+00:00"
    recs[2]["timestamp"] = "2026-03-01T00:00:02.123456000Z"  # only zeros dropped: not counted
    r = client.post(f"{URL}/inferences", content=json_body(recs), headers=world.headers("owner"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["rows"] == 4 and body["truncated_timestamps"] == 2
    assert body["warnings"] == [
        "2 time value(s) had sub-microsecond digits; truncated to microseconds"
    ]
    times = sorted(_stored_times(client, world))
    assert times[0] == T0 + timedelta(microseconds=123456)
    assert times[1] == T0 + timedelta(seconds=1, microseconds=1)
    assert times[2] == T0 + timedelta(seconds=2, microseconds=123456)


def test_json_times_mixing_offsets_and_naive_values_are_cut_too(
    client: TestClient, world: World, endpoint: str
) -> None:
    recs = records(2)
    recs[0]["timestamp"] = "2026-03-01T01:00:00.5000009+01:00"
    recs[1]["timestamp"] = "2026-03-01T00:00:03.9999999"  # naive: taken as UTC
    r = client.post(f"{URL}/inferences", content=json_body(recs), headers=world.headers("owner"))
    assert r.status_code == 201, r.text
    assert r.json()["truncated_timestamps"] == 2
    assert sorted(_stored_times(client, world)) == [
        T0 + timedelta(microseconds=500000),
        T0 + timedelta(seconds=3, microseconds=999999),
    ]


def _nanosecond_table(n: int) -> pa.Table:
    table = bulk_table(n, prefix="n")
    base = int(T0.timestamp()) * 10**9
    # Every other row carries nanoseconds; the rest are whole microseconds.
    nanos = [base + i * 1_000_000_000 + (789 if i % 2 else 0) + 456_000 for i in range(n)]
    column = pa.array(nanos, pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
    return table.set_column(table.schema.get_field_index("timestamp"), "timestamp", column)


def test_nanosecond_parquet_and_arrow_bodies_are_stored_to_the_microsecond(
    client: TestClient, world: World, endpoint: str
) -> None:
    headers = world.headers("ml-engineer")
    sink = io.BytesIO()
    pq.write_table(_nanosecond_table(10), sink, coerce_timestamps=None)
    assert pq.read_schema(io.BytesIO(sink.getvalue())).field("timestamp").type.unit == "ns"
    r = client.post(
        f"{URL}/inferences",
        content=sink.getvalue(),
        headers={**headers, "Content-Type": "application/x-parquet"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 10 and r.json()["truncated_timestamps"] == 5
    times = sorted(_stored_times(client, world))
    assert times == [T0 + timedelta(seconds=i, microseconds=456) for i in range(10)]
    naive = _nanosecond_table(4).cast(
        _nanosecond_table(4).schema.set(1, pa.field("timestamp", pa.timestamp("ns")))
    )
    r = client.post(
        f"{URL}/inferences",
        content=arrow_stream(naive.set_column(0, "correlation_id", pa.array(["a", "b", "c", "d"]))),
        headers={**headers, "Content-Type": "application/vnd.apache.arrow.stream"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["truncated_timestamps"] == 2


def test_whole_microseconds_and_retries_carry_no_warning(
    client: TestClient, world: World, endpoint: str
) -> None:
    recs = records(3)
    recs[0]["timestamp"] = "2026-03-01T00:00:00.123456789Z"
    body = json_body(recs)
    headers = world.headers("owner")
    first = client.post(f"{URL}/inferences", content=body, headers=headers)
    assert first.status_code == 201 and first.json()["truncated_timestamps"] == 1
    again = client.post(f"{URL}/inferences", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["duplicate"]
    # A retry stores nothing and truncates nothing: only the first answer reports it.
    assert again.json()["truncated_timestamps"] == 0 and again.json()["warnings"] == []
    plain = client.post(
        f"{URL}/inferences", content=json_body(records(2, start=10)), headers=headers
    )
    assert plain.status_code == 201
    assert plain.json()["truncated_timestamps"] == 0 and plain.json()["warnings"] == []
