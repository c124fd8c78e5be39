"""Replay production traffic day by day while the daemon runs the monitor on simulated time."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa

from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.errors import NotFound, Unavailable
from governance.core.principal import Principal
from governance.core.settings import Settings
from monitors.capture.service import capture_files, ingest_inferences, ingest_labels
from monitors.capture.source import LineageSchemaSource
from monitors.runs.schemas import MonitorRun
from monitors.runs.service import get_run
from steward.demo.data import FEATURES, TARGET, day_of_traffic
from steward.demo.model import TrainedModel
from steward.demo.setup import ENDPOINT, PROJECT

BATCHES_PER_DAY = 4
ARROW = "application/vnd.apache.arrow.stream"


@dataclass(frozen=True, kw_only=True, slots=True)
class Day:
    """One replayed day: its traffic, whether it was shifted, and the monitor's run."""

    number: int
    start: datetime
    rows: int
    shifted: bool
    stored: int
    run: MonitorRun


def scored_batch(
    model: TrainedModel, requests: pa.Table, *, start: datetime, span: timedelta, tag: str
) -> pa.Table:
    """Score requests and lay them out as an inference log batch (evenly spread in time)."""
    labels, probs = model.predict(requests)
    n = requests.num_rows
    stamps = [start + span * (i / n) for i in range(n)]
    columns = {name: requests.column(name) for name in FEATURES}
    return pa.table(
        {
            "correlation_id": [f"{tag}-{i:05d}" for i in range(n)],
            "timestamp": pa.array(stamps, type=pa.timestamp("us", tz="UTC")),
            **columns,
            "prediction": labels,
            "probabilities": pa.array(probs.tolist(), type=pa.list_(pa.float64())),
        }
    )


def _arrow_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


@dataclass(kw_only=True)
class Replay:
    """Everything the replay needs."""

    db: Database
    settings: Settings
    clock: ManualClock
    model: TrainedModel
    pool: pa.Table
    app: Principal
    first_day: datetime
    rows_per_day: int
    shift_from: int
    seed: int = 11

    def ingest_day(self, number: int) -> tuple[int, bool]:
        """Send one day of scored traffic in batches, the clock following along."""
        start = self.first_day + timedelta(days=number - 1)
        shifted = number >= self.shift_from
        requests = day_of_traffic(
            self.pool, rows=self.rows_per_day, day=number, shifted=shifted, seed=self.seed
        )
        span = timedelta(days=1) / BATCHES_PER_DAY
        per = self.rows_per_day // BATCHES_PER_DAY
        stored = 0
        truth: list[pa.Table] = []
        for b in range(BATCHES_PER_DAY):
            part = requests.slice(b * per, per)
            batch = scored_batch(
                self.model, part, start=start + b * span, span=span, tag=f"d{number}b{b}"
            )
            self.clock.set(start + (b + 1) * span - timedelta(seconds=1))
            result = ingest_inferences(
                self.db,
                files=capture_files(self.settings),
                schemas=LineageSchemaSource(),
                project=PROJECT,
                endpoint=ENDPOINT,
                body=_arrow_bytes(batch),
                content_type=ARROW,
                idempotency_key=f"demo-day{number}-batch{b}",
                actor=self.app,
                clock=self.clock,
            )
            stored += 0 if result.duplicate else result.rows
            truth.append(
                pa.table(
                    {"correlation_id": batch.column("correlation_id"), "label": part.column(TARGET)}
                )
            )
        self._labels(number, pa.concat_tables(truth))
        return stored, shifted

    def _labels(self, number: int, labels: pa.Table) -> None:
        """The day's ground truth arrives in one batch before the day closes."""
        self.clock.set(self.first_day + timedelta(days=number) - timedelta(seconds=1))
        ingest_labels(
            self.db,
            files=capture_files(self.settings),
            schemas=LineageSchemaSource(),
            project=PROJECT,
            endpoint=ENDPOINT,
            body=_arrow_bytes(labels),
            content_type=ARROW,
            idempotency_key=f"demo-day{number}-labels",
            actor=self.app,
            clock=self.clock,
        )

    def close_day(self, number: int, *, monitor: str, timeout: float = 120.0) -> MonitorRun:
        """Move the clock past the day's end and wait until the daemon has run its window."""
        end = self.first_day + timedelta(days=number)
        self.clock.set(end + timedelta(minutes=5))
        deadline = time.monotonic() + timeout
        while True:
            try:
                return get_run(self.db, project=PROJECT, name=monitor, window_end=end)
            except NotFound:
                if time.monotonic() > deadline:
                    raise Unavailable("the daemon did not run the window in time") from None
                time.sleep(0.05)
