"""Monitor definitions: what is watched, against what, how often, and who is told."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from governance.core.durations import WholeSeconds, iso_duration, whole_seconds
from monitors.alerts.schemas import AlertRule, Severity
from monitors.specs.cron import crontab_trigger, known_zone
from monitors.specs.llm_options import LlmQualityOptions
from monitors.specs.options import (
    LLM_KINDS,
    LOWER_IS_BETTER,
    MAX_CLASSIFIER_CHUNKS,
    OPTIONS,
    SETTINGS_USED,
    Column,
    DataDriftOptions,
    EstimatedPerformanceOptions,
    FairnessOptions,
    MultivariateDriftOptions,
    PerformanceOptions,
    SignalOptions,
    parse_options,
    problem,
    refusal,
)
from monitors.specs.options import (
    SignalKind as SignalKind,  # re-exported: its home before the options module
)
from monitors.stats.schemas import StatTestName

NAME = r"^[a-z0-9][a-z0-9._-]{0,62}$"
MAX_SIGNALS = 32
MAX_FEATURES = 1000
MAX_CHANNELS = 32
ChannelName = Annotated[str, Field(pattern=NAME)]
OptionsT = TypeVar("OptionsT", bound=BaseModel)


def _positive(value: timedelta) -> timedelta:
    if whole_seconds(value).total_seconds() == 0:
        raise ValueError("duration must be positive")
    return value


Duration = WholeSeconds
PositiveDuration = Annotated[
    timedelta, AfterValidator(_positive), PlainSerializer(iso_duration, return_type=str)
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class TargetKind(StrEnum):
    """What a monitor watches."""

    endpoint = "endpoint"
    dataset = "dataset"


class ReferenceKind(StrEnum):
    """What a window is compared with."""

    dataset = "dataset"
    production_window = "production_window"


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
        return known_zone(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if self.cron is not None and self.interval is not None:
            raise ValueError("give either cron or interval, not both")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("schedule end must be after its start")
        return self


def _options_doc() -> str:
    kinds = "; ".join(f"{k}: {', '.join(m.model_fields) or 'none'}" for k, m in OPTIONS.items())
    return f"Options of the signal's kind (anything else is refused). {kinds}."


class Signal(_Frozen):
    """One signal of the statistics engine, with its preset and thresholds."""

    # Every field a user writes takes effect or is refused: ``options`` are checked against the
    # model of the signal's kind, and a field that kind does not read must stay at its default.

    kind: SignalKind
    name: str | None = Field(default=None, pattern=NAME)
    # steward (default): two-sample tests with corrected p-values, calibrated to at most 5%
    # false alarms; azure and evidently reproduce those tools' defaults
    preset: str = Field(default="steward", pattern=r"^(steward|azure|evidently)$")
    features: tuple[Column, ...] | None = Field(default=None, max_length=MAX_FEATURES)
    threshold: float | None = Field(default=None, ge=0)
    feature_threshold: float | None = Field(default=None, ge=0)
    method: str | None = Field(default=None, max_length=32)
    severity: Severity | None = None
    options: SignalOptions = Field(
        default_factory=dict,
        validate_default=True,
        description=_options_doc(),
        # Written as a mapping; the schema stays an object (as it was) and lists each kind's.
        json_schema_extra={"type": "object", "additionalProperties": True},
    )

    @field_validator("method")
    @classmethod
    def _known_test(cls, value: str | None) -> str | None:
        if value is not None and value not in set(StatTestName):
            names = ", ".join(StatTestName)
            raise ValueError(f"unknown drift test {value!r}: one of {names}")
        return value

    @field_validator("options", mode="before")
    @classmethod
    def _options_of_kind(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if kind is None:  # the kind was refused: its own error says so
            return DataDriftOptions()
        return parse_options(kind, value)

    @model_validator(mode="after")
    def _read_by_kind(self) -> Signal:
        problems = signal_problems(self)
        if problems:
            raise refusal(type(self).__name__, problems)
        return self

    @property
    def key(self) -> str:
        """The signal's name inside its monitor (its kind unless named)."""
        return self.name or str(self.kind)

    def options_as(self, model: type[OptionsT]) -> OptionsT:
        """The signal's options as ``model``, the options model of its kind."""
        if not isinstance(self.options, model):
            raise TypeError(f"{self.kind} signals have no {model.__name__}")
        return self.options


# The signal's own fields that only some kinds read, and what to say to the others.
SETTINGS = ("preset", "method", "feature_threshold", "threshold", "features")
_INSTEAD = {
    SignalKind.fairness: "their limits are options (demographic_parity_ratio, ...)",
}


def signal_problems(signal: Signal) -> list[InitErrorDetails]:
    """Fields the signal's kind would not read, and options that contradict its fields."""
    found = [
        problem((name,), _unused(signal.kind, name), getattr(signal, name))
        for name in SETTINGS
        if name not in SETTINGS_USED[signal.kind]
        and getattr(signal, name) != Signal.model_fields[name].default
    ]
    if signal.kind is SignalKind.data_drift and (signal.threshold or 0) > 1:
        message = "threshold is the share of drifted features that breaches: at most 1"
        found.append(problem(("threshold",), message, signal.threshold))
    if signal.kind in DRIFT_KINDS and signal.preset == "steward":
        found += _steward_problems(signal)
    if signal.kind is SignalKind.performance:
        found += _performance_problems(signal, signal.options_as(PerformanceOptions))
    if signal.kind is SignalKind.estimated_performance:
        found += _estimation_problems(signal, signal.options_as(EstimatedPerformanceOptions))
    if signal.kind is SignalKind.fairness:
        found += _fairness_problems(signal, signal.options_as(FairnessOptions))
    if signal.kind is SignalKind.attribution_drift:
        found += _attribution_problems(signal)
    if signal.kind is SignalKind.multivariate_drift:
        found += _multivariate_problems(signal, signal.options_as(MultivariateDriftOptions))
    if signal.kind in LLM_KINDS:
        found += _llm_problems(signal)
    return found


def _llm_problems(signal: Signal) -> list[InitErrorDetails]:
    options = signal.options
    if isinstance(options, LlmQualityOptions):
        found = options.problems(signal.threshold)
    else:
        found = options.problems() if hasattr(options, "problems") else []
    return [problem(("options", *loc), text, None) for loc, text in found]


def _unused(kind: SignalKind, name: str) -> str:
    used = sorted(SETTINGS_USED[kind])
    reads = f"they read {', '.join(used)}" if used else "they read none of these fields"
    return f"{kind} signals do not use {name}: " + _INSTEAD.get(kind, reads)


def _attribution_problems(signal: Signal) -> list[InitErrorDetails]:
    if (signal.threshold or 0) <= 1:
        return []
    text = "threshold is the NDCG below which the signal breaches: at most 1"
    return [problem(("threshold",), text, signal.threshold)]


DRIFT_KINDS = frozenset({SignalKind.data_drift, SignalKind.prediction_drift})


def _steward_problems(signal: Signal) -> list[InitErrorDetails]:
    found = []
    if signal.method is not None:
        text = (
            "the steward preset chooses its two-sample tests (ks, chi2_contingency): "
            "choose a method with preset evidently or azure"
        )
        found.append(problem(("method",), text, signal.method))
    if signal.feature_threshold is not None and not 0 < signal.feature_threshold < 1:
        text = "with the steward preset feature_threshold is the significance level: 0 to 1"
        found.append(problem(("feature_threshold",), text, signal.feature_threshold))
    return found


def _performance_problems(signal: Signal, options: PerformanceOptions) -> list[InitErrorDetails]:
    found = [problem(("options", *loc), text, None) for loc, text in options.problems()]
    if options.metric is not None and signal.threshold is None:
        text = "metric names the metric that threshold bounds: give a threshold too"
        found.append(problem(("options", "metric"), text, options.metric))
    bounded = options.headline not in LOWER_IS_BETTER
    if bounded and signal.threshold is not None and signal.threshold > 1:
        text = f"{options.headline} is at most 1, so this threshold always breaches"
        found.append(problem(("threshold",), text, signal.threshold))
    return found


def _estimation_problems(
    signal: Signal, options: EstimatedPerformanceOptions
) -> list[InitErrorDetails]:
    found = [problem(("options", *loc), text, None) for loc, text in options.problems()]
    if signal.features and options.task == "classification":
        text = "CBPE estimates from the scores alone: features apply to regression (DLE) only"
        found.append(problem(("features",), text, signal.features))
    bounded = options.headline not in LOWER_IS_BETTER
    if bounded and signal.threshold is not None and signal.threshold > 1:
        text = f"{options.headline} is at most 1, so this threshold always breaches"
        found.append(problem(("threshold",), text, signal.threshold))
    return found


def _fairness_problems(signal: Signal, options: FairnessOptions) -> list[InitErrorDetails]:
    loc = ("options", "sensitive_features")
    if options.sensitive_features and signal.features:
        text = "give the sensitive features once: options.sensitive_features or features"
        return [problem(loc, text, options.sensitive_features)]
    if not options.sensitive_features and not signal.features:
        text = "fairness signals need their sensitive features (options.sensitive_features)"
        return [problem(loc, text, None)]
    return []


_RECONSTRUCTION_ONLY = ("explained_variance",)
_CLASSIFIER_ONLY = ("cv_folds", "max_reference_rows")


def _multivariate_problems(
    signal: Signal, options: MultivariateDriftOptions
) -> list[InitErrorDetails]:
    classifier = options.method == "domain_classifier"
    other = _RECONSTRUCTION_ONLY if classifier else _CLASSIFIER_ONLY
    defaults = MultivariateDriftOptions.model_fields
    found = [
        problem(("options", name), f"{name} does not apply to method {options.method}", value)
        for name in other
        if (value := getattr(options, name)) != defaults[name].default
    ]
    if not classifier:
        return found
    folds = options.cv_folds
    if options.min_window_rows < folds:
        text = f"min_window_rows is below cv_folds ({folds}): every fold needs a window row"
        found.append(problem(("options", "min_window_rows"), text, options.min_window_rows))
    if (options.chunks or 0) > MAX_CLASSIFIER_CHUNKS:
        text = f"at most {MAX_CLASSIFIER_CHUNKS} chunks: each trains cv_folds classifiers"
        found.append(problem(("options", "chunks"), text, options.chunks))
    if signal.threshold is not None and signal.threshold > 1:
        text = "the domain classifier's AUROC is at most 1, so this threshold never breaches"
        found.append(problem(("threshold",), text, signal.threshold))
    return found


DEFAULT_SIGNALS = (Signal(kind=SignalKind.data_drift), Signal(kind=SignalKind.prediction_drift))


class MonitorSpec(_Frozen):
    """A monitor as written in YAML or sent to the API; every field but name/target defaults."""

    name: str = Field(pattern=NAME)
    description: str = Field(default="", max_length=2000)
    target: Target
    reference: Reference = Reference()
    signals: tuple[Signal, ...] = Field(default=DEFAULT_SIGNALS, max_length=MAX_SIGNALS)
    window: Window = Window()
    schedule: Schedule = Schedule()
    severity: Severity = Severity.warning
    # Names of the project's alert channels; None notifies every enabled channel.
    channels: tuple[ChannelName, ...] | None = Field(default=None, max_length=MAX_CHANNELS)
    # Alert when `breaches` of a signal's latest `of` windows breached (default 1 of 1).
    alert: AlertRule = AlertRule()
    # Runs and results of windows that ended longer ago are deleted (None: the project's
    # retention_days, else kept).
    retention: PositiveDuration | None = None
    enabled: bool = True

    @field_validator("signals")
    @classmethod
    def _unique_signals(cls, value: tuple[Signal, ...]) -> tuple[Signal, ...]:
        keys = [s.key for s in value]
        if len(set(keys)) != len(keys):
            raise ValueError("signal names must be unique (name repeated kinds)")
        if not value:
            raise ValueError("a monitor needs at least one signal")
        llm = {s.kind in LLM_KINDS for s in value}
        if len(llm) > 1:
            raise ValueError(
                "LLM signals (llm_*) watch LLM endpoints and the others model endpoints: "
                "a monitor has signals of one sort only"
            )
        return value

    @model_validator(mode="after")
    def _llm_target(self) -> MonitorSpec:
        """LLM signals read an endpoint's traces, against past windows or a named dataset."""
        if not any(s.kind in LLM_KINDS for s in self.signals):
            return self
        if self.target.kind is not TargetKind.endpoint:
            raise ValueError("LLM signals watch an LLM endpoint: target.kind endpoint")
        reference = self.reference
        if reference.kind is ReferenceKind.dataset and reference.dataset is None:
            raise ValueError(
                "an LLM endpoint serves no model with training data: compare with past "
                "windows (reference.kind production_window; lookback N periods and offset one "
                "period is the previous N windows) or name a dataset of LLM records"
            )
        return self


class MonitorUpdate(_Frozen):
    """A partial change of a monitor (name and target cannot change)."""

    description: str | None = Field(default=None, max_length=2000)
    reference: Reference | None = None
    signals: tuple[Signal, ...] | None = Field(default=None, max_length=MAX_SIGNALS)
    window: Window | None = None
    schedule: Schedule | None = None
    severity: Severity | None = None
    channels: tuple[ChannelName, ...] | None = Field(default=None, max_length=MAX_CHANNELS)
    alert: AlertRule | None = None
    retention: PositiveDuration | None = None
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
