"""Large audit details are stored once, referenced by digest, and as tamper-evident as entries."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from governance.audit.chain import INLINE_DETAILS_BYTES
from governance.audit.export import export_audit, verify_export
from governance.audit.runtime import verify_configured
from governance.audit.service import record_audit, seal
from steward.api.deps import Services
from tests.audit.test_anchoring import attacker
from tests.builders import World

BIG = {"spec": {"features": [f"feature_{i}" for i in range(600)]}, "revision": 3}


def _append(services: Services, details: dict[str, object]) -> dict[str, object]:
    with services.db.transaction() as session:
        entry = record_audit(session, actor="user:a", action="monitor.apply", details=details)
    return entry.details


def test_large_details_are_stored_once_and_served_by_digest(
    client: TestClient, world: World, services: Services
) -> None:
    first, second = _append(services, BIG), _append(services, BIG)
    small = _append(services, {"revision": 1})
    assert first == second and set(first) == {"$digest", "bytes"}
    assert int(str(first["bytes"])) > INLINE_DETAILS_BYTES and small == {"revision": 1}
    with services.db.read() as session:
        assert session.execute(text("SELECT count(*) FROM audit_blobs")).scalar() == 1
    digest = str(first["$digest"])
    r = client.get(f"/api/v1/audit/blobs/{digest}", headers=world.headers("admin"))
    assert r.status_code == 200 and r.json() == BIG
    missing = client.get(f"/api/v1/audit/blobs/sha256:{'0' * 64}", headers=world.headers("admin"))
    assert missing.status_code == 404
    bad = client.get("/api/v1/audit/blobs/..%2F..%2Fetc", headers=world.headers("admin"))
    assert bad.status_code in (404, 422)
    seal(services.db)
    assert verify_configured(services.db, services.settings).ok
    lines = list(export_audit(services.db, fmt="jsonl"))
    offline = verify_export(
        lambda: lines, keys=services.signer.public_key, origin=services.signer.origin
    )
    assert offline.ok, offline.findings
    without_blobs = [line for line in lines if '"kind": "blob"' not in line]
    cut = verify_export(
        lambda: without_blobs, keys=services.signer.public_key, origin=services.signer.origin
    )
    assert cut.counts == {"modified": 2}


def test_an_altered_blob_is_found_and_the_table_is_append_only(services: Services) -> None:
    details = _append(services, BIG)
    seal(services.db)
    for statement in ("UPDATE audit_blobs SET body = '{}'", "DELETE FROM audit_blobs"):
        with pytest.raises(DBAPIError), services.db.engine.begin() as conn:
            conn.execute(text(statement))
    with attacker(services.db) as conn:
        conn.execute(text("UPDATE audit_blobs SET body = :b"), {"b": '{"revision":4}'})
    result = verify_configured(services.db, services.settings)
    assert result.counts == {"modified": 1}, result.counts
    assert "digest" in result.findings[0].detail and details["$digest"]
