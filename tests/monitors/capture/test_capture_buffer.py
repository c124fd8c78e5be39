"""The capture buffer of scored rows: batched writes, retries, a bound, nothing lost on stop."""

from __future__ import annotations

import threading

import pyarrow as pa

from monitors.capture.buffer import CaptureBuffer


class Disk:
    """A writer that fails while ``broken`` and remembers what it wrote."""

    def __init__(self) -> None:
        self.broken = False
        self.written: list[tuple[str, str, list[int]]] = []
        self.wrote = threading.Event()

    def __call__(self, project: str, endpoint: str, table: pa.Table) -> None:
        if self.broken:
            raise OSError("disk full")
        self.written.append((project, endpoint, table.column("n").to_pylist()))
        self.wrote.set()


def _rows(*values: int) -> pa.Table:
    return pa.table({"n": pa.array(values, type=pa.int64())})


def test_rows_are_written_per_endpoint_in_one_batch_each() -> None:
    disk = Disk()
    buffer = CaptureBuffer(disk, max_delay=60)
    buffer.add("alpha", "a", _rows(1, 2))
    buffer.add("alpha", "b", _rows(3))
    buffer.add("alpha", "a", _rows(4))
    assert disk.written == [] and buffer.stats.pending == {("alpha", "a"): 3, ("alpha", "b"): 1}
    buffer.stop()  # stop writes what is left
    assert sorted(disk.written) == [("alpha", "a", [1, 2, 4]), ("alpha", "b", [3])]
    assert buffer.stats.written_rows == 4 and buffer.stats.pending == {}
    buffer.add("alpha", "a", _rows(5))  # after stop: written at once, no thread to wait for
    assert disk.written[-1] == ("alpha", "a", [5])


def test_a_full_batch_wakes_the_writer_before_its_delay() -> None:
    disk = Disk()
    buffer = CaptureBuffer(disk, max_rows=3, max_delay=60)
    buffer.add("alpha", "a", _rows(1, 2, 3))
    assert disk.wrote.wait(10)
    assert disk.written == [("alpha", "a", [1, 2, 3])]
    buffer.stop()


def test_failed_writes_are_retried_and_the_oldest_rows_dropped_beyond_the_bound() -> None:
    disk = Disk()
    buffer = CaptureBuffer(disk, max_delay=60, max_pending=4)
    disk.broken = True
    buffer.add("alpha", "a", _rows(1, 2, 3))
    buffer.flush()
    assert buffer.stats.failed_writes == 1 and buffer.stats.pending == {("alpha", "a"): 3}
    buffer.add("alpha", "a", _rows(4, 5))
    buffer.flush()  # 5 pending, bound 4: row 1 goes, and the log says so
    assert buffer.stats.dropped_rows == 1 and buffer.stats.pending == {("alpha", "a"): 4}
    disk.broken = False
    buffer.stop()
    assert disk.written == [("alpha", "a", [2, 3, 4, 5])]
