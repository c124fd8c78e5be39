"""An attacker who owns the database cannot shorten, rewrite or unseal the log unnoticed.

Every case runs on the real backend of the run (SQLite, or PostgreSQL as a superuser with
``session_replication_role = replica``, which skips the append-only triggers) against the
file witness that appends wrote outside the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Connection, text

from governance.audit.chain import GENESIS, entry_hash
from governance.audit.runtime import verify_configured, witnessed_notes
from governance.audit.schemas import VerifyResult
from governance.audit.service import record_audit, seal
from governance.audit.store import SqlAuditStore
from governance.audit.verify import SealPolicy
from governance.core.db import Database
from steward.api.deps import Services

SIZE = 200  # checkpoints every 64 (the test settings): witnessed at 64, 128, 192 and 200


def _write(db: Database, n: int, *, start: int = 0) -> None:
    for i in range(start, start + n):
        with db.transaction() as session:
            record_audit(session, actor=f"user:u{i % 5}", action="test.write", target=f"t:{i}")


@pytest.fixture
def logged(services: Services) -> Services:
    _write(services.db, SIZE)
    seal(services.db)
    return services


@contextmanager
def attacker(db: Database) -> Iterator[Connection]:
    """A connection that writes past the append-only guard, as the database's owner could."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            names = conn.execute(
                text(
                    "SELECT name FROM sqlite_master"
                    " WHERE type = 'trigger' AND tbl_name LIKE 'audit%'"
                )
            ).scalars()
            for name in list(names):
                conn.execute(text(f'DROP TRIGGER "{name}"'))
        else:
            conn.execute(text("SET session_replication_role = replica"))
        yield conn


def _verify(svc: Services) -> VerifyResult:
    return verify_configured(svc.db, svc.settings)


def test_an_untouched_log_is_clean_and_witnessed(logged: Services) -> None:
    result = _verify(logged)
    assert result.ok, result.findings
    assert result.entries == SIZE and result.sealed_through == SIZE
    assert result.witnessed_through == SIZE
    sizes = [int(n.split("\n")[1]) for n in witnessed_notes(logged.settings)]
    assert sizes == [64, 128, 192, 200]


def _delete_all_checkpoints(conn: Connection) -> None:
    conn.execute(text("DELETE FROM audit_checkpoints"))


def _tail_before_checkpoint(conn: Connection) -> None:
    conn.execute(text("DELETE FROM audit_entries WHERE seq > 100"))
    conn.execute(text("DELETE FROM audit_checkpoints WHERE tree_size > 100"))


def _tail_after_checkpoint(conn: Connection) -> None:
    conn.execute(text("DELETE FROM audit_entries WHERE seq > 130"))
    conn.execute(text("DELETE FROM audit_checkpoints WHERE tree_size > 130"))


def _truncate_both(conn: Connection) -> None:
    conn.execute(text("DELETE FROM audit_checkpoints"))
    conn.execute(text("DELETE FROM audit_entries"))


CASES: list[tuple[Callable[[Connection], None], set[str]]] = [
    (_delete_all_checkpoints, {"checkpoint_deleted", "unsealed"}),
    (_tail_before_checkpoint, {"truncated"}),
    (_tail_after_checkpoint, {"truncated"}),
    (_truncate_both, {"truncated"}),
]


@pytest.mark.parametrize(("tamper", "expected"), CASES, ids=[c[0].__name__ for c in CASES])
def test_every_tampering_is_reported_against_the_witness(
    logged: Services, tamper: Callable[[Connection], None], expected: set[str]
) -> None:
    with attacker(logged.db) as conn:
        tamper(conn)
    result = _verify(logged)
    assert not result.ok
    assert expected <= set(result.counts), result.counts


def test_a_rewritten_and_rechained_log_is_reported_rewritten(logged: Services) -> None:
    with logged.db.read() as session:
        records = list(SqlAuditStore(session).iter_records())
    prev, rewritten = GENESIS, []
    for record in records:
        if record.seq == 10:
            record = replace(record, actor="user:mallory")
        record = replace(record, prev_hash=prev)
        record = replace(record, hash=entry_hash(record))
        prev = record.hash
        rewritten.append(record)
    with attacker(logged.db) as conn:
        conn.execute(text("DELETE FROM audit_checkpoints"))  # the attacker cannot re-sign them
        for r in rewritten[9:]:  # new hashes are fresh values: no clash with the unique column
            conn.execute(
                text(
                    "UPDATE audit_entries SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"
                ),
                {"a": r.actor, "p": r.prev_hash, "h": r.hash, "s": r.seq},
            )
    result = _verify(logged)
    assert "rewritten" in result.counts, result.counts
    # The chain itself is consistent: only the witness can tell.
    assert not {"modified", "forged", "missing"} & set(result.counts)


def test_a_planted_frontier_is_not_trusted_by_the_next_checkpoint(logged: Services) -> None:
    with attacker(logged.db) as conn:
        conn.execute(
            text("UPDATE audit_checkpoints SET frontier = :f WHERE tree_size = 200"),
            {"f": '{"size": 200, "peaks": ["' + "00" * 32 + '"]}'},
        )
    _write(logged.db, 70, start=SIZE)  # crosses a checkpoint, which must be computed afresh
    seal(logged.db)
    result = _verify(logged)
    assert result.ok, result.findings
    assert result.sealed_through == SIZE + 70


def test_entries_left_unsealed_too_long_are_a_finding(services: Services) -> None:
    _write(services.db, 3)
    now = SealPolicy(max_entries=64, max_age=timedelta(minutes=60))
    from governance.audit.keys import key_ring
    from governance.audit.runtime import seal_policy
    from governance.audit.service import verify_audit

    ring = key_ring(services.settings.key_path, origin=services.settings.audit_origin)
    fresh = verify_audit(
        services.db,
        keys=ring,
        origin=services.settings.audit_origin,
        policy=seal_policy(services.settings),
    )
    assert fresh.ok, fresh.findings
    later = replace(now, now=seal_policy(services.settings).now + timedelta(hours=2))  # type: ignore[operator]
    stale = verify_audit(
        services.db, keys=ring, origin=services.settings.audit_origin, policy=later
    )
    assert set(stale.counts) == {"unsealed"}
