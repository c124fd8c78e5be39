"""Running ``steward`` as a remote user would: another folder, only a server URL and a token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import typer.main

from steward.cli import app
from tests.cli.runner import CliResult, run_steward

# Nothing of the test's own home may leak into a remote command.
NO_HOME: dict[str, str | None] = {
    "STEWARD_HOME": None, "STEWARD_DATABASE_URL": None, "STEWARD_PROFILE": None,
    "STEWARD_PROFILES": None, "STEWARD_URL": None, "STEWARD_TOKEN": None,
}  # fmt: skip


def leaf_commands() -> set[str]:
    """Every command of ``steward --help``, groups walked down to their commands."""
    found: set[str] = set()

    def walk(command: Any, path: list[str]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found.add(" ".join(path))
            return
        for name, sub in subcommands.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


@dataclass(frozen=True)
class Remote:
    """``steward`` against the server at ``url`` as ``token`` (and nothing else set)."""

    url: str
    token: str

    def __call__(self, *args: str, token: str | None = None) -> CliResult:
        env = {**NO_HOME, "STEWARD_URL": self.url, "STEWARD_TOKEN": token or self.token}
        return run_steward(*args, env=env)

    def json(self, *args: str) -> Any:
        """``steward -o json ARGS``: exit 0, stdout one JSON document (parsed)."""
        result = self("-o", "json", *args)
        assert result.returncode == 0, f"steward {' '.join(args)}: {result.stderr}{result.stdout}"
        assert "Traceback" not in result.stderr
        return json.loads(result.stdout)
