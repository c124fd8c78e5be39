"""Four writer processes and a reading monitor at once: no row lost or doubled, no torn file."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow.compute as pc

from monitors.capture import service
from tests.monitors.capture.conftest import T0

WRITERS, BATCHES, ROWS = 4, 20, 40
ROOT = Path(__file__).resolve().parents[3]


def _writer(url: str, data: Path, who: int) -> subprocess.Popen[bytes]:
    args = ["--url", url, "--data", str(data), "--who", str(who), "--batches", str(BATCHES),
            "--rows", str(ROWS)]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "tests.monitors.capture.writer_proc", *args],
        cwd=ROOT, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_four_writers_and_a_reader_lose_nothing(services, files, db_url, endpoint) -> None:
    writers = [_writer(db_url, files.root, who) for who in range(WRITERS)]
    seen: list[int] = []
    while any(w.poll() is None for w in writers) or not seen:
        table = service.read_window(
            files, project="alpha", endpoint=endpoint, start=T0, end=T0 + timedelta(days=1)
        )
        # Whole batches only (one file each), never a row twice, never a torn row.
        assert table.num_rows % ROWS == 0
        assert pc.count_distinct(table.column("correlation_id")).as_py() == table.num_rows
        assert table.num_rows == 0 or table.column("age").null_count == 0
        assert not seen or table.num_rows >= seen[-1]
        seen.append(table.num_rows)
    for w in writers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err.decode()[-2000:]
    final = service.read_window(
        files, project="alpha", endpoint=endpoint, start=T0, end=T0 + timedelta(days=1)
    )
    assert final.num_rows == (WRITERS * BATCHES + 1) * ROWS
    assert len(set(seen)) > 2  # the reader really ran while the writers wrote
    (count,) = service.ingest_counts(services.db)
    assert count.batches == WRITERS * BATCHES + 1
    assert count.duplicates == 2 * WRITERS - 1
    assert not list(files.root.rglob(".pending-*"))
