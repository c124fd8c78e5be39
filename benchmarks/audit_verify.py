"""Audit verification at scale: time and memory of ``verify_audit`` at 10k, 100k and 1M entries.

    .venv/bin/python benchmarks/audit_verify.py [--sizes 10000,100000,1000000]

For each size a SQLite log is written (real schema, real hashes, a signed checkpoint every 256
entries, witnessed), then verified in a fresh process, which reports its wall time and peak
resident memory. The same process first times the baseline: streaming the same rows with a bare
SQL query and hashing each entry's canonical bytes, which is the least any verification must do.
Target: memory does not grow with the log's length (the log is streamed). Prints a table; the
logs are written to a temporary folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text

from governance.audit.chain import GENESIS, CompactRange, EntryRecord, entry_hash, leaf_hash
from governance.audit.models import AuditCheckpointRow, AuditEntryRow
from governance.audit.signing import Signer
from governance.audit.witness import FileWitness
from governance.core.db import Database
from steward.migrations import upgrade

ORIGIN = "bench.local/audit"
EVERY = 256
CHUNK = 20_000


def build(directory: Path, size: int) -> tuple[str, Path]:
    """Write a signed, witnessed log of ``size`` entries; returns its URL and key path."""
    url = f"sqlite:///{directory / 'steward.db'}"
    db = Database(url)
    upgrade(db)
    signer = Signer.load_or_create(directory / "key.pem", origin=ORIGIN)
    witness = FileWitness(directory / "witness")
    tree, prev, start = CompactRange(), GENESIS, datetime(2026, 1, 1, tzinfo=UTC)
    rows: list[dict[str, object]] = []
    checkpoints: list[dict[str, object]] = []
    with db.engine.begin() as conn:
        for seq in range(1, size + 1):
            record = EntryRecord(
                seq=seq, ts=start + timedelta(milliseconds=seq), actor=f"user:u{seq % 50}",
                project=f"p{seq % 20}", action="model.write", target=f"model:m{seq % 300}",
                decision="allow", request_id=f"r{seq}", client="10.0.0.1",
                details={"version": seq % 97, "note": "benchmark entry"}, prev_hash=prev,
            )  # fmt: skip
            record = replace(record, hash=entry_hash(record))
            prev = record.hash
            rows.append(record.to_dict() | {"ts": record.ts})
            tree.append(leaf_hash(record.hash))
            if seq % EVERY == 0 or seq == size:
                note = signer.sign_checkpoint(size=seq, root=tree.root())
                checkpoints.append({"tree_size": seq, "created_at": record.ts,
                                    "root_hash": tree.root().hex(), "note": note,
                                    "frontier": tree.to_json()})  # fmt: skip
                witness.publish(note)
            if len(rows) >= CHUNK or seq == size:
                conn.execute(insert(AuditEntryRow), rows)
                rows = []
        conn.execute(insert(AuditCheckpointRow), checkpoints)
    db.dispose()
    return url, directory / "key.pem"


def baseline(url: str) -> float:
    """Seconds to stream every row with a bare query and hash its canonical JSON."""
    db = Database(url)
    started = time.perf_counter()
    with db.engine.connect() as conn:
        result = conn.execution_options(yield_per=CHUNK).execute(
            text("SELECT * FROM audit_entries ORDER BY seq")
        )
        for row in result.mappings():
            hashlib.sha256(json.dumps(dict(row), sort_keys=True, default=str).encode()).digest()
    db.dispose()
    return time.perf_counter() - started


def child(url: str, key: str, witness: str) -> None:
    """Verify in this fresh process; print seconds, peak RSS and the result as JSON."""
    from governance.audit.service import verify_audit
    from governance.audit.verify import SealPolicy

    db = Database(url)
    signer = Signer.load_or_create(Path(key), origin=ORIGIN)
    notes = FileWitness(Path(witness)).notes()
    started = time.perf_counter()
    result = verify_audit(db, keys=signer, witnessed=notes, policy=SealPolicy(max_entries=EVERY))
    seconds = time.perf_counter() - started
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mib": rss_mib, "ok": result.ok,
                      "entries": result.entries,
                      "witnessed": result.witnessed_through}))  # fmt: skip


def idle_rss() -> float:
    """Peak RSS of a process that imports the same modules and verifies nothing (MiB)."""
    root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import resource, sys; sys.path.insert(0, {root!r});"
        "import governance.audit.service, governance.core.db;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"idle process (imports only): {idle_rss():.0f} MiB peak RSS")
    header = (f"{'entries':>9} {'build s':>8} {'bare scan+hash s':>17} {'verify s':>9} "
              f"{'ratio':>6} {'peak RSS MiB':>13} {'ok':>4}")  # fmt: skip
    print(header)
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as tmp:
        for size in sizes:
            directory = Path(tmp) / str(size)
            directory.mkdir()
            started = time.perf_counter()
            url, key = build(directory, size)
            built = time.perf_counter() - started
            baseline(url)  # warm the page cache (first touch is slow here)
            bare = baseline(url)
            out = subprocess.run(
                [sys.executable, __file__, "--child", url, str(key), str(directory / "witness")],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            r = json.loads(out.stdout)
            ok = r["ok"] and r["entries"] == size and r["witnessed"] == size
            ratio = r["seconds"] / bare
            print(f"{size:>9,} {built:>8.1f} {bare:>17.2f} {r['seconds']:>9.2f} "
                  f"{ratio:>6.2f} {r['rss_mib']:>13.0f} {'yes' if ok else 'NO':>4}")  # fmt: skip


if __name__ == "__main__":
    main()
