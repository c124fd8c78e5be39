"""``steward monitor``: apply a YAML file, list, export, run and backfill from the shell."""

from __future__ import annotations

from pathlib import Path

from governance.core.settings import Settings
from tests.builders import World
from tests.cli.runner import CliResult, run_steward

YAML = """
monitors:
  - name: hourly
    target: {name: scorer}
    schedule: {interval: PT1H, start: "2026-04-01T00:00:00Z"}
"""


def steward(settings: Settings, *args: str) -> CliResult:
    """Run the CLI (in this process) against the test's home and database."""
    env = {"STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url}
    return run_steward(*args, env=env)


def test_apply_list_export_run_backfill(settings: Settings, world: World, tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(YAML)
    done = steward(settings, "monitor", "apply", "-f", str(path), "-p", "alpha")
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout and "alpha/hourly" in done.stdout
    again = steward(settings, "monitor", "apply", "-f", str(path), "-p", "alpha")
    assert "unchanged" in again.stdout
    listed = steward(settings, "monitor", "list", "-p", "alpha")
    assert "hourly" in listed.stdout and "endpoint:scorer" in listed.stdout
    exported = steward(settings, "monitor", "export", "-p", "alpha")
    assert "name: hourly" in exported.stdout and "PT1H" in exported.stdout
    ran = steward(
        settings,
        "monitor",
        "run",
        "hourly",
        "-p",
        "alpha",
        "--window-end",
        "2026-04-01T03:00:00+00:00",
    )
    assert ran.returncode == 0, ran.stderr
    assert "ran hourly" in ran.stdout and "failed" in ran.stdout  # no such endpoint yet
    filled = steward(
        settings,
        "monitor",
        "backfill",
        "hourly",
        "-p",
        "alpha",
        "--since",
        "2026-04-01T00:30:00+00:00",
        "--until",
        "2026-04-01T05:00:00+00:00",
    )
    assert filled.returncode == 0, filled.stderr
    assert "4 windows run, 1 already done" in " ".join(filled.stdout.split())
    missing = steward(settings, "monitor", "run", "nope", "-p", "alpha")
    assert missing.returncode == 3 and "not_found" in missing.stderr
