"""One inference writer as a process (the concurrency test starts four of them)."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.principal import Principal
from monitors.capture.files import ParquetCaptureStore
from monitors.capture.service import ingest_inferences
from monitors.capture.source import LineageSchemaSource
from tests.monitors.capture.conftest import T0, json_body, records


def main(argv: list[str]) -> None:
    """Post ``--batches`` batches, plus the shared batch and one retry of its own, halfway."""
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--who", type=int, required=True)
    p.add_argument("--batches", type=int, required=True)
    p.add_argument("--rows", type=int, required=True)
    a = p.parse_args(argv)
    db, files = Database(a.url), ParquetCaptureStore(Path(a.data))
    clock = ManualClock(T0 + timedelta(days=1))
    actor = Principal(id=None, name=f"writer-{a.who}")

    def post(body: bytes) -> None:
        ingest_inferences(
            db, files=files, schemas=LineageSchemaSource(), project="alpha",
            endpoint="income-api", body=body, content_type="application/json", actor=actor,
            clock=clock,
        )  # fmt: skip

    shared = json_body(records(a.rows, prefix="shared-"))
    bodies = [
        json_body(records(a.rows, prefix=f"w{a.who}-b{b}-", at=T0 + timedelta(minutes=b)))
        for b in range(a.batches)
    ]
    for b, body in enumerate(bodies):
        post(body)
        if b == a.batches // 2:
            post(shared)  # every writer sends the same batch: it must be stored once
            post(bodies[0])  # and retries one of its own
    db.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
