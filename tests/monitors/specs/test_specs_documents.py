"""Monitor specs: defaults, validation, YAML round trips, windows, and the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput
from monitors.alerts.schemas import ChannelCreate
from monitors.alerts.service import create_channel
from monitors.specs.document import dump_specs, load_specs
from monitors.specs.schemas import MonitorSpec, MonitorUpdate, Reference, Schedule, Target
from monitors.specs.service import (
    ApplyAction,
    apply_monitors,
    create_monitor,
    delete_monitor,
    find_monitor,
    list_monitors,
    update_monitor,
)
from monitors.specs.windows import frequency_of, latest_window_end, plan_window, window_ends
from steward.api.deps import Services
from tests.builders import OPERATOR, World

DAY = timedelta(days=1)
T = datetime(2026, 3, 10, tzinfo=UTC)

YAML = """
monitors:
  - name: income-drift
    target: {name: income}
    schedule: {cron: "0 6 * * *", timezone: Europe/Paris}
    signals:
      - kind: data_drift
        threshold: 0.3
        feature_threshold: 0.15
      - {kind: prediction_drift, severity: critical}
    channels: [oncall]
  - name: weekly
    target: {name: income}
    reference: {kind: production_window}
    schedule: {interval: P7D}
"""


def test_defaults_need_only_name_and_target() -> None:
    spec = MonitorSpec(name="m", target=Target(name="e"))
    assert [s.kind for s in spec.signals] == ["data_drift", "prediction_drift"]
    assert frequency_of(spec.schedule) == DAY
    plan = plan_window(spec, T)
    assert (plan.production.start, plan.production.end) == (T - DAY, T)  # lookback = frequency
    assert plan.reference is None  # the deployed model's training data


def test_past_window_reference_is_offset_twice_the_window() -> None:
    spec = MonitorSpec(
        name="m", target=Target(name="e"), reference=Reference(kind="production_window")
    )
    plan = plan_window(spec, T)
    assert plan.reference is not None
    assert (plan.reference.start, plan.reference.end) == (T - 3 * DAY, T - 2 * DAY)


def test_yaml_round_trip_and_validation() -> None:
    specs = load_specs(YAML)
    assert [s.name for s in specs] == ["income-drift", "weekly"]
    assert specs[0].signals[1].severity == "critical" and specs[1].schedule.interval == 7 * DAY
    assert load_specs(dump_specs(specs)) == specs
    assert load_specs(dump_specs(specs, full=True)) == specs
    with pytest.raises(InvalidInput) as err:
        load_specs("name: Bad Name\ntarget: {}\nschedule: {cron: '* *'}")
    locs = {e["loc"] for e in err.value.extra["errors"]}
    assert {"name", "target.name", "schedule.cron"} <= locs


@pytest.mark.parametrize(
    "schedule",
    [
        {"cron": "0 6 * * *", "interval": "P1D"},
        {"timezone": "Mars/Olympus"},
        {"interval": "PT0S"},
        {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    ],
)
def test_bad_schedules_are_refused(schedule: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Schedule.model_validate(schedule)


def test_cron_in_a_time_zone_and_window_ends() -> None:
    paris = Schedule(cron="0 6 * * *", timezone="Europe/Paris")
    ends = list(window_ends(paris, after=T, until=T + 3 * DAY))
    assert [e.hour for e in ends] == [5, 5, 5]  # 06:00 in Paris is 05:00 UTC in March
    summer = list(
        window_ends(
            paris,
            after=datetime(2026, 7, 1, tzinfo=UTC),
            until=datetime(2026, 7, 2, 12, tzinfo=UTC),
        )
    )
    assert [e.hour for e in summer] == [4, 4]
    hourly = Schedule(interval=timedelta(hours=1), start=T)
    assert latest_window_end(hourly, now=T + timedelta(minutes=150)) == T + 2 * timedelta(hours=1)
    assert latest_window_end(hourly, now=T - timedelta(minutes=1)) is None


APPLY = "/api/v1/projects/alpha/monitors/apply"


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("61 * * * *", "the last value (61) is higher than the maximum value (59)"),
        ("* * *", "cron needs five fields (minute hour day month weekday), got 3"),
        ("*/0 * * * *", "Increment must be higher than 0"),
        ("0 0 * * 1#2", "day of week '1#2' is not 0-7 or a day name"),
        ("0 0 * * 8", "day of week '8' is not 0-7 or a day name"),
        ("0 0 1 * mon", "crontab ORs and the scheduler would AND"),
    ],
)
def test_apply_refuses_a_cron_apscheduler_cannot_schedule(
    client: TestClient, world: World, cron: str, message: str
) -> None:
    yaml = f"name: m\ntarget: {{name: income}}\nschedule: {{cron: '{cron}'}}\n"
    r = client.post(APPLY, content=yaml, headers=world.headers("data-scientist"))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_input"
    [error] = r.json()["errors"]
    assert error["loc"] == "schedule.cron" and message in error["msg"]
    assert client.get(APPLY.removesuffix("/apply"), headers=world.headers("viewer")).json() == []


@pytest.mark.parametrize(
    ("cron", "timezone", "hours"),
    [
        ("0 6 * * *", "Europe/Paris", [5, 5]),  # 06:00 in Paris is 05:00 UTC in March
        ("30 9 * * mon-fri", "America/New_York", [13, 13]),  # EDT from March 8th
        ("0 0 */2 * *", "Asia/Tokyo", [15]),  # midnight on odd days in Tokyo
    ],
)
def test_apply_schedules_a_valid_cron_in_its_time_zone(
    client: TestClient, world: World, cron: str, timezone: str, hours: list[int]
) -> None:
    yaml = (
        f"name: m\ntarget: {{name: income}}\nschedule: {{cron: '{cron}', timezone: {timezone}}}\n"
    )
    r = client.post(APPLY, content=yaml, headers=world.headers("data-scientist"))
    assert r.status_code == 200, r.text
    schedule = Schedule.model_validate(r.json()[0]["spec"]["schedule"])
    assert (schedule.cron, schedule.timezone) == (cron, timezone)
    ends = list(window_ends(schedule, after=T, until=T + 2 * DAY - timedelta(minutes=1)))
    assert [e.hour for e in ends] == hours


def test_service_create_apply_update_delete(db: Database, world: World, services: Services) -> None:
    with pytest.raises(InvalidInput, match="oncall"):
        apply_monitors(db, project="alpha", specs=load_specs(YAML), actor=OPERATOR)
    hook = ChannelCreate(name="oncall", url="https://hooks.example.com/x", secret="s" * 20)
    create_channel(db, project="alpha", data=hook, actor=OPERATOR, secrets=services.secrets)
    spec = MonitorSpec(name="m1", target=Target(name="e"))
    created = create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)
    with pytest.raises(Conflict):
        create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)
    applied = apply_monitors(db, project="alpha", specs=[spec, *load_specs(YAML)], actor=OPERATOR)
    assert [a.action for a in applied] == [
        ApplyAction.unchanged,
        ApplyAction.created,
        ApplyAction.created,
    ]
    changed = update_monitor(
        db, project="alpha", name="m1", data=MonitorUpdate(enabled=False), actor=OPERATOR
    )
    assert changed.revision == created.revision + 1 and not changed.spec.enabled
    assert [m.name for m in list_monitors(db, enabled_only=True)] == ["income-drift", "weekly"]
    delete_monitor(db, project="alpha", name="m1", actor=OPERATOR)
    assert find_monitor(db, project="alpha", name="m1") is None


@pytest.mark.parametrize(
    ("weekday", "days"),
    [
        ("6", ["Sat"]),
        ("0", ["Sun"]),
        ("7", ["Sun"]),
        ("1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("5-7", ["Sun", "Fri", "Sat"]),
        ("0-2", ["Sun", "Mon", "Tue"]),
        ("*/3", ["Sun", "Wed", "Sat"]),
        ("sat,1", ["Mon", "Sat"]),
        ("mon-fri", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
    ],
)
def test_cron_weekdays_mean_what_crontab_means(weekday: str, days: list[str]) -> None:
    # APScheduler 3 counts weekdays from Monday = 0; crontab (and the spec) from Sunday = 0.
    schedule = Schedule(cron=f"30 2 * * {weekday}")
    start = datetime(2026, 11, 29, tzinfo=UTC)  # a Sunday
    ends = window_ends(schedule, after=start, until=start + 7 * DAY)
    week = sorted(ends, key=lambda e: (e.weekday() + 1) % 7)
    assert [e.strftime("%a") for e in week] == days
    assert all((e.hour, e.minute) == (2, 30) for e in week)
