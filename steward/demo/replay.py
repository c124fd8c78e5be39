"""A day of production: requests scored through the endpoint, labels a day later, the monitors'
windows run by the daemon once the day is over."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow as pa

from governance.core.errors import NotFound, Unavailable
from monitors.runs.schemas import MonitorRun
from monitors.runs.service import get_run
from steward.client import Steward
from steward.demo.data import NUMERIC, TARGET, day_of_traffic
from steward.demo.pipeline.steps import CONTEXT
from steward.demo.setup import DRIFT, ENDPOINT, FAIRNESS
from steward.demo.stack import PROJECT, Stack

BATCHES = 8  # requests are spread over the day in this many bursts
CUSTOMERS_PER_BATCH = 10  # canary days: one request per customer, each with its request key


@dataclass(kw_only=True)
class Day:
    """One day of traffic and the monitors' runs of its window."""

    number: int
    start: datetime
    rows: int
    shifted: bool
    relabelled: int  # labels the simulated pay reform changed
    served: Counter[int] = field(default_factory=Counter)  # rows per model version
    runs: dict[str, MonitorRun] = field(default_factory=dict)


@dataclass(kw_only=True)
class Replay:
    """Sends the days of traffic."""

    stack: Stack
    app: Steward  # the scoring application's client (app-developer)
    pool: pa.Table
    first_day: datetime
    rows_per_day: int
    shift_from: int
    seed: int = 11

    def day(self, number: int, *, customers: bool = False) -> Day:
        """Score one day's requests, log their labels, and wait for the monitors' runs."""
        start = self.first_day + timedelta(days=number - 1)
        shifted = number >= self.shift_from
        table, relabelled = day_of_traffic(
            self.pool, rows=self.rows_per_day, day=number, shifted=shifted, seed=self.seed
        )
        day = Day(
            number=number, start=start, rows=table.num_rows, shifted=shifted,
            relabelled=relabelled,
        )  # fmt: skip
        ids: list[str] = []
        per = table.num_rows // BATCHES
        for b in range(BATCHES):
            self.stack.clock.set(start + timedelta(days=1) * (b / BATCHES) + timedelta(minutes=1))
            part = table.slice(b * per, per if b < BATCHES - 1 else None)
            ids += self._score(part, day, f"d{number}b{b}" if customers else None)
        labels = pa.table({"correlation_id": ids, "label": table.column(TARGET)})
        self.stack.clock.set(start + timedelta(days=1) - timedelta(minutes=1))
        self.app.log_labels(ENDPOINT, labels, idempotency_key=f"demo-labels-day{number}")
        self.stack.flush_capture()
        day.runs = self._close(start + timedelta(days=1))
        return day

    def _score(self, part: pa.Table, day: Day, customers: str | None) -> list[str]:
        requests = part.select([*NUMERIC, *CONTEXT])
        if customers is None:
            result = self.app.score(ENDPOINT, requests)
            day.served[result.version] += len(result.predictions)
            return result.correlation_ids
        ids: list[str] = []
        size = -(-requests.num_rows // CUSTOMERS_PER_BATCH)
        for c in range(CUSTOMERS_PER_BATCH):
            # a canary routes by request key: each customer sticks to one version
            result = self.app.score(
                ENDPOINT, requests.slice(c * size, size), request_key=f"{customers}-customer{c}"
            )
            day.served[result.version] += len(result.predictions)
            ids += result.correlation_ids
        return ids

    def _close(self, end: datetime, timeout: float = 120.0) -> dict[str, MonitorRun]:
        """Move the clock past the day's end; the daemon runs each monitor's window."""
        self.stack.clock.set(end + timedelta(minutes=5))
        deadline = time.monotonic() + timeout
        runs: dict[str, MonitorRun] = {}
        db = self.stack.services.db
        while len(runs) < 2:
            for monitor in (DRIFT, FAIRNESS):
                try:
                    runs[monitor] = get_run(db, project=PROJECT, name=monitor, window_end=end)
                except NotFound:
                    continue
            if len(runs) < 2:
                if time.monotonic() > deadline:
                    raise Unavailable("the daemon did not run the day's windows in time")
                time.sleep(0.05)
        return runs
