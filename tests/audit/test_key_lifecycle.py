"""The signing key's lifecycle through the CLI: refusal when lost, rotation, read-only verify."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.cli.runner import CliResult, run_steward


class Home:
    """A Steward home on SQLite, driven through the CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env: dict[str, str | None] = {"STEWARD_HOME": str(root), "STEWARD_DATABASE_URL": None}

    def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> CliResult:
        return run_steward(*args, env={**self.env, **(env or {})})

    @property
    def key(self) -> Path:
        return self.root / "keys" / "audit-ed25519.pem"

    @property
    def history(self) -> Path:
        return self.root / "keys" / "audit-keys.txt"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = Home(tmp_path / "home")
    for args in (("init",), ("project", "create", "p1")):
        assert h(*args).returncode == 0, args
    return h


def _one_line_error(result: CliResult, code: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"({code})" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3  # one message, wrapped at most


def test_a_lost_key_stops_every_writer_with_one_line(home: Home) -> None:
    home.key.unlink()
    for args in (("serve",), ("daemon",), ("project", "create", "p2")):
        _one_line_error(home(*args), "audit_key_missing")
    assert not home.key.exists(), "nothing may quietly create a new key"


def test_rotation_after_a_lost_key_keeps_old_checkpoints_checkable(home: Home) -> None:
    home.key.unlink()
    rotated = home("audit", "rotate-key")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "previous key was missing" in rotated.stdout
    assert home("project", "create", "p2").returncode == 0
    clean = home("audit", "verify")
    assert clean.returncode == 0, clean.stdout  # the old public key is in the history
    # Without the old public key, what only it signed cannot be checked: "key missing".
    lines = home.history.read_text().splitlines()
    home.history.write_text("\n".join(lines[1:]) + "\n")
    unknown = home("audit", "verify")
    assert unknown.returncode == 1
    assert "key_missing" in unknown.stdout and "bad_signature" not in unknown.stdout


def test_a_planned_rotation_is_learned_from_the_log_by_the_old_key(
    home: Home, tmp_path: Path
) -> None:
    old_key = tmp_path / "old.txt"
    old_key.write_text(home("audit", "public-key").stdout.splitlines()[0])
    rotated = home("audit", "rotate-key")
    assert rotated.returncode == 0 and "endorsed by the previous key" in rotated.stdout
    assert home("project", "create", "p2").returncode == 0
    assert home("audit", "verify").returncode == 0
    export = tmp_path / "log.jsonl"
    assert home("audit", "export", "-o", str(export)).returncode == 0
    # An auditor elsewhere holds only the old key: the endorsed rotation entry vouches for the new.
    elsewhere = {"STEWARD_HOME": str(tmp_path / "auditor")}
    offline = home("audit", "verify", "--file", str(export), "--key", str(old_key), env=elsewhere)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert not (tmp_path / "auditor").exists()


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_verify_never_creates_or_changes_a_file(home: Home, tmp_path: Path) -> None:
    before = _snapshot(home.root)
    assert home("audit", "verify").returncode == 0
    assert _snapshot(home.root) == before
    home.key.unlink()
    home.history.unlink()
    refused = home("audit", "verify")
    assert refused.returncode == 2 and "no audit public key" in refused.stderr
    assert not home.key.exists() and not home.history.exists()
    nowhere = tmp_path / "nowhere"
    missing = home("audit", "verify", env={"STEWARD_HOME": str(nowhere)})
    assert missing.returncode == 3 and f"no Steward home at {nowhere}" in missing.stderr
    assert not nowhere.exists()


def test_commands_seal_what_they_log_and_the_witness_keeps_it(home: Home) -> None:
    verify = home("audit", "verify")
    assert verify.returncode == 0
    assert "witnessed through 0" not in verify.stdout, verify.stdout
    witness = home.root / "witness" / "checkpoints.jsonl"
    assert witness.stat().st_mode & 0o777 == 0o600
    assert witness.parent.stat().st_mode & 0o777 == 0o700
