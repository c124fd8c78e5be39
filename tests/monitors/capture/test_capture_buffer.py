"""The capture buffer of scored rows: batched writes, retries, a bound, nothing lost on stop."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest

from governance.core.errors import NotFound
from monitors.capture.buffer import CaptureBuffer
from monitors.capture.schemas import ColumnType, ExpectedSchema


class Disk:
    """A writer that raises ``failure`` while it is set and remembers what it wrote."""

    def __init__(self) -> None:
        self.failure: Exception | None = None
        self.written: list[tuple[str, str, list[int]]] = []
        self.schemas: list[ExpectedSchema | None] = []
        self.wrote = threading.Event()

    @property
    def broken(self) -> bool:
        return self.failure is not None

    @broken.setter
    def broken(self, value: bool) -> None:
        self.failure = OSError("disk full") if value else None

    def __call__(
        self, project: str, endpoint: str, table: pa.Table, schema: ExpectedSchema | None
    ) -> None:
        if self.failure is not None:
            raise self.failure
        self.written.append((project, endpoint, table.column("n").to_pylist()))
        self.schemas.append(schema)
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


def test_a_refused_write_is_dropped_and_counted_not_retried_forever() -> None:
    """A refusal would come again at every retry, holding back every row behind it."""
    disk = Disk()
    buffer = CaptureBuffer(disk, max_delay=60)
    disk.failure = NotFound("endpoint 'a' not found")
    buffer.add("alpha", "a", _rows(1, 2))
    buffer.add("alpha", "b", _rows(3))
    buffer.flush()
    assert buffer.stats.refused_rows == 3 and buffer.stats.pending == {}
    disk.failure = None
    buffer.add("alpha", "a", _rows(4))
    buffer.stop()
    assert disk.written == [("alpha", "a", [4])] and buffer.stats.written_rows == 1


@pytest.mark.parametrize("failure", [RuntimeError("bug"), ConnectionError("database gone")])
def test_the_writer_thread_outlives_any_failure_and_keeps_the_rows(failure: Exception) -> None:
    disk = Disk()
    buffer = CaptureBuffer(disk, max_rows=2, max_delay=0.05)
    disk.failure = failure
    buffer.add("alpha", "a", _rows(1, 2))  # wakes the thread, whose write fails
    deadline = time.monotonic() + 10
    while buffer.stats.failed_writes == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert buffer.stats.failed_writes >= 1 and buffer._thread is not None
    assert buffer._thread.is_alive()
    disk.failure = None
    assert disk.wrote.wait(10)  # the same thread writes them once the writer works again
    buffer.stop()
    assert disk.written == [("alpha", "a", [1, 2])] and buffer.stats.refused_rows == 0


def test_rows_scored_under_different_schemas_are_written_apart() -> None:
    """A version with another signature deployed meanwhile: each part under its own schema."""
    old = ExpectedSchema(features=(("x", ColumnType.integer),), prediction=ColumnType.string)
    new = ExpectedSchema(features=(("y", ColumnType.float),), prediction=ColumnType.string)
    disk = Disk()
    buffer = CaptureBuffer(disk, max_delay=60)
    buffer.add("alpha", "a", _rows(1), old)
    buffer.add("alpha", "a", _rows(2), new)
    buffer.add("alpha", "a", _rows(3), old)
    assert buffer.stats.pending == {("alpha", "a"): 3}
    buffer.stop()
    assert disk.written == [("alpha", "a", [1, 3]), ("alpha", "a", [2])]
    assert disk.schemas == [old, new]


def test_rows_added_while_a_write_fails_are_counted_once() -> None:
    """The failing write's rows go back before those queued meanwhile, each counted once."""
    disk = Disk()
    buffer = CaptureBuffer(disk, max_delay=60)

    class Slow:
        def __call__(self, project: str, endpoint: str, table: pa.Table, schema: object) -> None:
            buffer.add("alpha", "a", _rows(9))  # a request scored while the write runs
            raise OSError("disk full")

    buffer.write = Slow()
    buffer.add("alpha", "a", _rows(1, 2))
    buffer.flush()
    assert buffer.stats.pending == {("alpha", "a"): 3} and buffer.stats.failed_writes == 1
    buffer.write = disk
    buffer.stop()
    assert disk.written == [("alpha", "a", [1, 2, 9])]
