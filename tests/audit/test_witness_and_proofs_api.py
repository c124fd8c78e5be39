"""Proofs served over HTTP and checked offline; the sealer's shutdown seal; HTTP witnesses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient

from governance.audit.service import list_checkpoints, record_audit, seal
from governance.audit.signing import open_note
from governance.core.settings import Settings
from steward.api.app import build_services, create_app
from steward.api.deps import Services
from tests.builders import World
from tests.cli.runner import run_steward
from tests.conftest import make_settings


def _write(services: Services, n: int) -> None:
    for i in range(n):
        with services.db.transaction() as session:
            record_audit(session, actor="user:a", action="test.write", target=f"t:{i}")


def _cli_env(services: Services) -> dict[str, str | None]:
    return {"STEWARD_HOME": str(services.settings.home), "STEWARD_DATABASE_URL": None}


def test_an_inclusion_proof_checks_offline(
    client: TestClient, world: World, services: Services, tmp_path: Path
) -> None:
    _write(services, 5)
    seal(services.db)
    r = client.get("/api/v1/audit/proof", params={"seq": 3}, headers=world.headers("admin"))
    assert r.status_code == 200, r.text
    bundle = tmp_path / "proof.json"
    bundle.write_text(r.text)
    ok = run_steward("audit", "verify", "--entry", str(bundle), env=_cli_env(services))
    assert ok.returncode == 0 and "is included" in ok.stdout, ok.stdout + ok.stderr
    forged = r.json()
    forged["entry"]["actor"] = "user:mallory"
    bundle.write_text(json.dumps(forged))
    bad = run_steward("audit", "verify", "--entry", str(bundle), env=_cli_env(services))
    assert bad.returncode == 2 and "does not match its hash" in bad.stderr
    # A different (authentic) entry cannot borrow another's proof.
    other = client.get("/api/v1/audit/proof", params={"seq": 4}, headers=world.headers("admin"))
    swapped = {**r.json(), "entry": other.json()["entry"]}
    bundle.write_text(json.dumps(swapped))
    bad = run_steward("audit", "verify", "--entry", str(bundle), env=_cli_env(services))
    assert bad.returncode == 2


def test_proof_requests_outside_the_sealed_log_are_clear_errors(
    client: TestClient, world: World, services: Services
) -> None:
    seal(services.db)
    sealed = list_checkpoints(services.db)[-1].tree_size
    _write(services, 2)
    admin = world.headers("admin")
    r = client.get("/api/v1/audit/proof", params={"seq": sealed + 1}, headers=admin)
    assert r.status_code == 409 and "not sealed yet" in r.json()["detail"]
    assert client.get("/api/v1/audit/proof", params={"seq": 0}, headers=admin).status_code == 422
    r = client.get("/api/v1/audit/consistency", params={"first": sealed + 5}, headers=admin)
    assert r.status_code == 409
    viewer = client.get("/api/v1/audit/proof", params={"seq": 1}, headers=world.headers("viewer"))
    assert viewer.status_code in (403, 404)


def test_a_consistency_proof_checks_offline_against_a_kept_checkpoint(
    client: TestClient, world: World, services: Services, tmp_path: Path
) -> None:
    seal(services.db)
    kept = list_checkpoints(services.db)[-1]
    _write(services, 70)
    seal(services.db)
    admin = world.headers("admin")
    r = client.get("/api/v1/audit/consistency", params={"first": kept.tree_size}, headers=admin)
    assert r.status_code == 200, r.text
    note, bundle = tmp_path / "kept.note", tmp_path / "consistency.json"
    note.write_text(kept.note)
    bundle.write_text(r.text)
    args = ("audit", "verify", "--consistency", str(bundle), "--trusted-checkpoint", str(note))
    ok = run_steward(*args, env=_cli_env(services))
    assert ok.returncode == 0 and "extends" in ok.stdout, ok.stdout + ok.stderr
    tampered = r.json()
    tampered["proof"][0] = "00" * 32
    bundle.write_text(json.dumps(tampered))
    bad = run_steward(*args, env=_cli_env(services))
    assert bad.returncode == 2 and "rewritten" in bad.stderr


class _Witness(BaseHTTPRequestHandler):
    notes: ClassVar[list[str]] = []
    fail = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        if type(self).fail:
            self.send_response(503)
        else:
            type(self).notes.append(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def witness_server() -> Iterator[tuple[str, type[_Witness]]]:
    handler = type("Witness", (_Witness,), {"notes": [], "fail": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/witness", handler
    server.shutdown()
    server.server_close()


def _settings(tmp_path: Path, db_url: str, url: str) -> Settings:
    return make_settings(
        tmp_path / "home",
        db_url,
        audit_witness_urls=[url],
        webhook_allowlist=["127.0.0.1"],
        checkpoint_interval_seconds=3600,
    )


def test_shutdown_seals_and_http_witnesses_catch_up_after_failing(
    tmp_path: Path, db_url: str, witness_server: tuple[str, type[_Witness]]
) -> None:
    url, handler = witness_server
    services = build_services(_settings(tmp_path, db_url, url))
    handler.fail = True
    with TestClient(create_app(services=services)) as client:
        # Before any entry: the sealer's first seal (whenever its thread runs) has nothing to send.
        assert client.get("/api/v1/health").json()["audit"] == "ok"
        _write(services, 3)
    # The shutdown sealed the 3 entries; the witness refused, which is counted and reported.
    assert list_checkpoints(services.db)[-1].tree_size == 3
    assert handler.notes == []
    (status,) = [w for w in services.witnesses.status() if w.name.startswith("http:")]
    assert status.failures >= 1 and "503" in (status.last_error or "")
    with TestClient(create_app(services=services)) as client:
        health = client.get("/api/v1/health").json()  # the start-up seal told the witness again
        assert health["audit"] == "failing" and health["status"] == "degraded"
        assert "503" not in str(health)
    handler.fail = False
    with TestClient(create_app(services=services)):
        _write(services, 2)
    sizes = [open_note(n, services.signer.public_key).size for n in handler.notes]
    assert sizes and sizes[-1] == 5, sizes
    services.db.dispose()
