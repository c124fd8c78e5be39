"""Steward's files are 0600 and its folders 0700; writes are whole or absent; crashes are swept.

The helpers of ``governance.core.files`` on their own, then what a real ingest and upload through
the HTTP app and a real ``steward init`` leave on disk (every mode stat-ed), then the start-up
sweep removing what a writer killed mid-way (a real SIGKILL) left, but never a live writer's file.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from governance.core.files import (
    PrivateTemp,
    private_dir,
    private_temp,
    remove_leftovers,
    write_private_atomic,
)
from governance.core.settings import Settings
from monitors.capture.schemas import CaptureKind
from monitors.capture.service import capture_files
from monitors.scheduler.main import build_daemon
from steward.api.app import build_services
from steward.api.deps import Services
from tests.builders import World
from tests.cli.runner import run_steward
from tests.conftest import PG_URL
from tests.monitors.capture.conftest import deploy_endpoint, json_body, records


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _modes(root: Path) -> dict[str, int]:
    """Mode of ``root`` and of everything below it, by relative path."""
    found = {".": _mode(root)}
    found |= {str(p.relative_to(root)): _mode(p) for p in root.rglob("*")}
    return found


def _wrong(modes: dict[str, int], root: Path) -> dict[str, str]:
    return {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (root / name).is_dir() else 0o600)
    }


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


# 1. The helpers


def test_private_dir_makes_every_missing_level_0700_whatever_the_umask(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    with _umask(0o277):  # would take the owner's write and search bits away
        private_dir(existing / "a" / "b")
    assert (_mode(existing), _mode(existing / "a"), _mode(existing / "a" / "b")) == (
        0o755,  # an existing folder is the operator's business
        0o700,
        0o700,
    )
    with pytest.raises(FileExistsError):
        private_dir(_write(tmp_path / "file", b"x"))


def _write(path: Path, data: bytes) -> Path:
    return write_private_atomic(path, data)


def test_write_private_atomic_writes_0600_and_replaces_whole(tmp_path: Path) -> None:
    with _umask(0o000):
        target = _write(tmp_path / "deep" / "x.bin", b"first")
    assert target.read_bytes() == b"first" and _mode(target) == 0o600
    assert _mode(target.parent) == 0o700
    _write(target, b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["x.bin"]


def test_a_failing_write_leaves_the_target_untouched_and_no_temporary_file(
    tmp_path: Path,
) -> None:
    target = _write(tmp_path / "x.bin", b"kept")

    def half(handle: object) -> None:
        handle.write(b"partial")  # type: ignore[attr-defined]
        raise RuntimeError("the writer failed half-way")

    with pytest.raises(RuntimeError):
        write_private_atomic(target, half)
    assert target.read_bytes() == b"kept"
    assert os.listdir(tmp_path) == ["x.bin"]
    with pytest.raises(ValueError), private_temp(tmp_path, suffix=".parquet") as temp:
        temp.file.write(b"x")
        raise ValueError("abandoned")
    assert os.listdir(tmp_path) == ["x.bin"]


# 2. What the app and the command line leave on disk


def test_an_ingest_and_an_upload_through_the_app_leave_only_0600_files_in_0700_folders(
    client: TestClient, world: World, services: Services
) -> None:
    deploy_endpoint(services)
    url = "/api/v1/projects/alpha/endpoints/income-api"
    headers = world.headers("app-developer")
    recs = records(30, step=timedelta(hours=2))  # three days
    r = client.post(f"{url}/inferences", content=json_body(recs), headers=headers)
    assert r.status_code == 201 and len(r.json()["days"]) == 3, r.text
    labels = {"labels": [{"correlation_id": "c1", "label": ">50K"}]}
    assert client.post(f"{url}/labels", json=labels, headers=headers).status_code == 201
    upload = client.put(
        "/api/v1/projects/alpha/datasets/train/versions/v1/file",
        content=b"a,b\n1,2\n",
        headers={**world.headers("data-scientist"), "Content-Type": "text/csv"},
    )
    assert upload.status_code == 201, upload.text
    data = services.settings.data_dir
    assert data is not None
    modes = _modes(data)
    assert any(name.endswith(".parquet") and "labels" in name for name in modes), modes
    assert any(name.startswith("datasets/alpha/uploads/") for name in modes), modes
    assert _wrong(modes, data) == {}


def test_steward_init_leaves_only_0600_files_in_0700_folders(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "fresh" / "home"
    env = {"STEWARD_HOME": str(home), "STEWARD_DATABASE_URL": db_url if PG_URL else None}
    done = run_steward("init", "--owner", "root", "--project", "default", env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    modes = _modes(home)
    assert "keys" in modes
    if not PG_URL:
        assert "steward.db" in modes
    assert _wrong(modes, home) == {}


# 3. Leftovers of writers that died


_KILLED_WRITER = """
import sys
from pathlib import Path
from governance.core.files import PrivateTemp
temp = PrivateTemp(Path(sys.argv[1]), suffix=".parquet")
temp.file.write(b"half a file")
temp.file.flush()
print(temp.path, flush=True)
sys.stdin.read()
"""


def _killed_writer(folder: Path) -> Path:
    """The temporary file of a writer killed (SIGKILL) in the middle of writing it."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    path = Path(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert path.is_file() and path.parent == folder
    return path


def test_the_leftover_of_a_killed_writer_is_swept_but_a_live_writer_is_not(
    tmp_path: Path,
) -> None:
    dead = _killed_writer(tmp_path)
    live = PrivateTemp(tmp_path, suffix=".parquet")
    try:
        other = _write(tmp_path / "kept.parquet", b"data")
        assert remove_leftovers(tmp_path.iterdir()) == 1
        assert not dead.exists() and live.path.exists() and other.exists()
    finally:
        live.discard()


def test_start_up_sweeps_capture_and_upload_leftovers(
    settings: Settings, services: Services
) -> None:
    files = capture_files(settings)
    day = files.day_dir(CaptureKind.inference, "alpha", "income-api", "2026-03-01")
    captured = _killed_writer(day)
    uploaded = _killed_writer(settings.dataset_roots[0] / "alpha" / "uploads")
    trash = day.parent / ".trash-2026-02-01-1-1"
    trash.mkdir()
    _write(trash / "part-x.parquet", b"deleted day")
    published = _write(day / "part-y.parquet", b"kept")
    svc = build_services(settings)  # what serve does at start-up
    svc.db.dispose()
    assert not captured.exists() and not uploaded.exists() and not trash.exists()
    assert published.exists()
    again = _killed_writer(day)
    build_daemon(services.db, settings)  # and the daemon
    assert not again.exists() and published.exists()
