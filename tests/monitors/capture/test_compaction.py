"""Compaction of a day's small capture files: atomic, lossless, safe under ingest and crashes.

Every test runs on a local folder and on an S3-compatible server (moto). The day's rows are
compared before and after by count and by a checksum over every row's identity and values.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from governance.core.principal import Principal
from governance.core.settings import Settings
from monitors.capture import compaction, service
from monitors.capture.compaction import CompactionPolicy, compact_store
from monitors.capture.files import ParquetCaptureStore
from monitors.capture.objects import Objects
from monitors.capture.schemas import CaptureKind
from monitors.capture.source import LineageSchemaSource
from steward.api.deps import Services
from tests.monitors.capture.conftest import T0, json_body, records

pytest_plugins = ["tests.objectstore"]  # the s3 fixtures

APP = Principal(id=None, name="app-developer-user")
DAY = "2026-03-01"
NOW = CompactionPolicy(min_files=2, grace_seconds=0, stale_seconds=0)


class Interrupted(BaseException):
    """A pass killed at a chosen step (BaseException: nothing on the way may catch it)."""


@pytest.fixture(params=["local", "s3"])
def files(request: pytest.FixtureRequest, services: Services) -> ParquetCaptureStore:
    """The capture store on disk, or in a fresh bucket."""
    if request.param == "local":
        return service.capture_files(services.settings)
    return ParquetCaptureStore(request.getfixturevalue("s3").uri)


def _ingest(services: Services, files: ParquetCaptureStore, n: int, prefix: str) -> None:
    at = T0 + timedelta(hours=zlib.crc32(prefix.encode()) % 20)
    service.ingest_inferences(
        services.db, files=files, schemas=LineageSchemaSource(), project="alpha",
        endpoint="income-api", body=json_body(records(n, at=at, prefix=prefix)),
        content_type="application/json", actor=APP,
    )  # fmt: skip


def _day(files: ParquetCaptureStore) -> pa.Table:
    table = files.read(CaptureKind.inference, "alpha", "income-api", days=[DAY])
    assert table is not None
    return table


def _checksum(table: pa.Table) -> tuple[int, str]:
    """Row count and a hash of every row (correlation id, time, features), in id order."""
    rows = table.select(["correlation_id", "timestamp", "age", "hours", "job"]).sort_by(
        "correlation_id"
    )
    digest = hashlib.sha256()
    for row in rows.to_pylist():
        digest.update(repr(sorted(row.items())).encode())
    return table.num_rows, digest.hexdigest()


def _names(files: ParquetCaptureStore) -> list[str]:
    listing = files.listing(CaptureKind.inference, "alpha", "income-api", DAY)
    every = [i.base_name for i in listing.visible] + [i.base_name for i, _ in listing.hidden]
    return sorted(every + [i.base_name for i in listing.staging])


def test_small_files_become_one_with_the_same_rows(
    services: Services, endpoint: str, files: ParquetCaptureStore
) -> None:
    for b in range(6):
        _ingest(services, files, 50, f"b{b}-")
    before = _checksum(_day(files))
    assert compact_store(files, NOW) == 1
    (name,) = _names(files)
    assert name.startswith("compact-")
    assert _checksum(_day(files)) == before == (300, before[1])
    (path,) = files.files(CaptureKind.inference, "alpha", "income-api", [DAY])
    meta = pq.read_metadata(path, filesystem=files.filesystem)
    assert meta.num_row_groups == 1 and meta.num_rows == 300  # six groups became one
    times = _day(files).column("timestamp")
    assert pc.all(pc.greater_equal(times.slice(1), times.slice(0, len(times) - 1))).as_py()
    assert compact_store(files, NOW) == 0  # one file: nothing left to do
    _ingest(services, files, 10, "late-")  # a compact file is compacted again with new ones
    assert compact_store(files, NOW) == 1
    assert len(_names(files)) == 1 and _day(files).num_rows == 310


def test_too_few_or_large_files_are_left_alone(
    services: Services, endpoint: str, files: ParquetCaptureStore
) -> None:
    for b in range(3):
        _ingest(services, files, 20, f"b{b}-")
    names = _names(files)
    assert compact_store(files, CompactionPolicy(min_files=4, grace_seconds=0)) == 0
    assert compact_store(files, CompactionPolicy(min_files=2, small_bytes=100)) == 0
    assert _names(files) == names


def test_compaction_under_concurrent_ingest_and_reads(
    services: Services, endpoint: str, files: ParquetCaptureStore
) -> None:
    writers, batches, rows = 3, 8, 25
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[int] = []

    def guarded(work: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)
                stop.set()

        return run

    def write(who: int) -> None:
        for b in range(batches):
            _ingest(services, files, rows, f"w{who}-{b}-")

    def read() -> None:
        while not stop.is_set():
            table = files.read(CaptureKind.inference, "alpha", "income-api", days=[DAY])
            n = 0 if table is None else table.num_rows
            # Old files or the new one: never a batch twice, never one missing once seen.
            assert n % rows == 0 and (not seen or n >= seen[-1])
            if table is not None:
                assert pc.count_distinct(table.column("correlation_id")).as_py() == n
            seen.append(n)

    def compact() -> None:
        while not stop.is_set():
            compact_store(files, CompactionPolicy(min_files=2, grace_seconds=0.2))

    threads = [threading.Thread(target=guarded(lambda w=w: write(w))) for w in range(writers)]
    background = [threading.Thread(target=guarded(f)) for f in (read, compact)]
    for thread in threads + background:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    for thread in background:
        thread.join()
    assert not errors, errors
    expected = pa.table(
        {
            "correlation_id": [f"w{w}-{b}-{i}" for w in range(writers) for b in range(batches)
                               for i in range(rows)],
        }
    )  # fmt: skip
    final = _day(files)
    assert final.num_rows == writers * batches * rows
    assert sorted(final.column("correlation_id").to_pylist()) == sorted(
        expected.column("correlation_id").to_pylist()
    )
    before = _checksum(final)
    compact_store(files, NOW)
    assert _checksum(_day(files)) == before
    assert len(_names(files)) == 1 and len(set(seen)) > 2


def _interrupt_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compaction, "commit", _raise)


def _interrupt_in_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    # On an object store the commit is a copy then a delete: stop between the two.
    real = Objects.delete

    def delete(self: Objects, path: str) -> None:
        if "/.compacting-" in path:
            raise Interrupted
        real(self, path)

    monkeypatch.setattr(Objects, "delete", delete)


def _interrupt_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    real, calls = Objects.delete, []

    def delete(self: Objects, path: str) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise Interrupted
        real(self, path)

    monkeypatch.setattr(Objects, "delete", delete)


def _raise(*_: object) -> None:
    raise Interrupted


@pytest.mark.parametrize("step", [_interrupt_commit, _interrupt_in_commit, _interrupt_sweep])
def test_an_interrupted_pass_loses_and_doubles_nothing(
    services: Services,
    endpoint: str,
    files: ParquetCaptureStore,
    step: Callable[[pytest.MonkeyPatch], None],
) -> None:
    for b in range(6):
        _ingest(services, files, 30, f"b{b}-")
    before = _checksum(_day(files))
    with pytest.MonkeyPatch.context() as patch:
        step(patch)
        try:
            compact_store(files, NOW)
        except Interrupted:
            pass
    assert _checksum(_day(files)) == before  # whatever step it stopped at
    compact_store(files, NOW)
    compact_store(files, NOW)  # the repeat sweeps what the first left
    assert _checksum(_day(files)) == before
    (name,) = _names(files)
    assert name.startswith("compact-")


def test_a_pending_batch_whose_copy_was_compacted_is_not_published_again(
    services: Services, endpoint: str, files: ParquetCaptureStore
) -> None:
    for b in range(3):
        _ingest(services, files, 10, f"b{b}-")
    listing = files.listing(CaptureKind.inference, "alpha", "income-api", DAY)
    # A publish cut short after its copy (an object store) left the pending file beside it.
    part = listing.visible[0]
    pending = part.path.replace("/part-", "/.pending-")
    files.filesystem.copy_file(part.path, pending)
    before = _checksum(_day(files))
    compact_store(files, NOW)
    assert service.recover_pending(services.db, files=files, older_than=-60) == 1
    assert _checksum(_day(files)) == before
    assert len(_names(files)) == 1


def test_the_daemon_job_reads_its_policy_from_settings(
    services: Services, endpoint: str, settings: Settings
) -> None:
    files = service.capture_files(settings)
    for b in range(3):
        _ingest(services, files, 10, f"b{b}-")
    tuned = settings.model_copy(update={"compaction_min_files": 4})
    assert compaction.compact_due(services.db, tuned) == 0
    tuned = settings.model_copy(update={"compaction_min_files": 3, "compaction_grace_seconds": 0})
    assert compaction.compact_due(services.db, tuned) == 1
    assert len(_names(files)) == 1 and _day(files).num_rows == 30
