"""The ``steward`` command line on a temporary home: in-process, plus the console script itself."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from governance.access.service import authenticate
from governance.core.db import Database, normalise_url
from governance.core.errors import Unauthenticated
from tests.cli.runner import CliResult, run_steward

# The console script of the environment the tests run in (.venv locally, CI's own venv).
STEWARD = Path(sys.executable).parent / "steward"
PG_URL = os.environ.get("STEWARD_TEST_DATABASE_URL")
TOKEN = re.compile(r"^stw_[0-9a-f]{12}_\S+$", re.MULTILINE)


@dataclass
class Cli:
    """Runs ``steward`` against one home and database."""

    home: Path
    url: str | None

    def env(self) -> dict[str, str | None]:
        """The variables a user of this home sets (no URL: the SQLite file inside the home)."""
        return {"STEWARD_HOME": str(self.home), "STEWARD_DATABASE_URL": self.url}

    def __call__(self, *args: str) -> CliResult:
        return run_steward(*args, env=self.env())

    def ok(self, *args: str) -> str:
        """Run, require exit 0, return stdout."""
        result = self(*args)
        assert result.returncode == 0, f"steward {' '.join(args)}: {result.stderr}{result.stdout}"
        assert "Traceback" not in result.stderr
        return result.stdout

    def fails(self, *args: str, code: int | None = None) -> CliResult:
        """Run, require a non-zero exit without a traceback."""
        result = self(*args)
        assert result.returncode != 0, result.stdout
        if code is not None:
            assert result.returncode == code
        assert "Traceback" not in result.stderr + result.stdout
        return result

    def script(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the real console script in a subprocess."""
        # No application role (roles are cluster-wide and would outlive the test).
        env = {**os.environ, "STEWARD_HOME": str(self.home), "COLUMNS": "250"}
        env["STEWARD_DB_APP_ROLE"] = ""
        env.pop("STEWARD_DATABASE_URL", None)
        if self.url:
            env["STEWARD_DATABASE_URL"] = self.url
        return subprocess.run(
            [str(STEWARD), *args], env=env, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip

    def database(self) -> Database:
        """The database the CLI writes to."""
        return Database(self.url or f"sqlite:///{self.home.resolve() / 'steward.db'}")


def _pg_admin(sql: str) -> None:
    assert PG_URL
    engine = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """A fresh home; on SQLite the database is the default one inside it."""
    home = tmp_path_factory.mktemp("cli") / "home"
    if not PG_URL:
        yield Cli(home=home, url=None)
        return
    name = f"steward_cli_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    yield Cli(home=home, url=normalise_url(PG_URL).rsplit("/", 1)[0] + f"/{name}")
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def owner_token(cli: Cli) -> str:
    """``steward init`` by the console script on the fresh home: the owner's token, printed once."""
    done = cli.script("init", "--owner", "root", "--project", "default")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    tokens = TOKEN.findall(done.stdout)
    assert len(tokens) == 1, done.stdout
    return tokens[0]


def _authenticates(cli: Cli, token: str) -> bool:
    db = cli.database()
    try:
        authenticate(db, token)
        return True
    except Unauthenticated:
        return False
    finally:
        db.dispose()


def test_init_creates_home_database_key_and_a_working_owner_token(
    cli: Cli, owner_token: str
) -> None:
    assert (cli.home / "keys" / "audit-ed25519.pem").is_file()
    if cli.url is None:
        assert (cli.home / "steward.db").is_file()
    assert _authenticates(cli, owner_token)
    roles = cli.ok("role", "list", "default")
    assert re.search(r"root\W+owner", roles), roles


def test_init_again_issues_no_new_token(cli: Cli, owner_token: str) -> None:
    out = cli.ok("init", "--owner", "root", "--project", "default")
    assert "already initialised" in out
    assert not TOKEN.findall(out)
    listed = cli.ok("token", "list", "--principal", "root")
    assert listed.count("init") == 1, listed


def test_token_create_list_revoke(cli: Cli, owner_token: str) -> None:
    cli.ok("principal", "create", "ci-bot", "--service")
    out = cli.ok("token", "create", "ci-bot", "--name", "pipeline", "--expires-in-days", "7")
    (token,) = TOKEN.findall(out)
    assert _authenticates(cli, token)
    prefix = token.split("_")[1]
    listed = cli.ok("token", "list", "--principal", "ci-bot")
    assert prefix in listed and token.split("_", 2)[2] not in listed
    row = next(line for line in listed.splitlines() if prefix in line)
    token_id = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", row)
    assert token_id, row
    out = cli.ok("token", "revoke", token_id.group(0))
    assert f"revoked {prefix}" in out
    assert not _authenticates(cli, token)
    # Unknown principal and malformed id: one line, non-zero, no traceback.
    assert "not found" in cli.fails("token", "create", "nobody").stderr
    cli.fails("token", "revoke", "not-a-uuid")


def test_role_grant_list_revoke(cli: Cli, owner_token: str) -> None:
    cli.ok("principal", "create", "dana")
    assert "granted viewer to dana in default" in cli.ok(
        "role", "grant", "default", "dana", "viewer"
    )
    assert re.search(r"dana\W+viewer", cli.ok("role", "list", "default"))
    result = cli.fails("role", "grant", "default", "dana", "viewer")
    assert "already holds" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = cli.fails("role", "grant", "default", "dana", "superuser", code=2)
    assert "unknown role 'superuser'" in result.stderr
    assert "revoked viewer from dana" in cli.ok("role", "revoke", "default", "dana", "viewer")
    assert "dana" not in cli.ok("role", "list", "default")
    # The last owner cannot be removed.
    assert "last owner" in cli.fails("role", "revoke", "default", "root", "owner").stderr
    assert "not found" in cli.fails("role", "list", "no-such-project").stderr


def test_policy_check(cli: Cli) -> None:
    out = cli.ok("policy", "check")
    assert "is valid" in out


def test_policy_check_fails_on_a_broken_policy(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "policies"
    broken.mkdir()
    policies = Path(__file__).resolve().parents[2] / "policies"
    (broken / "model.conf").write_text((policies / "model.conf").read_text())
    (broken / "policy.csv").write_text("p, dataset, read, wizard\n")
    monkeypatch.setenv("STEWARD_POLICY_DIR", str(broken))
    result = cli.fails("policy", "check", code=1)
    assert "unknown role 'wizard'" in result.stdout
    assert "no role grants" in result.stdout  # routes need permissions this file lacks


def test_policy_explain_allow_and_deny(cli: Cli, owner_token: str) -> None:
    out = cli.ok("policy", "explain", "root", "default", "model", "deploy")
    assert "ALLOW" in out and "owner" in out
    cli.ok("principal", "create", "vera")
    cli.ok("role", "grant", "default", "vera", "viewer")
    denied = cli.fails("policy", "explain", "vera", "default", "model", "deploy", code=1)
    assert "DENY" in denied.stdout
    assert "do not grant (model, deploy)" in denied.stdout
    stranger = cli.fails("policy", "explain", "vera", "other", "model", "read", code=1)
    assert "holds no role in project 'other'" in stranger.stdout


def test_audit_verify_and_export(cli: Cli, owner_token: str, tmp_path: Path) -> None:
    out = cli.ok("audit", "verify")
    assert "clean" in out
    lines = cli.ok("audit", "export").splitlines()
    records = [json.loads(line) for line in lines]
    actions = {r.get("action") for r in records}
    assert {"principal.create", "project.create", "role.grant", "token.create"} <= actions
    csv_out = cli.ok("audit", "export", "--format", "csv")
    assert csv_out.splitlines()[0].startswith("seq,")
    assert len(csv_out.splitlines()) >= len([r for r in records if "seq" in r])
    # An export verifies offline with the public key alone.
    exported, key = tmp_path / "audit.jsonl", tmp_path / "verifier.key"
    cli.ok("audit", "export", "-o", str(exported))
    key.write_text(cli.ok("audit", "public-key"))
    assert "clean" in cli.ok("audit", "verify", "--file", str(exported), "--key", str(key))
    # A modified export is caught, with a non-zero exit.
    text_ = exported.read_text().replace('"role.grant"', '"role.revoke"', 1)
    exported.write_text(text_)
    result = cli.fails("audit", "verify", "--file", str(exported), "--key", str(key), code=1)
    assert "TAMPERED" in result.stdout


def test_errors_are_one_line_without_traceback(cli: Cli, owner_token: str) -> None:
    for args, code in (
        (("role", "grant", "no-such-project", "root", "viewer"), 3),  # not found
        (("token", "create", "ghost"), 3),
        (("principal", "create", "root"), 2),  # a conflict: the request is wrong
    ):
        result = cli.fails(*args, code=code)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error ("), result.stderr


def test_help_lists_the_public_commands(cli: Cli) -> None:
    out = cli.ok("--help")
    for command in ("init", "serve", "daemon", "demo", "db", "token", "role", "audit", "policy"):
        assert re.search(rf"^\W*{command}\b", out, re.MULTILINE), (command, out)


def test_the_console_script_reports_an_error_in_one_line(cli: Cli, owner_token: str) -> None:
    done = cli.script("token", "create", "ghost")
    assert done.returncode == 3
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error (not_found):"), done.stderr
    assert "ghost" in lines[0] and "Traceback" not in done.stderr + done.stdout
