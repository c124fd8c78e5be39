"""What scripts rely on: exit codes, field errors one per line, the home, profiles, tables."""

from __future__ import annotations

import json
import re
import socket
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from governance.core.settings import Settings
from steward.cli import output
from tests.builders import World
from tests.cli.remote import NO_HOME, Remote
from tests.cli.runner import CliResult, run_steward

BAD_MONITORS = """
monitors:
  - name: first
    target: {name: income}
    window: {size: soon}
  - name: second
    target: {kind: spaceship, name: x}
"""


def _local(settings: Settings, *args: str) -> CliResult:
    env = {**NO_HOME, "STEWARD_HOME": str(settings.home),
           "STEWARD_DATABASE_URL": settings.database_url}  # fmt: skip
    return run_steward(*args, env=env)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_exit_codes_say_what_happened(world: World, server: str, tmp_path: Path) -> None:
    remote = Remote(server, world.admin_token)
    assert remote("project", "list").returncode == 0
    assert remote("project", "list", "--bogus").returncode == 2  # usage
    assert remote("project", "set", "alpha", "--retention-days", "0").returncode == 2
    missing = remote("monitor", "list", "-p", "nosuch")
    assert missing.returncode == 3 and missing.stdout == "", missing.stderr
    assert remote("pipeline", "show", str(uuid.uuid4()), "-p", "alpha").returncode == 3
    denied = remote("project", "create", "delta", token=world.tokens["viewer"])
    assert denied.returncode == 4 and "permission_denied" in denied.stderr
    assert remote("project", "list", token="stw_000000000000_wrong").returncode == 4
    down = Remote(f"http://127.0.0.1:{_closed_port()}", world.admin_token)("project", "list")
    assert down.returncode == 5 and "cannot reach the server" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1


def test_a_finding_is_exit_1(world: World, server: str, tmp_path: Path) -> None:
    remote = Remote(server, world.admin_token)
    key, report = tmp_path / "server.pub", tmp_path / "report.json"
    key.write_text(remote("audit", "public-key").stdout)
    assert remote("report", "project", "-p", "alpha", "-o", str(report)).returncode == 0
    verified = remote("report", "verify", str(report), "--key", str(key))
    assert verified.returncode == 0, verified.stderr + verified.stdout
    assert "admin command" in verified.stderr  # it says it checks the file here
    report.write_bytes(report.read_bytes().replace(b'"alpha"', b'"omega"', 1))
    assert remote("report", "verify", str(report), "--key", str(key)).returncode == 1


def test_monitor_list_of_an_unknown_project_is_not_found_locally_too(
    world: World, settings: Settings
) -> None:
    done = _local(settings, "monitor", "list", "-p", "nosuch")
    assert done.returncode == 3 and "nosuch" in done.stderr and done.stdout == ""
    assert _local(settings, "monitor", "list", "-p", "alpha").returncode == 0


@pytest.mark.parametrize("where", ["local", "remote"])
def test_field_errors_are_printed_one_per_line(
    where: str, world: World, settings: Settings, server: str, tmp_path: Path
) -> None:
    file = tmp_path / "monitors.yaml"
    file.write_text(BAD_MONITORS)
    args = ("monitor", "apply", "-f", str(file), "-p", "alpha")
    remote = Remote(server, world.admin_token)
    done = remote(*args) if where == "remote" else _local(settings, *args)
    assert done.returncode == 2, done.stderr
    first, *fields = done.stderr.strip().splitlines()
    assert first.startswith("error (invalid_input): invalid monitor definition")
    assert len(fields) >= 2, done.stderr
    assert any(line.startswith("  'first': window.size") for line in fields), fields
    assert any(line.startswith("  'second': target.kind") for line in fields), fields


def test_no_home_is_created_outside_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    done = run_steward("monitor", "list", env=NO_HOME)
    assert done.returncode == 3, done.stderr
    assert f"no Steward home at {tmp_path / '.steward'}" in done.stderr
    assert "STEWARD_HOME is not set" in done.stderr and "steward init" in done.stderr
    named = tmp_path / "typo"
    done = run_steward("project", "create", "x", env={**NO_HOME, "STEWARD_HOME": str(named)})
    assert done.returncode == 3 and f"no Steward home at {named}" in done.stderr
    assert "from STEWARD_HOME" in done.stderr
    assert not (tmp_path / ".steward").exists() and not named.exists()
    made = run_steward("init", env={**NO_HOME, "STEWARD_HOME": str(named)})
    assert made.returncode == 0, made.stderr
    listed = run_steward("-o", "json", "project", "list",
                         env={**NO_HOME, "STEWARD_HOME": str(named)})  # fmt: skip
    assert [p["name"] for p in json.loads(listed.stdout)] == ["_system", "default"]


def test_a_profile_names_the_server_and_token(
    world: World, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    (config / "steward").mkdir(parents=True)
    (config / "steward" / "profiles.toml").write_text(
        f'[profiles.prod]\nurl = "{server}"\ntoken = "{world.admin_token}"\n\n'
        f'[profiles.viewer]\nurl = "{server}"\ntoken_env = "VIEWER_TOKEN"\n'
    )
    monkeypatch.chdir(tmp_path)
    env = {**NO_HOME, "XDG_CONFIG_HOME": str(config), "VIEWER_TOKEN": world.tokens["viewer"]}
    flag = run_steward("--profile", "prod", "-o", "json", "project", "list", env=env)
    assert flag.returncode == 0, flag.stderr
    assert "beta" in {p["name"] for p in json.loads(flag.stdout)}
    chosen = run_steward("-o", "json", "project", "list", env={**env, "STEWARD_PROFILE": "viewer"})
    assert [p["name"] for p in json.loads(chosen.stdout)] == ["alpha"]  # the viewer's projects
    # --url and --token beat the profile's; an unknown profile is a usage error naming the file.
    direct = run_steward("--url", server, "--token", world.tokens["viewer"], "project", "create",
                         "zeta", env=env)  # fmt: skip
    assert direct.returncode == 4
    unknown = run_steward("--profile", "staging", "project", "list", env=env)
    assert unknown.returncode == 2 and "profiles.toml" in unknown.stderr
    assert "prod, viewer" in unknown.stderr


def test_admin_commands_say_they_stay_local(world: World, server: str, tmp_path: Path) -> None:
    done = Remote(server, world.admin_token)("db", "check")
    assert "admin command" in done.stderr and "this host's Steward home" in done.stderr
    assert done.returncode == 3  # and there is no home here to act on


def test_version_and_yaml(world: World, server: str) -> None:
    version = run_steward("--version", env=NO_HOME)
    assert re.fullmatch(r"steward \d+\.\d+\.\d+\S*\n", version.stdout), version.stdout
    shown = Remote(server, world.admin_token)("-o", "yaml", "project", "show", "alpha")
    assert shown.returncode == 0 and "name: alpha\n" in shown.stdout


@pytest.mark.parametrize("no_wrap", [False, True])
def test_tables_never_cut_an_id(no_wrap: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    narrow = Console(width=40, force_terminal=True, color_system=None, record=True)
    monkeypatch.setattr(output, "console", narrow)
    monkeypatch.setattr(output, "OPTIONS", output.Options(no_wrap=no_wrap))
    ids = [str(uuid.uuid4()) for _ in range(2)]
    shown = output.table("id", "principal", "name")
    for token_id in ids:
        shown.add_row(token_id, "a-rather-long-principal-name", "label")
    output.show(shown)
    text = narrow.export_text()
    assert "…" not in text
    body = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    assert "".join(cells[1].strip() for cells in body) == "".join(ids)  # folded, never cut
    if no_wrap:  # one line per row, wider than the terminal
        assert [cells[1].strip() for cells in body] == ids
        assert min(len(line) for line in text.splitlines()) > narrow.width
    else:
        assert max(len(line) for line in text.splitlines()) <= narrow.width
