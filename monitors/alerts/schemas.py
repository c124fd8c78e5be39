"""Read and write models of alerts, notification channels and deliveries."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    field_validator,
    model_validator,
)

from governance.core.durations import WholeSeconds

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,127}$"


class Severity(StrEnum):
    """How bad a breach is (Azure Monitor's names, most severe last)."""

    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"

    @property
    def rank(self) -> int:
        """Order of severity (higher is worse)."""
        return list(Severity).index(self)


class AlertState(StrEnum):
    """Life cycle of an alert."""

    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class AlertEvent(StrEnum):
    """What a notification reports."""

    opened = "opened"
    updated = "updated"
    resolved = "resolved"


class DeliveryState(StrEnum):
    """Where a notification is in its delivery."""

    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class Breach(BaseModel):
    """A signal of a monitor run that crossed its threshold."""

    model_config = ConfigDict(frozen=True)

    monitor: str = Field(min_length=1, max_length=128)
    signal: str = Field(min_length=1, max_length=200)
    severity: Severity = Severity.warning
    value: float | None = None
    threshold: float | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("value", "threshold")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        return None if value is None or not math.isfinite(value) else value

    @field_validator("details")
    @classmethod
    def _json_safe(cls, value: dict[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = _finite(value)
        return cleaned


def _finite(value: Any) -> Any:
    """NaN and infinities become None: JSON (stored and sent) cannot carry them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class Alert(BaseModel):
    """An alert as served."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    project: str
    monitor: str
    signal: str
    severity: Severity
    state: AlertState
    value: float | None
    threshold: float | None
    window_start: datetime | None
    window_end: datetime | None
    breach_count: int
    opened_at: datetime
    updated_at: datetime
    last_breach_at: datetime
    last_notified_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    note: str
    details: dict[str, Any]

    @property
    def ref(self) -> str:
        """Audit target of the alert."""
        return f"alert:{self.id}"


MAX_RULE_WINDOWS = 100


class AlertRule(BaseModel):
    """When a monitor's breaches open an alert: ``breaches`` of the latest ``of`` windows of a
    signal; repeats of an open alert notify at most once per ``cooldown``.

    The default (1 of 1) opens an alert on every breach, as monitors did before the rule.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    breaches: int = Field(default=1, ge=1, le=MAX_RULE_WINDOWS)
    of: int = Field(default=1, ge=1, le=MAX_RULE_WINDOWS)
    # None: the project's alert cooldown, else the server's alert policy (one hour).
    cooldown: WholeSeconds | None = None

    @model_validator(mode="after")
    def _n_of_m(self) -> AlertRule:
        if self.breaches > self.of:
            raise ValueError(f"breaches ({self.breaches}) cannot exceed of ({self.of})")
        return self


class RuleVerdict(BaseModel):
    """How a breach fared against its monitor's rule: ``breached`` of the last ``windows``."""

    model_config = ConfigDict(frozen=True)

    breaches: int
    of: int
    breached: int
    windows: int

    @property
    def met(self) -> bool:
        """Enough of the latest windows breached to open an alert."""
        return self.breached >= self.breaches

    @property
    def message(self) -> str:
        """What the alert says, e.g. ``3 of the last 5 windows breached``."""
        return f"{self.breached} of the last {self.windows} windows breached"

    def details(self) -> dict[str, Any]:
        """The verdict as stored in the alert's details and sent in its notifications."""
        return {
            "breaches": self.breaches, "of": self.of, "breached": self.breached,
            "windows": self.windows, "message": self.message,
        }  # fmt: skip


class AlertOutcome(BaseModel):
    """What ``raise_or_update_alert`` did; ``alert`` is None when the monitor's rule held the
    breach back (too few of the latest windows breached)."""

    model_config = ConfigDict(frozen=True)

    alert: Alert | None
    opened: bool
    notified: int
    verdict: RuleVerdict | None = None


class AlertChange(BaseModel):
    """An acknowledgement or resolution, with an optional note."""

    note: str = Field(default="", max_length=2000)


def _check_url(value: HttpUrl) -> HttpUrl:
    if value.scheme not in ("http", "https"):
        raise ValueError("only http and https URLs are allowed")
    if value.username or value.password:
        raise ValueError("credentials in the URL are not allowed")
    return value


class ChannelKind(StrEnum):
    """Kinds of notification channels."""

    webhook = "webhook"


class ChannelCreate(BaseModel):
    """A new webhook channel; the secret signs every body and is never shown again."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: ChannelKind = ChannelKind.webhook
    url: HttpUrl
    secret: str = Field(min_length=16, max_length=256)
    min_severity: Severity = Severity.info
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: HttpUrl) -> HttpUrl:
        return _check_url(value)


class ChannelUpdate(BaseModel):
    """Changes to a channel."""

    url: HttpUrl | None = None
    secret: str | None = Field(default=None, min_length=16, max_length=256)
    min_severity: Severity | None = None
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: HttpUrl | None) -> HttpUrl | None:
        return None if value is None else _check_url(value)


class Channel(BaseModel):
    """A channel as served (its secret is never returned)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    project: str
    name: str
    kind: ChannelKind
    url: str
    min_severity: Severity
    enabled: bool
    created_at: datetime
    updated_at: datetime


class ChannelTarget(BaseModel):
    """What a sender needs: where to post and the secret to sign with (hidden from reprs)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    name: str
    url: str
    secret: SecretStr


class SealedChannel(BaseModel):
    """A channel's destination with its secret as stored: sealed (or legacy plain text)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    project: str
    name: str
    url: str
    stored_secret: str = Field(repr=False)


class Delivery(BaseModel):
    """One notification and how its attempts went."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    project: str
    alert_id: UUID
    channel_id: UUID
    channel: str
    event: AlertEvent
    payload: dict[str, Any]
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class AlertPolicy(BaseModel):
    """How alerts notify: cooldown between repeats of one alert, retry schedule of a delivery."""

    model_config = ConfigDict(frozen=True)

    cooldown: timedelta = timedelta(hours=1)
    max_attempts: int = Field(default=6, ge=1, le=50)
    backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)

    def retry_delay(self, attempts: int) -> timedelta:
        """Wait before the next attempt after ``attempts`` failures (exponential, capped)."""
        delay: timedelta = self.backoff * (2 ** max(0, attempts - 1))
        return min(delay, self.max_backoff)
