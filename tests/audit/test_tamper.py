"""Tampering of every kind is detected with the right category; clean logs never alarm."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from governance.audit.chain import GENESIS, CompactRange, EntryRecord, entry_hash, leaf_hash
from governance.audit.service import record_audit, seal
from governance.audit.signing import Checkpoint, Signer
from governance.audit.verify import FindingCategory, StoredCheckpoint, verify_log
from governance.core.db import Database
from tests.cli.runner import CliResult, run_steward

ORIGIN = "test/audit"
# Four checkpoints over a log short enough to verify a thousand times in a few seconds.
SIZE = 100
EVERY = 25
TAMPERINGS_PER_KIND = 150


def _log(signer: Signer, size: int = SIZE) -> tuple[list[EntryRecord], list[StoredCheckpoint]]:
    entries: list[EntryRecord] = []
    checkpoints: list[StoredCheckpoint] = []
    tree = CompactRange()
    prev = GENESIS
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for seq in range(1, size + 1):
        e = EntryRecord(
            seq=seq,
            ts=start + timedelta(seconds=seq),
            actor=f"user:u{seq % 7}",
            project="alpha" if seq % 3 else None,
            action=random.Random(seq).choice(["model.write", "role.grant", "auth.fail"]),
            target=f"model:m{seq % 11}",
            decision="deny" if seq % 13 == 0 else "allow",
            request_id=f"r{seq}",
            client="10.0.0.1",
            details={"n": seq, "nested": {"k": [seq, "v"]}},
            prev_hash=prev,
        )
        e = replace(e, hash=entry_hash(e))
        entries.append(e)
        prev = e.hash
        tree.append(leaf_hash(e.hash))
        if seq % EVERY == 0 or seq == size:
            note = signer.sign(Checkpoint(origin=ORIGIN, size=seq, root=tree.root()))
            checkpoints.append(StoredCheckpoint(tree_size=seq, note=note))
    return entries, checkpoints


def _rehash(e: EntryRecord) -> EntryRecord:
    return replace(e, hash=entry_hash(e))


def _edit(rng: random.Random, entries: list[EntryRecord], cps: list[StoredCheckpoint]):  # type: ignore[no-untyped-def]
    i = rng.randrange(len(entries))
    field = rng.choice(["actor", "action", "target", "decision", "details", "ts", "project"])
    e = entries[i]
    value = {
        "actor": "user:mallory",
        "action": "model.delete",
        "target": "model:other",
        "decision": "allow" if e.decision == "deny" else "deny",
        "details": {"n": -1},
        "ts": e.ts + timedelta(microseconds=1),
        "project": "beta",
    }[field]
    entries[i] = replace(e, **{field: value})
    return entries, cps, FindingCategory.modified, {e.seq}


def _delete(rng: random.Random, entries: list[EntryRecord], cps: list[StoredCheckpoint]):  # type: ignore[no-untyped-def]
    i = rng.randrange(len(entries) - 1)
    seq = entries[i].seq
    del entries[i]
    return entries, cps, FindingCategory.missing, {seq}


def _swap(rng: random.Random, entries: list[EntryRecord], cps: list[StoredCheckpoint]):  # type: ignore[no-untyped-def]
    i, j = sorted(rng.sample(range(len(entries)), 2))
    a, b = entries[i], entries[j]
    entries[i], entries[j] = replace(b, seq=a.seq), replace(a, seq=b.seq)
    # The moved entry is named where its content proves it belongs elsewhere: the first of the
    # pair, or the second when the two were neighbours (the first then fits neither slot).
    return entries, cps, FindingCategory.reordered, {a.seq} if j > i + 1 else {a.seq, b.seq}


def _forge(rng: random.Random, entries: list[EntryRecord], cps: list[StoredCheckpoint]):  # type: ignore[no-untyped-def]
    # Replace an entry by a fabricated one with a correct hash over its own content.
    i = rng.randrange(len(entries) - 1)
    forged = _rehash(replace(entries[i], actor="user:mallory", details={"forged": True}))
    entries[i] = forged
    return entries, cps, FindingCategory.forged, {forged.seq, forged.seq + 1}


def _rewrite(rng: random.Random, entries: list[EntryRecord], cps: list[StoredCheckpoint]):  # type: ignore[no-untyped-def]
    # A full history rewrite from entry i on, every hash and link recomputed: only the signed
    # checkpoints can tell.
    i = rng.randrange(len(entries))
    prev = entries[i - 1].hash if i else GENESIS
    for k in range(i, len(entries)):
        e = replace(entries[k], prev_hash=prev)
        if k == i:
            e = replace(e, target="model:rewritten")
        entries[k] = _rehash(e)
        prev = entries[k].hash
    first = (entries[i].seq - 1) // EVERY * EVERY + 1
    return entries, cps, FindingCategory.forged, {first}


def _truncate(rng: random.Random, entries: list[EntryRecord], cps: list[StoredCheckpoint]):  # type: ignore[no-untyped-def]
    keep = rng.randrange(1, len(entries))
    return entries[:keep], cps, FindingCategory.truncated, {keep + 1}


def _checkpoint(rng: random.Random, entries: list[EntryRecord], cps: list[StoredCheckpoint]):  # type: ignore[no-untyped-def]
    k = rng.randrange(len(cps))
    cp = cps[k]
    lines = cp.note.split("\n")
    how = rng.choice(["size", "root", "signature", "origin", "row"])
    if how == "size":
        lines[1] = str(int(lines[1]) + rng.choice([-1, 1, 7]))
    elif how == "root":
        lines[2] = ("A" if lines[2][0] != "A" else "B") + lines[2][1:]
    elif how == "signature":
        sig = lines[-2]
        lines[-2] = sig[:-6] + ("AAAA" if sig[-6:-2] != "AAAA" else "BBBB") + sig[-2:]
    elif how == "origin":
        lines[0] = "evil.example/audit"
    note = "\n".join(lines)
    size = cp.tree_size + 1 if how == "row" else cp.tree_size
    cps = [*cps[:k], StoredCheckpoint(tree_size=size, note=cp.note if how == "row" else note),
           *cps[k + 1 :]]  # fmt: skip
    return entries, cps, FindingCategory.bad_signature, {cp.tree_size, size}


TAMPERINGS = [_edit, _delete, _swap, _forge, _rewrite, _truncate, _checkpoint]


@pytest.fixture(scope="module")
def signed_log(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    signer = Signer.load_or_create(tmp_path_factory.mktemp("k") / "key.pem", origin=ORIGIN)
    return signer, *_log(signer)


def test_untampered_logs_never_raise_a_finding(signed_log) -> None:  # type: ignore[no-untyped-def]
    signer, entries, cps = signed_log
    for size in (0, 1, 2, EVERY - 1, EVERY, EVERY + 1, SIZE):
        sub_entries = entries[:size]
        sub_cps = [c for c in cps if c.tree_size <= size]
        report = verify_log(sub_entries, sub_cps, signer.public_key, origin=ORIGIN)
        assert report.ok, (size, report.to_dict())
    report = verify_log(entries, cps, signer.public_key, origin=ORIGIN)
    assert report.ok and report.sealed_through == SIZE


@pytest.mark.slow
def test_a_thousand_tamperings_are_all_detected(signed_log) -> None:  # type: ignore[no-untyped-def]
    signer, entries, cps = signed_log
    rng = random.Random(2026)
    firsts: dict[str, set[int]] = {t.__name__: set() for t in TAMPERINGS}
    for n in range(TAMPERINGS_PER_KIND * len(TAMPERINGS)):
        tamper = TAMPERINGS[n % len(TAMPERINGS)]
        t_entries, t_cps, category, seqs = tamper(rng, list(entries), list(cps))
        report = verify_log(t_entries, t_cps, signer.public_key, origin=ORIGIN)
        assert not report.ok, f"{tamper.__name__} #{n} went unnoticed"
        assert category in report.counts, (tamper.__name__, report.to_dict())
        first = report.first_bad_seq
        assert any(f.category == category and f.seq in seqs for f in report.findings), (
            tamper.__name__,
            seqs,
            report.to_dict(),
        )
        assert first is not None and first <= max(seqs)
        firsts[tamper.__name__].add(first)
    # The random tamperings reached every checkpoint interval of the log, for every kind.
    intervals = set(range(SIZE // EVERY))
    for kind, seen in firsts.items():
        assert {(seq - 1) // EVERY for seq in seen} >= intervals, (kind, sorted(seen))


def test_a_checkpoint_from_another_key_is_a_bad_signature(signed_log, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    signer, entries, cps = signed_log
    other = Signer.load_or_create(tmp_path / "other.pem", origin=ORIGIN)
    tree = CompactRange()
    for e in entries:
        tree.append(leaf_hash(e.hash))
    forged = StoredCheckpoint(
        tree_size=SIZE + 50,
        note=other.sign(Checkpoint(origin=ORIGIN, size=SIZE + 50, root=tree.root())),
    )
    report = verify_log(entries, [*cps, forged], signer.public_key, origin=ORIGIN)
    assert report.counts == {"bad_signature": 1}


def test_the_database_refuses_update_and_delete(db: Database) -> None:
    with db.transaction() as session:
        record_audit(session, actor="user:a", action="test.write")
    seal(db)
    for statement in (
        "UPDATE audit_entries SET actor = 'user:mallory'",
        "DELETE FROM audit_entries",
        "UPDATE audit_checkpoints SET note = 'x'",
        "DELETE FROM audit_checkpoints",
    ):
        with pytest.raises(DBAPIError), db.engine.begin() as conn:
            conn.execute(text(statement))


def test_cli_verify_reports_tampering_and_exits_nonzero(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env: dict[str, str | None] = {"STEWARD_HOME": str(home), "STEWARD_DATABASE_URL": None}

    def steward(*args: str) -> CliResult:
        return run_steward(*args, env=env)

    for args in (("init",), ("project", "create", "p1")):
        assert steward(*args).returncode == 0, args
    clean = steward("audit", "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    export = tmp_path / "log.jsonl"
    assert steward("audit", "seal").returncode == 0
    assert steward("audit", "export", "-o", str(export)).returncode == 0
    key = tmp_path / "key.txt"
    public = steward("audit", "public-key")
    assert public.returncode == 0, public.stderr
    key.write_text(public.stdout.splitlines()[0])
    offline = steward("audit", "verify", "--file", str(export), "--key", str(key))
    assert offline.returncode == 0, offline.stdout + offline.stderr
    db = Database(f"sqlite:///{home / 'steward.db'}")
    with db.engine.begin() as conn:  # an attacker with file access drops the guard first
        conn.execute(text("DROP TRIGGER audit_entries_no_update"))
        conn.execute(text("UPDATE audit_entries SET actor = 'user:mallory' WHERE seq = 3"))
    db.dispose()
    bad = steward("audit", "verify")
    assert bad.returncode == 1
    assert "TAMPERED" in bad.stdout and "first bad sequence number: 3" in bad.stdout
    assert "modified" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr
