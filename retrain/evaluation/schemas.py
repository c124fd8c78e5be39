"""What leaves retrain.evaluation: an evaluation run's request, state, results and rows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitors.evaluators.schemas import EvaluatorName

LABEL = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_VARIANTS = 8
MAX_SAMPLE = 5000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EvaluationState(StrEnum):
    """Where an evaluation run is: generating (the server asks the models), then its pipeline."""

    queued = "queued"
    generating = "generating"
    running = "running"  # its pipeline run computes the statistics
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def ended(self) -> bool:
        """Whether the run will not change any more."""
        return self in (EvaluationState.succeeded, EvaluationState.failed,
                        EvaluationState.cancelled)  # fmt: skip


class VariantSpec(_Request):
    """One variant: a prompt (``name``, ``name@3``, ``name@alias``) and who generates."""

    name: str = Field(pattern=LABEL)
    prompt: str = Field(min_length=1, max_length=300)
    connection: str = Field(min_length=1, max_length=100)
    model: str | None = Field(default=None, min_length=1, max_length=200)


class EvaluationCreate(_Request):
    """Launch an evaluation run: a dataset version, two or more variants, evaluators."""

    dataset: str = Field(min_length=1, max_length=300)  # "name" (newest) or "name@version"
    variants: list[VariantSpec] = Field(min_length=2, max_length=MAX_VARIANTS)
    evaluators: list[EvaluatorName] = Field(min_length=1, max_length=len(EvaluatorName))
    judge_connection: str | None = Field(default=None, min_length=1, max_length=100)
    # rows drawn at random from the dataset when it has more (seeded by the run)
    sample: int = Field(default=200, ge=2, le=MAX_SAMPLE)
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    query_column: str = Field(default="query", min_length=1, max_length=200)

    @field_validator("variants")
    @classmethod
    def _unique(cls, value: list[VariantSpec]) -> list[VariantSpec]:
        if len({v.name for v in value}) != len(value):
            raise ValueError("variant names must be unique")
        return value

    @field_validator("evaluators")
    @classmethod
    def _distinct(cls, value: list[EvaluatorName]) -> list[EvaluatorName]:
        return list(dict.fromkeys(value))


class ResolvedVariant(_Frozen):
    """A variant with its prompt pinned to one version at launch (so the run repeats)."""

    name: str
    prompt: str  # the prompt's name
    prompt_version: int
    connection: str
    model: str


class Aggregate(_Frozen):
    """One variant's scores on one evaluator (``failures``: rows the evaluator could not score)."""

    variant: str
    evaluator: EvaluatorName
    n: int
    failures: int
    mean: float | None
    std: float | None
    ci_low: float | None  # 95% t interval
    ci_high: float | None
    bootstrap_low: float | None  # 95% percentile bootstrap (seeded)
    bootstrap_high: float | None


class Comparison(_Frozen):
    """Variant ``a`` against ``b`` on one evaluator, paired over the rows both scored."""

    evaluator: EvaluatorName
    a: str
    b: str
    n: int
    mean_difference: float | None  # mean of a - b
    ci_low: float | None
    ci_high: float | None
    t_p: float | None
    wilcoxon_p: float | None
    p_adjusted: float | None  # Holm over the evaluator's pairs when more than two variants
    winner: str | None
    significant: bool


class Evaluation(_Frozen):
    """An evaluation run with what it has computed so far."""

    id: UUID
    project: str
    state: EvaluationState
    dataset: str
    dataset_version: str
    variants: list[ResolvedVariant]
    evaluators: list[EvaluatorName]
    judge_connection: str | None
    sample: int
    alpha: float
    query_column: str
    pipeline_run_id: UUID | None = None
    rows_dataset: str | None = None  # the per-row results, a dataset version of the project
    rows_version: str | None = None
    rows: int = 0
    aggregates: list[Aggregate] = Field(default_factory=list)
    comparisons: list[Comparison] = Field(default_factory=list)
    error: str | None = None
    created_by: str
    created_at: datetime
    ended_at: datetime | None = None


class EvaluationPage(_Frozen):
    """A page of evaluation runs, newest first."""

    items: list[Evaluation]
    next_cursor: str | None = None


class RowPage(_Frozen):
    """Per-row results: one item per dataset row and variant."""

    items: list[dict[str, Any]]
    total: int
    offset: int
    next_offset: int | None
