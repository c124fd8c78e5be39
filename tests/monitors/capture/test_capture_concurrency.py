"""Four writers and a reading monitor at once: no row lost or doubled, no partial file read."""

from __future__ import annotations

import threading
from datetime import timedelta

import pyarrow.compute as pc

from governance.core.principal import Principal
from monitors.capture import service
from monitors.capture.source import LineageSchemaSource
from tests.monitors.capture.conftest import T0, json_body, records

WRITERS, BATCHES, ROWS = 4, 20, 40


def test_four_writers_and_a_reader_lose_nothing(services, files, clock, endpoint) -> None:
    schemas = LineageSchemaSource()
    shared = json_body(records(ROWS, prefix="shared-"))
    errors: list[BaseException] = []
    done = threading.Event()
    seen: list[int] = []

    def post(body: bytes, who: int) -> None:
        service.ingest_inferences(
            services.db,
            files=files,
            schemas=schemas,
            project="alpha",
            endpoint=endpoint,
            body=body,
            content_type="application/json",
            actor=Principal(id=None, name=f"w{who}"),
            clock=clock,
        )

    def writer(who: int) -> None:
        try:
            bodies = [
                json_body(records(ROWS, prefix=f"w{who}-b{b}-", at=T0 + timedelta(minutes=b)))
                for b in range(BATCHES)
            ]
            for b, body in enumerate(bodies):
                post(body, who)
                if b == BATCHES // 2:
                    post(shared, who)  # every writer sends the same batch: stored once
                    post(bodies[0], who)  # and retries one of its own
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            while not done.is_set():
                table = service.read_window(
                    files, project="alpha", endpoint=endpoint, start=T0, end=T0 + timedelta(days=1)
                )
                ids = table.column("correlation_id")
                # Whole batches only (one file each), never a row twice, never a torn row.
                assert table.num_rows % ROWS == 0
                assert pc.count_distinct(ids).as_py() == table.num_rows
                assert table.num_rows == 0 or table.column("age").null_count == 0
                assert not seen or table.num_rows >= seen[-1]
                seen.append(table.num_rows)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    done.set()
    watcher.join(timeout=60)
    assert not errors, errors
    final = service.read_window(
        files, project="alpha", endpoint=endpoint, start=T0, end=T0 + timedelta(days=1)
    )
    assert final.num_rows == (WRITERS * BATCHES + 1) * ROWS
    assert len(seen) > 1
    (count,) = service.ingest_counts(services.db)
    assert count.batches == WRITERS * BATCHES + 1
    assert count.duplicates == 2 * WRITERS - 1
    assert not list(files.root.rglob(".pending-*"))
