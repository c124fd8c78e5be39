"""Options of each signal kind: typed, bounded, and only what the run of that kind reads.

A spec writes them as a mapping (``options: {pos_label: 1, metric: f1}``); the signal's
``kind`` picks the model that checks them, so an unknown, mistyped or out-of-range option is
refused at apply, naming it, instead of being ignored at run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from monitors.specs.llm_options import (
    LlmErrorsOptions,
    LlmLatencyOptions,
    LlmPromptDriftOptions,
    LlmQualityOptions,
    LlmUsageOptions,
)

MAX_NAME = 256  # a column name or a label value
# Groups are the intersections of the sensitive features: their number is a product.
MAX_SENSITIVE_FEATURES = 8
MAX_GROUP_SIZE = 1_000_000_000
MAX_INT = 2**63
Loc = tuple[str | int, ...]


class SignalKind(StrEnum):
    """Signals of the statistics engine a monitor can compute."""

    data_drift = "data_drift"
    prediction_drift = "prediction_drift"
    data_quality = "data_quality"
    performance = "performance"
    fairness = "fairness"
    attribution_drift = "attribution_drift"
    estimated_performance = "estimated_performance"
    multivariate_drift = "multivariate_drift"
    llm_quality = "llm_quality"
    llm_usage = "llm_usage"
    llm_latency = "llm_latency"
    llm_errors = "llm_errors"
    llm_prompt_drift = "llm_prompt_drift"


def _label(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_NAME:
        message = "a label has at most {max} characters"
        raise PydanticCustomError("label", message, {"max": MAX_NAME})
    if not isinstance(value, str | int | bool):
        raise PydanticCustomError("label", "a label is a string, an integer or a boolean")
    if isinstance(value, int) and not -MAX_INT <= value < MAX_INT:
        raise PydanticCustomError("label", "an integer label fits in 64 bits")
    return value


Column = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Rate = Annotated[float, Field(ge=0, le=1)]
Label = Annotated[bool | int | str, BeforeValidator(_label)]
Task = Literal["classification", "regression"]
# The metrics a run computes from labels and predictions; the last three of a classifier need
# the logged probabilities (``SCORE_METRICS``).
SCORE_METRICS = ("roc_auc", "log_loss", "calibration_error")
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", *SCORE_METRICS)
REGRESSION_METRICS = ("rmse", "mae", "mse", "r2")
METRICS_OF: dict[str, tuple[str, ...]] = {
    "classification": CLASSIFICATION_METRICS,
    "regression": REGRESSION_METRICS,
}
Metric = Literal[
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "calibration_error",
    "rmse",
    "mae",
    "mse",
    "r2",
]
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "log_loss", "calibration_error"})
MAX_BINS = 1000


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# Multiple-testing corrections across the features of one signal (bh: Benjamini-Hochberg).
Correction = Literal["none", "bonferroni", "holm", "bh"]
MAX_WINDOW_ROWS = 1_000_000_000


# None: the preset's minimum (steward: 30 rows, 2 per test beyond 15 tests; others: 30).
WindowRows = Annotated[int | None, Field(ge=1, le=MAX_WINDOW_ROWS)]


class DataDriftOptions(_Options):
    """The correction of the features' p-values and the smallest window tested.

    ``preset``, ``method``, ``feature_threshold`` and ``threshold`` are the signal's fields.
    """

    # None: the preset's (steward: holm; evidently and azure: none, as those tools do)
    correction: Correction | None = None
    min_window_rows: WindowRows = None


class PredictionDriftOptions(_Options):
    """The column of the window (and the reference) that holds the prediction."""

    column: Column = "prediction"
    min_window_rows: WindowRows = None


class DataQualityOptions(_Options):
    """Rates (0 to 1) above which a quality check raises an issue for a feature."""

    null_rate_increase: Rate = 0.05
    type_error_rate: Rate = 0.0
    out_of_range_rate: Rate = 0.05
    unseen_category_rate: Rate = 0.01


def _label_problems(
    task: str, pos_label: Label | None, classes: tuple[Label, ...] | None
) -> list[tuple[Loc, str]]:
    """A positive class or class order given for a regression, or classes named twice."""
    given = {"pos_label": pos_label, "classes": classes}
    found: list[tuple[Loc, str]] = [
        ((name,), f"{name} applies to classification only")
        for name, value in given.items()
        if task == "regression" and value is not None
    ]
    if classes is not None and len(set(classes)) != len(classes):
        found.append((("classes",), "classes are distinct"))
    return found


class PerformanceOptions(_Options):
    """The task, the metric ``threshold`` bounds, and the positive class."""

    task: Task = "classification"
    # None: accuracy (classification) or rmse (regression).
    metric: Metric | None = None
    pos_label: Label | None = None
    # The classes in the order of the logged probabilities; None: sorted, as sklearn's classes_.
    classes: tuple[Label, ...] | None = Field(default=None, min_length=2, max_length=MAX_NAME)
    # Equal-width bins of the expected calibration error (sklearn's calibration_curve).
    calibration_bins: int = Field(default=10, ge=2, le=MAX_BINS)

    @property
    def headline(self) -> str:
        """The metric the signal's threshold bounds."""
        return self.metric or METRICS_OF[self.task][0]

    def problems(self) -> list[tuple[Loc, str]]:
        """Options that contradict each other (checked by the signal, which knows the rest)."""
        found: list[tuple[Loc, str]] = []
        if self.metric is not None and self.metric not in METRICS_OF[self.task]:
            allowed = ", ".join(METRICS_OF[self.task])
            found.append((("metric",), f"{self.metric} is not a {self.task} metric ({allowed})"))
        return found + _label_problems(self.task, self.pos_label, self.classes)


class FairnessOptions(_Options):
    """Sensitive features, the positive class and the disparity limits (fairlearn's)."""

    sensitive_features: tuple[Column, ...] | None = Field(
        default=None, min_length=1, max_length=MAX_SENSITIVE_FEATURES
    )
    pos_label: Label | None = None
    min_group_size: int = Field(default=30, ge=1, le=MAX_GROUP_SIZE)
    demographic_parity_ratio: Rate | None = 0.8
    demographic_parity_difference: Rate | None = None
    equalized_odds_ratio: Rate | None = None
    equalized_odds_difference: Rate | None = None
    # absolute: alert when the window crosses a limit; reference: when a watched disparity (one
    # with a limit) is worse than the reference's by more than its sampling error.
    compare: Literal["absolute", "reference"] = "absolute"
    # One-sided significance of "worse than the reference" (compare: reference).
    significance: float = Field(default=0.05, gt=0, lt=0.5)


class AttributionMethod(StrEnum):
    """Whose attributions are compared: the model's own, or a surrogate of its outputs."""

    auto = "auto"  # the model when Steward holds the version serving the window, else surrogate
    model = "model"  # the model only: the signal fails when Steward does not hold it
    surrogate = "surrogate"


class AttributionDriftOptions(_Options):
    """The cut-off of the NDCG, the rows explained, the surrogate's fidelity, whose attributions.

    ``threshold`` (the signal's field) is the NDCG below which the signal breaches (0.9, as
    Azure ML); ``features`` are the features explained.
    """

    # NDCG@top_n of the window's ranking; None: every feature.
    top_n: int | None = Field(default=None, ge=1, le=10_000)
    # Rows each side's surrogate learns from and explains (a seeded sample): bounds the cost.
    max_rows: int = Field(default=2000, ge=100, le=100_000)
    # R2 (numeric outputs) or balanced accuracy (classes) of a surrogate against the model on
    # held-out rows, below which its attributions are not the model's: the signal fails.
    min_fidelity: float = Field(default=0.7, ge=0, le=1)
    # Smaller windows are not judged (not breached, ndcg None, "window too small").
    min_window_rows: int = Field(default=200, ge=40, le=MAX_WINDOW_ROWS)
    # The model itself when Steward holds the version serving the window (auto), or never.
    method: AttributionMethod = AttributionMethod.auto
    # Rows of each side the model itself is explained on (a seeded sample): bounds the cost.
    sample_size: int = Field(default=500, ge=50, le=20_000)
    # Reference rows that stand in for a feature the model-agnostic explainer masks out.
    background_size: int = Field(default=50, ge=5, le=1000)


# Metrics estimated without labels: CBPE for binary classifiers, DLE for regressors.
ESTIMATED_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("roc_auc", "accuracy", "f1", "precision", "recall"),
    "regression": ("mae", "rmse"),
}
MAX_REFERENCE_CHUNKS = 100


class EstimatedPerformanceOptions(_Options):
    """Performance estimated without labels: CBPE (classification) or DLE (regression).

    ``threshold`` (the signal's field) bounds the estimated metric (a floor for scores, a
    ceiling for losses); the estimate also breaches outside the reference's band.
    """

    task: Task = "classification"
    # None: roc_auc (classification) or mae (regression).
    metric: Literal["roc_auc", "accuracy", "f1", "precision", "recall", "mae", "rmse"] | None = None
    pos_label: Label | None = None
    # The two classes in the order of the logged probabilities; None: sorted.
    classes: tuple[Label, ...] | None = Field(default=None, min_length=2, max_length=2)
    # Reference chunks whose realised metric gives the band (mean +/- 3 sigma, NannyML's).
    chunks: int = Field(default=10, ge=2, le=MAX_REFERENCE_CHUNKS)
    # None: 30 rows; smaller windows are estimated but never breach.
    min_window_rows: WindowRows = None

    @property
    def headline(self) -> str:
        """The metric estimated and judged."""
        return self.metric or ESTIMATED_METRICS[self.task][0]

    def problems(self) -> list[tuple[Loc, str]]:
        """Options that contradict each other."""
        found: list[tuple[Loc, str]] = []
        if self.metric is not None and self.metric not in ESTIMATED_METRICS[self.task]:
            allowed = ", ".join(ESTIMATED_METRICS[self.task])
            text = f"{self.metric} is not an estimated {self.task} metric ({allowed})"
            found.append((("metric",), text))
        return found + _label_problems(self.task, self.pos_label, self.classes)


MAX_CLASSIFIER_CHUNKS = 50


class MultivariateDriftOptions(_Options):
    """Joint drift of the features: PCA reconstruction error or a domain classifier.

    Either is judged against mean +/- 3 sigma of its value over ``chunks`` reference chunks
    of the window's size (nannyml's thresholds), or against the signal's ``threshold``.
    """

    method: Literal["reconstruction_error", "domain_classifier"] = "reconstruction_error"
    # reconstruction_error: the share of the variance the PCA keeps (nannyml's 0.65)
    explained_variance: float = Field(default=0.65, gt=0, lt=1)
    # None: 200 chunks (reconstruction_error: each costs a mean), 10 (domain_classifier: each
    # trains cv_folds classifiers; at most MAX_CLASSIFIER_CHUNKS)
    chunks: int | None = Field(default=None, ge=3, le=1000)
    # A smaller window is not judged (and says so).
    min_window_rows: int = Field(default=50, ge=2, le=MAX_WINDOW_ROWS)
    # domain_classifier: folds of the cross-validated AUROC, and the reference rows (a seeded
    # sample) the classifier tells from the window's (a larger window is sampled down to it)
    cv_folds: int = Field(default=5, ge=2, le=10)
    max_reference_rows: int = Field(default=2000, ge=100, le=100_000)


SignalOptions = (
    DataDriftOptions
    | PredictionDriftOptions
    | DataQualityOptions
    | PerformanceOptions
    | FairnessOptions
    | AttributionDriftOptions
    | EstimatedPerformanceOptions
    | MultivariateDriftOptions
    | LlmQualityOptions
    | LlmUsageOptions
    | LlmLatencyOptions
    | LlmErrorsOptions
    | LlmPromptDriftOptions
)
OPTIONS: dict[SignalKind, type[BaseModel]] = {
    SignalKind.data_drift: DataDriftOptions,
    SignalKind.prediction_drift: PredictionDriftOptions,
    SignalKind.data_quality: DataQualityOptions,
    SignalKind.performance: PerformanceOptions,
    SignalKind.fairness: FairnessOptions,
    SignalKind.attribution_drift: AttributionDriftOptions,
    SignalKind.estimated_performance: EstimatedPerformanceOptions,
    SignalKind.multivariate_drift: MultivariateDriftOptions,
    SignalKind.llm_quality: LlmQualityOptions,
    SignalKind.llm_usage: LlmUsageOptions,
    SignalKind.llm_latency: LlmLatencyOptions,
    SignalKind.llm_errors: LlmErrorsOptions,
    SignalKind.llm_prompt_drift: LlmPromptDriftOptions,
}
# Signals of an LLM endpoint's traces (monitors.traces): only on LLM endpoints, and only they.
LLM_KINDS = frozenset(
    {
        SignalKind.llm_quality,
        SignalKind.llm_usage,
        SignalKind.llm_latency,
        SignalKind.llm_errors,
        SignalKind.llm_prompt_drift,
    }
)
# The signal's own fields (beside name and severity) that each kind's run reads.
SETTINGS_USED: dict[SignalKind, frozenset[str]] = {
    SignalKind.data_drift: frozenset(
        {"preset", "method", "feature_threshold", "threshold", "features"}
    ),
    SignalKind.prediction_drift: frozenset({"preset", "method", "feature_threshold"}),
    SignalKind.data_quality: frozenset({"threshold", "features"}),
    SignalKind.performance: frozenset({"threshold"}),
    SignalKind.fairness: frozenset({"features"}),
    SignalKind.attribution_drift: frozenset({"threshold", "features"}),
    SignalKind.estimated_performance: frozenset({"threshold", "features"}),
    SignalKind.multivariate_drift: frozenset({"threshold", "features"}),
    SignalKind.llm_quality: frozenset({"threshold"}),
    SignalKind.llm_usage: frozenset(),
    SignalKind.llm_latency: frozenset(),
    SignalKind.llm_errors: frozenset(),
    SignalKind.llm_prompt_drift: frozenset(),
}


def option_names(kind: SignalKind) -> tuple[str, ...]:
    """The options a signal of ``kind`` takes."""
    return tuple(OPTIONS[kind].model_fields)


def parse_options(kind: SignalKind, value: Any) -> SignalOptions:
    """Check ``value`` against the options of ``kind``; errors name each refused option."""
    model = OPTIONS[kind]
    if isinstance(value, model):
        return value  # type: ignore[return-value]
    if isinstance(value, BaseModel):  # another kind's options, built in code
        value = value.model_dump(exclude_defaults=True)
    try:
        parsed: SignalOptions = model.model_validate(value)  # type: ignore[assignment]
    except ValidationError as exc:
        raise refusal(exc.title, (_explained(kind, e) for e in exc.errors())) from None
    return parsed


def _explained(kind: SignalKind, error: Any) -> InitErrorDetails:
    """An unknown option's error says which options the kind takes (and who takes this one)."""
    if error["type"] != "extra_forbidden":
        # Rebuilt from its message: custom error types cannot be re-raised by their name.
        return _custom(error["type"], error["loc"], error["msg"], error["input"])
    name = str(error["loc"][-1])
    known = option_names(kind)
    takes = f"their options are {', '.join(known)}" if known else "they take no options"
    others = [str(k) for k in SignalKind if k != kind and name in OPTIONS[k].model_fields]
    elsewhere = f" ({name!r} is an option of {', '.join(others)})" if others else ""
    message = f"unknown option {name!r} for {kind} signals: {takes}{elsewhere}"
    return _custom("unknown_option", error["loc"], message, error["input"])


def refusal(title: str, problems: Iterable[InitErrorDetails]) -> ValidationError:
    """One ValidationError of several problems; raised in a validator, its locs nest."""
    return ValidationError.from_exception_data(title, list(problems))


def problem(loc: Loc, message: str, value: Any) -> InitErrorDetails:
    """A refusal of ``value`` at ``loc`` with a message of our own."""
    return _custom("not_applicable", loc, message, value)


def _custom(kind: str, loc: Loc, message: str, value: Any) -> InitErrorDetails:
    # The message goes through the context: pydantic formats templates, and user text
    # (an option's name) may hold braces.
    error = PydanticCustomError(kind, "{message}", {"message": message})
    return InitErrorDetails(type=error, loc=loc, input=value)
