"""What leaves retrain.triggers: trigger specs, stored triggers and their launches."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from governance.core.durations import WholeSeconds
from monitors.specs.cron import crontab_trigger, known_zone
from retrain.plan import ReleasePlan

NAME = r"^[a-z0-9][a-z0-9._-]{0,62}$"
# N breached of the last M windows: as many windows as a monitor's own alert rule looks at.
MAX_WINDOWS = 100
MAX_INPUTS = 64
MAX_REQUEST_ID = 128
_SHORT = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def _duration(value: Any) -> Any:
    """Accept seconds (a number) and short text (``6h``, ``1h30m``, ``2d``) besides ISO-8601."""
    if isinstance(value, bool):
        raise ValueError("a duration is seconds, short text like '6h', or ISO-8601")
    try:
        if isinstance(value, int | float):
            return timedelta(seconds=value)
        match = _SHORT.fullmatch(value.strip().lower()) if isinstance(value, str) else None
        if match is not None and any(match.groups()):
            days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
            return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError as exc:
        raise ValueError("the duration is out of range") from exc
    return value


Cooldown = Annotated[WholeSeconds, BeforeValidator(_duration)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConditionKind(StrEnum):
    """What makes a trigger launch its pipeline."""

    alert = "alert"  # N breached windows of the last M of a monitor (or one of its signals)
    schedule = "schedule"  # a crontab schedule
    manual = "manual"  # only a person, by hand


class AlertCondition(_Frozen):
    """Launch when ``breaches`` of the latest ``windows`` windows of a monitor breached.

    A window counts as a breach of the monitor (any signal), or of ``signal`` when given;
    the launch is for the breaching window that completes the count, once per window.
    """

    kind: Literal[ConditionKind.alert] = ConditionKind.alert
    monitor: str = Field(pattern=NAME)
    signal: str | None = Field(default=None, min_length=1, max_length=64)
    breaches: int = Field(default=1, ge=1, le=MAX_WINDOWS)
    windows: int = Field(default=1, ge=1, le=MAX_WINDOWS)

    @model_validator(mode="after")
    def _n_of_m(self) -> AlertCondition:
        if self.breaches > self.windows:
            raise ValueError(f"breaches ({self.breaches}) cannot exceed windows ({self.windows})")
        return self


class ScheduleCondition(_Frozen):
    """Launch at every fire time of a five-field crontab expression, in a time zone."""

    kind: Literal[ConditionKind.schedule] = ConditionKind.schedule
    cron: str = Field(max_length=120)
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str) -> str:
        crontab_trigger(value, timezone="UTC")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


class ManualCondition(_Frozen):
    """Launch only when a person fires the trigger."""

    kind: Literal[ConditionKind.manual] = ConditionKind.manual


Condition = Annotated[
    AlertCondition | ScheduleCondition | ManualCondition, Field(discriminator="kind")
]


class TriggerSpec(_Frozen):
    """A trigger as written in YAML or sent to the API."""

    name: str = Field(pattern=NAME)
    description: str = Field(default="", max_length=2000)
    pipeline: str = Field(min_length=1, max_length=64)
    # None: the pipeline's newest version at each launch.
    pipeline_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    # Inputs overriding the pipeline's defaults at launch.
    inputs: dict[str, Any] = Field(default_factory=dict, max_length=MAX_INPUTS)
    plan: ReleasePlan | None = None
    on: Condition
    # Automatic launches (alert, schedule) closer than this to the previous one are skipped.
    cooldown: Cooldown = timedelta(0)
    enabled: bool = True

    @property
    def kind(self) -> ConditionKind:
        """The kind of the trigger's condition."""
        return self.on.kind


class TriggerUpdate(_Frozen):
    """A partial change of a trigger: switch it on or off, change its cooldown."""

    enabled: bool | None = None
    cooldown: Cooldown | None = None


class Trigger(_Frozen):
    """A stored trigger; ``owner`` is the principal who created it."""

    id: UUID
    project: str
    spec: TriggerSpec
    owner: str
    revision: int
    created_at: datetime
    updated_at: datetime
    # Alert windows and schedule fire times count from here (creation, or the last enable).
    active_since: datetime
    # The window end or fire time of the newest automatic launch.
    last_fired_at: datetime | None = None

    @property
    def name(self) -> str:
        """The trigger's name."""
        return self.spec.name


class ApplyAction(StrEnum):
    """What an apply did to one trigger."""

    created = "created"
    updated = "updated"
    unchanged = "unchanged"


class Applied(_Frozen):
    """One trigger of an apply and what happened to it."""

    trigger: Trigger
    action: ApplyAction


class FireRequest(_Frozen):
    """Fire a trigger by hand; the same ``request_id`` again returns the same run."""

    request_id: str | None = Field(default=None, min_length=1, max_length=MAX_REQUEST_ID)


class TriggerLaunch(_Frozen):
    """One launch of a trigger: its key, the time it is for, the run it started."""

    id: UUID
    trigger_id: UUID
    trigger: str
    project: str
    kind: ConditionKind
    # alert: the breaching window's end; schedule: the fire time; manual: the request's time.
    at: datetime
    key: str
    run_id: UUID
    launched_by: str
    launched_at: datetime
