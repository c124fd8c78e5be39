"""A project's retention and alert cooldown, edited through the API and the CLI.

The cooldown tests raise breaches through the alert service on the app's clock and count the
notifications it queues for a channel made through the API: a repeat notifies only once the
cooldown that applies (the monitor's, else the project's, else the server's hour) is over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from governance.core.clock import ManualClock
from governance.core.settings import Settings
from monitors.alerts.schemas import AlertRule, Breach
from monitors.alerts.service import raise_or_update_alert
from steward.api.deps import Services
from tests.builders import World
from tests.cli.runner import CliResult, run_steward
from tests.conftest import make_settings

PROJECT = "/api/v1/projects/alpha"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """The test settings, with webhooks to loopback allowed (a channel is made, never called)."""
    return make_settings(tmp_path / "home", db_url, webhook_allowlist=["127.0.0.1"])


def _patch(client: TestClient, world: World, body: dict[str, Any], role: str = "owner") -> Any:
    return client.patch(PROJECT, json=body, headers=world.headers(role))


def _updates(client: TestClient, world: World) -> list[dict[str, Any]]:
    page = client.get(
        f"{PROJECT}/audit", params={"action": "project.update"}, headers=world.headers("owner")
    )
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def test_the_owner_edits_retention_and_cooldown_and_null_resets(
    client: TestClient, world: World
) -> None:
    r = _patch(client, world, {"retention_days": 30, "alert_cooldown": "PT6H"})
    assert r.status_code == 200, r.text
    assert (r.json()["retention_days"], r.json()["alert_cooldown"]) == (30, "PT6H")
    shown = client.get(PROJECT, headers=world.headers("viewer")).json()
    assert (shown["retention_days"], shown["alert_cooldown"]) == (30, "PT6H")
    r = _patch(client, world, {"alert_cooldown": None})  # retention_days left out: it stays
    assert (r.json()["retention_days"], r.json()["alert_cooldown"]) == (30, None)
    assert _patch(client, world, {"retention_days": 30}).status_code == 200  # no change
    first, second = _updates(client, world)
    assert first["actor"] == "user:owner-user" and first["target"] == "project:alpha"
    assert first["details"] == {
        "before": {"retention_days": None, "alert_cooldown": None},
        "after": {"retention_days": 30, "alert_cooldown": "PT6H"},
    }
    assert second["details"]["after"] == {"retention_days": 30, "alert_cooldown": None}


@pytest.mark.parametrize("role", ["viewer", "ml-engineer", "data-scientist", "auditor"])
def test_only_an_owner_may_change_a_project(client: TestClient, world: World, role: str) -> None:
    r = _patch(client, world, {"retention_days": 1}, role=role)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "permission_denied"
    assert client.get(PROJECT, headers=world.headers("viewer")).json()["retention_days"] is None


def test_an_unknown_or_hidden_project_is_not_found(client: TestClient, world: World) -> None:
    admin = world.headers("admin")
    unknown = client.patch("/api/v1/projects/nope", json={"retention_days": 1}, headers=admin)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    hidden = client.patch(
        "/api/v1/projects/alpha",
        json={"retention_days": 1},
        headers={"Authorization": f"Bearer {world.outsider_token}"},
    )
    assert hidden.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"retention_days": 0}, "retention_days"),
        ({"retention_days": "a month"}, "retention_days"),
        ({"retention_days": 36501}, "retention_days"),
        ({"alert_cooldown": "-PT1H"}, "alert_cooldown"),
        ({"alert_cooldown": "soon"}, "alert_cooldown"),
        ({"alert_cooldown": "PT0.5S"}, "alert_cooldown"),
        ({"alert_cooldown": "P400D"}, "alert_cooldown"),
        ({"description": "renamed"}, "description"),  # not editable here: refused, not ignored
    ],
)
def test_invalid_values_are_refused_naming_the_field(
    client: TestClient, world: World, body: dict[str, Any], field: str
) -> None:
    r = _patch(client, world, body)
    assert r.status_code == 422, r.text
    assert field in r.text
    assert _updates(client, world) == []


def _breach(services: Services, rule: AlertRule | None = None) -> int:
    """Raise a breach of signal 'q' of monitor 'quality'; how many notifications it queued."""
    with services.db.transaction() as session:
        outcome = raise_or_update_alert(
            session,
            project="alpha",
            breach=Breach(monitor="quality", signal="q", value=1.0, threshold=0.5),
            rule=rule,
            clock=services.clock,
        )
    return outcome.notified


@pytest.fixture
def clock(client: TestClient, world: World, services: Services) -> ManualClock:
    """The app's clock, and a channel in 'alpha' for the notifications to go to."""
    services.clock = ManualClock(T0)
    channel = {"name": "ops", "url": "http://127.0.0.1:9/hook", "secret": "s3cret-s3cret-s3cret"}
    made = client.post(f"{PROJECT}/channels", json=channel, headers=world.headers("owner"))
    assert made.status_code == 201, made.text
    return services.clock


def test_the_project_cooldown_applies_when_the_monitor_names_none(
    client: TestClient, world: World, services: Services, clock: ManualClock
) -> None:
    assert _patch(client, world, {"alert_cooldown": "PT10M"}).status_code == 200
    assert _breach(services) == 1  # opened
    clock.advance(5 * MINUTE)
    assert _breach(services) == 0  # inside the project's ten minutes
    clock.advance(6 * MINUTE)
    assert _breach(services) == 1  # after them (the server's hour would still hold it back)
    clock.advance(11 * MINUTE)
    assert _breach(services, AlertRule(cooldown=timedelta(hours=2))) == 0  # the monitor's wins
    assert _patch(client, world, {"alert_cooldown": None}).status_code == 200
    clock.advance(11 * MINUTE)
    assert _breach(services) == 0  # back to the server's hour (22 minutes since the last)
    clock.advance(40 * MINUTE)
    assert _breach(services) == 1


def test_a_monitor_cooldown_of_zero_notifies_every_repeat(
    client: TestClient, world: World, services: Services, clock: ManualClock
) -> None:
    assert _patch(client, world, {"alert_cooldown": "PT10M"}).status_code == 200
    rule = AlertRule(cooldown=timedelta(0))
    assert [_breach(services, rule) for _ in range(3)] == [1, 1, 1]


def steward(settings: Settings, *args: str) -> CliResult:
    """Run the CLI (in this process) against the test's home and database."""
    env = {"STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url}
    return run_steward(*args, env=env)


def test_the_cli_sets_and_shows_a_project(
    client: TestClient, world: World, settings: Settings
) -> None:
    done = steward(settings, "project", "set", "alpha", "--retention-days", "30",
                   "--alert-cooldown", "PT6H")  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    shown = client.get(PROJECT, headers=world.headers("viewer")).json()
    assert (shown["retention_days"], shown["alert_cooldown"]) == (30, "PT6H")
    out = steward(settings, "project", "show", "alpha").stdout
    assert "retention_days  30" in out and "alert_cooldown  PT6H" in out, out
    reset = steward(settings, "project", "set", "alpha", "--alert-cooldown", "default")
    assert "alert_cooldown  server default" in reset.stdout, reset.stdout + reset.stderr
    (_, entry) = _updates(client, world)
    assert (
        entry["actor"].startswith("system:cli@")
        and entry["details"]["after"]["alert_cooldown"] is None
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("alpha", "--retention-days", "0"), "--retention-days"),
        (("alpha", "--alert-cooldown", "later"), "--alert-cooldown"),
        (("alpha",), "nothing to change"),
        (("nope", "--retention-days", "3"), "not found"),
    ],
)
def test_the_cli_refuses_bad_values_in_one_line(
    world: World, settings: Settings, args: tuple[str, ...], message: str
) -> None:
    done = steward(settings, "project", "set", *args)
    assert done.returncode == (3 if message == "not found" else 2), done.stdout
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
