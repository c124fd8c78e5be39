"""Policy files reload without a restart, safely while other threads are deciding."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from governance.access.enforcer import PolicyEngine, check_policy_files
from governance.core.settings import Settings
from steward.api.app import build_services, create_app
from tests.builders import World

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def _touch_later(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()  # make sure the mtime moves even on coarse file systems
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_reload_under_concurrent_checks(tmp_path: Path) -> None:
    policy_dir = _copy(tmp_path)
    engine = PolicyEngine(policy_dir, reload_seconds=0)
    engine.load_bindings([("vera", "viewer", "p1"), ("olga", "owner", "p1")], epoch=1)
    assert not engine.enforce("vera", "p1", "model", "write")
    errors: list[BaseException] = []
    stop = threading.Event()
    seen: set[bool] = set()

    def check() -> None:
        while not stop.is_set():
            try:
                assert engine.enforce("olga", "p1", "model", "write")
                seen.add(engine.enforce("vera", "p1", "model", "write"))
            except BaseException as exc:  # collected and re-raised in the main thread
                errors.append(exc)
                return

    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    policy = policy_dir / "policy.csv"
    _touch_later(policy, policy.read_text() + "p, model, write, viewer\n")
    assert engine.maybe_reload_files()
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    assert engine.enforce("vera", "p1", "model", "write"), "new policy line not in effect"
    assert True in seen


def test_a_broken_file_keeps_the_last_good_policy(tmp_path: Path) -> None:
    policy_dir = _copy(tmp_path)
    engine = PolicyEngine(policy_dir, reload_seconds=0)
    engine.load_bindings([("olga", "owner", "p1")], epoch=1)
    _touch_later(policy_dir / "model.conf", "[request_definition]\nr = broken\n")
    assert not engine.maybe_reload_files()
    assert engine.enforce("olga", "p1", "model", "write")
    errors, _ = check_policy_files(policy_dir)
    assert errors, "policy check must flag the broken model"


def test_check_flags_unknown_roles_and_ungranted_routes(tmp_path: Path) -> None:
    policy_dir = _copy(tmp_path)
    policy = policy_dir / "policy.csv"
    policy.write_text(policy.read_text() + "p, model, read, superuser\n")
    errors, warnings = check_policy_files(policy_dir, declared={("model", "read"), ("x", "y")})
    assert any("superuser" in e for e in errors)
    assert any("(x, y)" in e for e in errors)
    assert warnings
    clean_errors, _ = check_policy_files(POLICIES, declared={("model", "read")})
    assert clean_errors == []


@pytest.fixture
def edited_client(settings: Settings, world: World, tmp_path: Path) -> Iterator[TestClient]:
    """A client on an app whose policy files are a private copy the test may edit."""
    configured = Settings(**settings.model_dump(exclude={"policy_dir"}), policy_dir=_copy(tmp_path))
    svc = build_services(configured)
    with TestClient(create_app(services=svc, seal_in_background=False)) as client:
        yield client
    svc.db.dispose()


def test_an_edit_of_policy_csv_takes_effect_on_the_next_request(
    edited_client: TestClient, world: World, tmp_path: Path
) -> None:
    policy = tmp_path / "policies" / "policy.csv"
    original = policy.read_text()
    viewer, roles = world.headers("viewer"), "/api/v1/projects/alpha/roles"
    assert edited_client.get(roles, headers=viewer).status_code == 403
    policy.write_text(original + "p, member, read, viewer\n")  # no grant, no restart
    r = edited_client.get(roles, headers=viewer)
    assert r.status_code == 200, r.text
    assert {"principal": "viewer-user", "role": "viewer"}.items() <= next(
        b for b in r.json() if b["principal"] == "viewer-user"
    ).items()
    policy.write_text(original)
    assert edited_client.get(roles, headers=viewer).status_code == 403


def test_a_broken_edit_over_http_keeps_the_last_good_policy(
    edited_client: TestClient, world: World, tmp_path: Path
) -> None:
    policy_dir = tmp_path / "policies"
    viewer, roles = world.headers("viewer"), "/api/v1/projects/alpha/roles"
    (policy_dir / "policy.csv").write_text(
        (policy_dir / "policy.csv").read_text() + "p, member, read, viewer\n"
    )
    assert edited_client.get(roles, headers=viewer).status_code == 200
    (policy_dir / "model.conf").write_text("[request_definition]\nr = broken\n")
    for _ in range(2):  # refused once, and not retried into a different answer
        assert edited_client.get(roles, headers=viewer).status_code == 200
        assert edited_client.get("/api/v1/me", headers=world.headers("admin")).status_code == 200
    shutil.copy(POLICIES / "model.conf", policy_dir / "model.conf")
    (policy_dir / "policy.csv").write_text((POLICIES / "policy.csv").read_text())
    assert edited_client.get(roles, headers=viewer).status_code == 403
