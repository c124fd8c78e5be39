"""Monitor definitions: what is watched, against what, how often, and who is told."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from monitors.alerts.schemas import Severity
from monitors.specs.cron import crontab_trigger

NAME = r"^[a-z0-9][a-z0-9._-]{0,62}$"


def iso_duration(value: timedelta) -> str:
    """Render a duration as ISO-8601 (``P1D``, ``PT6H``, ``P1DT30M``)."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    text = "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return text if text != "P" else "PT0S"


def _non_negative(value: timedelta) -> timedelta:
    if value.total_seconds() < 0 or value.microseconds:
        raise ValueError("durations are whole seconds and not negative")
    return value


def _positive(value: timedelta) -> timedelta:
    if _non_negative(value).total_seconds() == 0:
        raise ValueError("duration must be positive")
    return value


Duration = Annotated[
    timedelta, AfterValidator(_non_negative), PlainSerializer(iso_duration, return_type=str)
]
PositiveDuration = Annotated[
    timedelta, AfterValidator(_positive), PlainSerializer(iso_duration, return_type=str)
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TargetKind(StrEnum):
    """What a monitor watches."""

    endpoint = "endpoint"
    dataset = "dataset"


class ReferenceKind(StrEnum):
    """What a window is compared with."""

    dataset = "dataset"
    production_window = "production_window"


class SignalKind(StrEnum):
    """Signals of the statistics engine a monitor can compute."""

    data_drift = "data_drift"
    prediction_drift = "prediction_drift"
    data_quality = "data_quality"
    performance = "performance"
    fairness = "fairness"
    attribution_drift = "attribution_drift"


class Target(_Frozen):
    """The endpoint (its inference log) or dataset (its versions) a monitor watches."""

    kind: TargetKind = TargetKind.endpoint
    name: str = Field(pattern=NAME)


class Reference(_Frozen):
    """A dataset version (default: the deployed model's training data) or a past window."""

    kind: ReferenceKind = ReferenceKind.dataset
    dataset: str | None = Field(default=None, pattern=NAME)
    version: str | None = Field(default=None, max_length=128)
    lookback: PositiveDuration | None = None
    offset: Duration | None = None


class Window(_Frozen):
    """Production window ending at the run's window end minus ``offset``."""

    lookback: PositiveDuration | None = None
    offset: Duration = timedelta(0)


class Schedule(_Frozen):
    """When windows end: a cron expression or an interval, in a time zone."""

    cron: str | None = Field(default=None, max_length=120)
    interval: PositiveDuration | None = None
    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        """Refuse at apply what APScheduler could not schedule, with its message."""
        if value is not None:
            # The fields parse alike in every zone: UTC spares a look-up of the local zone.
            crontab_trigger(value, timezone="UTC")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if self.cron is not None and self.interval is not None:
            raise ValueError("give either cron or interval, not both")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("schedule end must be after its start")
        return self


class Signal(_Frozen):
    """One signal of the statistics engine, with its preset and thresholds."""

    kind: SignalKind
    name: str | None = Field(default=None, pattern=NAME)
    preset: str = Field(default="azure", pattern=r"^(azure|evidently)$")
    features: tuple[str, ...] | None = None
    threshold: float | None = Field(default=None, ge=0)
    feature_threshold: float | None = Field(default=None, ge=0)
    method: str | None = Field(default=None, max_length=32)
    severity: Severity | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        """The signal's name inside its monitor (its kind unless named)."""
        return self.name or str(self.kind)


DEFAULT_SIGNALS = (Signal(kind=SignalKind.data_drift), Signal(kind=SignalKind.prediction_drift))


class MonitorSpec(_Frozen):
    """A monitor as written in YAML or sent to the API; every field but name/target defaults."""

    name: str = Field(pattern=NAME)
    description: str = Field(default="", max_length=2000)
    target: Target
    reference: Reference = Reference()
    signals: tuple[Signal, ...] = DEFAULT_SIGNALS
    window: Window = Window()
    schedule: Schedule = Schedule()
    severity: Severity = Severity.warning
    # Names of the project's alert channels; None notifies every enabled channel.
    channels: tuple[str, ...] | None = None
    enabled: bool = True

    @field_validator("signals")
    @classmethod
    def _unique_signals(cls, value: tuple[Signal, ...]) -> tuple[Signal, ...]:
        keys = [s.key for s in value]
        if len(set(keys)) != len(keys):
            raise ValueError("signal names must be unique (name repeated kinds)")
        if not value:
            raise ValueError("a monitor needs at least one signal")
        return value


class MonitorUpdate(_Frozen):
    """A partial change of a monitor (name and target cannot change)."""

    description: str | None = Field(default=None, max_length=2000)
    reference: Reference | None = None
    signals: tuple[Signal, ...] | None = None
    window: Window | None = None
    schedule: Schedule | None = None
    severity: Severity | None = None
    channels: tuple[str, ...] | None = None
    enabled: bool | None = None


class Monitor(_Frozen):
    """A stored monitor."""

    id: UUID
    project: str
    spec: MonitorSpec
    created_at: datetime
    updated_at: datetime
    created_by: str
    revision: int

    @property
    def name(self) -> str:
        """The monitor's name."""
        return self.spec.name
