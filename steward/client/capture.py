"""Scoring, and logging inferences and labels of an endpoint in batches that are stored once.

Every batch carries an ``Idempotency-Key`` made of the call's key and the batch's number: a
batch retried after a lost answer is acknowledged (``duplicate``) and not stored again, and a
whole call repeated with the same ``idempotency_key`` (a restarted job) stores nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from steward.client import frames
from steward.client.base import Resource, seg
from steward.client.models import IngestResult, IngestSummary, ScoreResult

MAX_ROWS = 50_000  # rows per batch
MAX_BYTES = 8 * 1024 * 1024  # encoded bytes per batch (the server's body limit is larger)
JSON_ROWS = 10_000  # the most rows a JSON read returns


class Inferences(Resource):
    """Inference logs and labels of the project's endpoints."""

    def log(
        self,
        endpoint: str,
        data: Any,
        *,
        max_rows: int = MAX_ROWS,
        max_bytes: int = MAX_BYTES,
        idempotency_key: str | None = None,
    ) -> IngestSummary:
        """Log inferences: a frame (flat columns: correlation_id, timestamp, the features,
        prediction, probabilities) or a list of JSON records (``{"correlation_id", "timestamp",
        "features": {...}, "prediction"}``), in batches of at most ``max_rows`` and ``max_bytes``.
        """
        batches = _batches(data, "records", max_rows, max_bytes)
        return self._post(endpoint, "inferences", batches, idempotency_key)

    def log_labels(
        self,
        endpoint: str,
        data: Any,
        *,
        max_rows: int = MAX_ROWS,
        max_bytes: int = MAX_BYTES,
        idempotency_key: str | None = None,
    ) -> IngestSummary:
        """Log ground truth of earlier inferences: columns (or keys) correlation_id and label."""
        batches = _batches(data, "labels", max_rows, max_bytes)
        return self._post(endpoint, "labels", batches, idempotency_key)

    def _post(
        self, endpoint: str, kind: str, batches: Iterator[tuple[bytes, str]], key: str | None
    ) -> IngestSummary:
        prefix = key or uuid.uuid4().hex
        path = self._path(f"/endpoints/{seg(endpoint)}/{kind}")
        done = []
        for n, (body, media) in enumerate(batches):
            headers = {"Content-Type": media, "Idempotency-Key": f"{prefix}:{n}"}
            found = self._http.json("POST", path, content=body, headers=headers)
            done.append(IngestResult.model_validate(found))
        return IngestSummary(batches=done)

    def read(
        self, endpoint: str, start: datetime, end: datetime, *, labels: bool = False
    ) -> list[dict[str, Any]]:
        """Logged rows with ``start <= timestamp < end`` as dicts (JSON; at most 10,000 rows)."""
        params = _window(start, end, labels, "json")
        path = self._path(f"/endpoints/{seg(endpoint)}/inferences")
        rows: list[dict[str, Any]] = self._http.json("GET", path, params=params)["rows"]
        return rows

    def read_frame(
        self,
        endpoint: str,
        start: datetime,
        end: datetime,
        *,
        labels: bool = False,
        kind: frames.FrameKind = "pandas",
    ) -> Any:
        """Every logged row with ``start <= timestamp < end`` as a pandas, Arrow or Polars frame."""
        params = _window(start, end, labels, "arrow")
        path = self._path(f"/endpoints/{seg(endpoint)}/inferences")
        data = self._http.request("GET", path, params=params).content
        return frames.from_arrow(frames.read_ipc(data), kind)

    def score(self, endpoint: str, data: Any, *, request_key: str | None = None) -> ScoreResult:
        """Predict with the endpoint's deployed version; the rows are logged as its inferences.

        ``data`` is a frame of the signature's inputs (and optionally ``correlation_id``), or a
        list of records ``{"features": {...}, "correlation_id": ...}``.
        """
        headers = {"X-Steward-Request-Key": request_key} if request_key else {}
        path = self._path(f"/endpoints/{seg(endpoint)}/score")
        if frames.is_records(data):
            found = self._http.json("POST", path, json={"records": list(data)}, headers=headers)
        else:
            body = frames.ipc_bytes(frames.to_arrow(data))
            headers = {**headers, "Content-Type": frames.ARROW_STREAM}
            found = self._http.json("POST", path, content=body, headers=headers)
        return ScoreResult.model_validate(found)


def _window(start: datetime, end: datetime, labels: bool, fmt: str) -> dict[str, Any]:
    return {
        "start": start.isoformat(), "end": end.isoformat(), "labels": str(labels).lower(),
        "format": fmt,
    }  # fmt: skip


def _batches(data: Any, key: str, max_rows: int, max_bytes: int) -> Iterator[tuple[bytes, str]]:
    if max_rows < 1 or max_bytes < 1:
        raise ValueError("max_rows and max_bytes must be positive")
    if frames.is_records(data):
        records: Sequence[dict[str, Any]] = data
        for body in frames.json_batches(records, key, max_rows=max_rows, max_bytes=max_bytes):
            yield body, "application/json"
        return
    table = frames.to_arrow(data)
    for body in frames.arrow_batches(table, max_rows=max_rows, max_bytes=max_bytes):
        yield body, frames.ARROW_STREAM
