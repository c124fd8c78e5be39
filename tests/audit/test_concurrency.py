"""Concurrent appenders and writers killed mid-flight: nothing acknowledged is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from governance.audit.service import configure_audit, verify_audit
from governance.audit.signing import Signer
from governance.core.db import Database
from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "test/audit"
pytestmark = pytest.mark.slow


def _writer(url: str, key: Path, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.audit.writer", url, str(key), str(count)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _stored(url: str, key: Path) -> tuple[dict[int, str], dict]:  # type: ignore[type-arg]
    db = Database(url)
    signer = Signer.load_or_create(key, origin=ORIGIN)
    configure_audit(db, signer=signer, checkpoint_every=16)
    from governance.audit.store import SqlAuditStore

    with db.read() as session:
        rows = {r.seq: r.hash for r in SqlAuditStore(session).iter_records()}
    report = verify_audit(db, keys=signer).model_dump()
    db.dispose()
    return rows, report


@pytest.mark.timeout(900)
def test_concurrent_appenders_lose_nothing(db_url: str, tmp_path: Path) -> None:
    procs, per = (8, 500) if PG_URL else (4, 250)
    key = tmp_path / "key.pem"
    Signer.load_or_create(key, origin=ORIGIN)
    writers = [_writer(db_url, key, per) for _ in range(procs)]
    acknowledged: dict[int, str] = {}
    for w in writers:
        out, err = w.communicate(timeout=850)
        assert w.returncode == 0, err
        for line in out.splitlines():
            seq, digest = line.split()
            assert int(seq) not in acknowledged, "two writers got the same sequence number"
            acknowledged[int(seq)] = digest
    rows, report = _stored(db_url, key)
    assert len(acknowledged) == procs * per
    assert rows == acknowledged
    assert sorted(rows) == list(range(1, procs * per + 1)), "sequence has gaps"
    assert report["ok"], report
    assert report["checkpoints"] >= procs * per // 16 - 1


def _acknowledged(lines: list[str]) -> dict[int, str]:
    pairs = (line.split() for line in lines)
    return {int(p[0]): p[1] for p in pairs if len(p) == 2}


def _zygote(url: str, key: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.audit.zygote", url, str(key)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _fork(zygote: subprocess.Popen[str], acks: Path) -> int:
    assert zygote.stdin is not None and zygote.stdout is not None
    zygote.stdin.write(f"{acks}\n")
    zygote.stdin.flush()
    return int(zygote.stdout.readline())


def _wait_for_an_ack(acks: Path) -> None:
    deadline = time.monotonic() + 60
    while not (acks.exists() and acks.read_text()):
        assert time.monotonic() < deadline, f"no writer acknowledged into {acks}"
        time.sleep(0.005)


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, f"writer {pid} survived SIGKILL"
        time.sleep(0.005)


@pytest.mark.timeout(900)
def test_writers_killed_at_random_moments(db_url: str, tmp_path: Path) -> None:
    # Two writers at a time, each SIGKILLed at its own random moment while both append: 50
    # kills on SQLite, 20 on PostgreSQL, every one after its writer acknowledged an entry.
    rounds, pair = (10 if PG_URL else 25), 2
    key = tmp_path / "key.pem"
    Signer.load_or_create(key, origin=ORIGIN)
    rng = random.Random(7)
    acknowledged: dict[int, str] = {}
    zygote = _zygote(db_url, key)
    try:
        for r in range(rounds):
            acks = [tmp_path / f"acks-{r}-{n}.txt" for n in range(pair)]
            pids = [_fork(zygote, path) for path in acks]
            for path in acks:
                _wait_for_an_ack(path)
            for pid in pids:
                time.sleep(rng.uniform(0.0, 0.1))
                os.kill(pid, signal.SIGKILL)
            for pid in pids:
                _wait_gone(pid)
            for path in acks:
                acknowledged.update(_acknowledged(path.read_text().splitlines()))
    finally:
        zygote.kill()
        zygote.wait(timeout=60)
    rows, report = _stored(db_url, key)
    assert len(acknowledged) >= rounds * pair
    missing = {s for s in acknowledged if rows.get(s) != acknowledged[s]}
    found = {s: (acknowledged[s], rows.get(s)) for s in sorted(missing)[:10]}
    assert not missing, f"acknowledged entries lost or changed (acked, stored): {found}"
    assert sorted(rows) == list(range(1, len(rows) + 1))
    assert report["ok"], report
