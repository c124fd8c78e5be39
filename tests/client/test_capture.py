"""Inference and label logging from frames, in batches, each stored once; scoring; reading back."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from steward.client import Conflict, Invalid, Steward
from tests.builders import World

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SIG = {
    "inputs": [{"name": "age", "type": "float"}, {"name": "sex", "type": "str"}],
    "outputs": [{"name": "prediction", "type": "str"}],
}
WINDOW = (T0 - timedelta(days=1), T0 + timedelta(days=2))


def _frame(n: int, prefix: str = "r") -> pd.DataFrame:
    return pd.DataFrame({
        "correlation_id": [f"{prefix}{i}" for i in range(n)],
        "timestamp": [T0 + timedelta(minutes=i) for i in range(n)],
        "age": [20.0 + i % 50 for i in range(n)],
        "sex": ["M" if i % 2 else "F" for i in range(n)],
        "prediction": ["<=50K" if i % 4 else ">50K" for i in range(n)],
    })  # fmt: skip


@pytest.fixture
def endpoint(steward: Steward) -> str:
    """Endpoint 'scorer' serving a version of 'income' registered by its hash."""
    version = steward.models.register(
        "income", signature=SIG, sha256=hashlib.sha256(b"income").hexdigest()
    )
    steward.endpoints.create("scorer")
    steward.endpoints.deploy("scorer", "income", version=version.version)
    return "scorer"


@pytest.mark.parametrize("kind", ["pandas", "arrow", "polars"])
def test_frames_are_logged_in_batches_by_rows_and_bytes(
    steward: Steward, endpoint: str, kind: str
) -> None:
    frame: Any = _frame(250)
    if kind != "pandas":
        frame = pa.Table.from_pandas(frame, preserve_index=False)
        frame = pl.from_arrow(frame) if kind == "polars" else frame
    by_rows = steward.log_inferences(endpoint, frame, max_rows=100)
    assert [b.rows for b in by_rows.batches] == [100, 100, 50] and by_rows.duplicates == 0
    back = steward.inferences.read_frame(endpoint, *WINDOW, kind=kind)  # type: ignore[arg-type]
    assert len(back) == 250
    table = back if kind == "arrow" else pa.table(back) if kind == "polars" else None
    if table is not None:
        assert sorted(table.column("correlation_id").to_pylist()) == sorted(
            f"r{i}" for i in range(250)
        )
    by_bytes = steward.log_inferences(endpoint, _frame(250, prefix="b"), max_bytes=4096)
    assert len(by_bytes.batches) > 3 and by_bytes.rows == 250
    assert steward.inferences.read_frame(endpoint, *WINDOW).shape[0] == 500


def test_json_records_and_labels_round_trip(steward: Steward, endpoint: str) -> None:
    records = [
        {"correlation_id": f"j{i}", "timestamp": T0 + timedelta(seconds=i),
         "features": {"age": 30.0 + i, "sex": "F"}, "prediction": ">50K"}
        for i in range(7)
    ]  # fmt: skip
    logged = steward.log_inferences(endpoint, records, max_rows=3)
    assert [b.rows for b in logged.batches] == [3, 3, 1]
    labels = pd.DataFrame({"correlation_id": ["j0", "j1"], "label": ["<=50K", ">50K"]})
    assert steward.log_labels(endpoint, labels).rows == 2
    rows = steward.inferences.read(endpoint, *WINDOW, labels=True)
    got = {r["correlation_id"]: (r["features"] if "features" in r else r["age"], r["label"])
           for r in rows}  # fmt: skip
    assert got["j0"] == (30.0, "<=50K") and got["j1"][1] == ">50K" and got["j6"][1] is None
    with pytest.raises(Invalid) as bad:
        steward.log_inferences(endpoint, _frame(3).drop(columns=["age"]))
    assert [e.loc for e in bad.value.field_errors] == [("age",)]


class LosesAnswers(httpx.BaseTransport):
    """A network that delivers every request but drops the first answer to each ingest POST."""

    def __init__(self) -> None:
        self.inner, self.dropped = httpx.HTTPTransport(), 0
        self.keys: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and "Idempotency-Key" in request.headers:
            key = request.headers["Idempotency-Key"]
            self.keys.append(key)
            if self.keys.count(key) == 1:
                response.read()
                self.dropped += 1
                raise httpx.ReadTimeout("answer lost", request=request)
        return response


def test_a_batch_retried_after_a_lost_answer_is_stored_once(
    server: str, world: World, steward: Steward, endpoint: str
) -> None:
    lossy = LosesAnswers()
    flaky = Steward(server, world.tokens["ml-engineer"], project="alpha", transport=lossy,
                    sleep=lambda s: None)  # fmt: skip
    logged = flaky.log_inferences(endpoint, _frame(120), max_rows=50, idempotency_key="job-7")
    assert lossy.dropped == 3 and logged.duplicates == 3 and logged.rows == 120
    assert lossy.keys == ["job-7:0", "job-7:0", "job-7:1", "job-7:1", "job-7:2", "job-7:2"]
    assert steward.inferences.read_frame(endpoint, *WINDOW).shape[0] == 120  # not 240
    again = steward.log_inferences(endpoint, _frame(120), max_rows=50, idempotency_key="job-7")
    assert again.duplicates == 3
    with pytest.raises(Conflict):  # the same key for other content
        steward.log_inferences(endpoint, _frame(5, prefix="z"), idempotency_key="job-7")
