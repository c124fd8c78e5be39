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
    report = verify_audit(db, signer=signer).model_dump()
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


@pytest.mark.timeout(900)
def test_writers_killed_at_random_moments(db_url: str, tmp_path: Path) -> None:
    rounds = 10 if PG_URL else 50
    key = tmp_path / "key.pem"
    Signer.load_or_create(key, origin=ORIGIN)
    rng = random.Random(7)
    acknowledged: dict[int, str] = {}
    for _ in range(rounds):
        w = _writer(db_url, key, 100_000)
        assert w.stdout is not None
        first = w.stdout.readline()  # the writer is up and appending
        assert first, w.stderr.read() if w.stderr else ""
        time.sleep(rng.uniform(0.0, 0.15))
        w.send_signal(signal.SIGKILL)
        rest, _ = w.communicate(timeout=60)
        for line in [first, *rest.splitlines()]:
            if line.strip() and len(line.split()) == 2:
                seq, digest = line.split()
                acknowledged[int(seq)] = digest
    rows, report = _stored(db_url, key)
    missing = {s for s in acknowledged if rows.get(s) != acknowledged[s]}
    assert not missing, f"acknowledged entries lost or changed: {sorted(missing)[:10]}"
    assert sorted(rows) == list(range(1, len(rows) + 1))
    assert report["ok"], report
