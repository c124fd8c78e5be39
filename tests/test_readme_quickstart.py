"""The README's quickstart, as a new user runs it: init, serve, curl."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.runner import run_steward

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_readme_names_the_commands_this_test_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in (
        "steward init",
        "steward serve",
        "/api/v1/health",
        "/api/v1/me",
        "steward demo",
    ):
        assert command in readme


@pytest.mark.timeout(120)
def test_init_serve_curl(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    env.pop("STEWARD_DATABASE_URL", None)
    env.pop("STEWARD_HOME", None)  # the default ./.steward, inside the user's working directory
    init = subprocess.run(
        ["steward", "init"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    token = re.search(r"^(stw_\S+)$", init.stdout, re.MULTILINE)
    assert token, init.stdout
    assert (tmp_path / ".steward" / "steward.db").exists()
    port = _free_port()
    server = subprocess.Popen(
        ["steward", "serve", "--port", str(port)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        curl = shutil.which("curl")
        auth = f"Authorization: Bearer {token.group(1)}"
        if curl:
            out = subprocess.run(
                [curl, "-s", "-H", auth, f"{base}/api/v1/me"], capture_output=True, text=True
            ).stdout
        else:
            out = httpx.get(f"{base}/api/v1/me", headers={"Authorization": auth[15:]}).text
        assert '"name":"admin"' in out and '"default":["owner"]' in out, out
        home = str(tmp_path / ".steward")  # the same home, named (the CLI runs in this process)
        again = run_steward("init", env={"STEWARD_HOME": home, "STEWARD_DATABASE_URL": None})
        assert again.returncode == 0, again.stderr
        assert "stw_" not in again.stdout, "a second init must not issue another owner token"
    finally:
        server.terminate()
        server.wait(timeout=20)
