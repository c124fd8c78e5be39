"""Options of the LLM signals: what an LLM endpoint's monitor judges, samples, prices and bounds.

Every limit is judged with its sampling error (a one-sided test, a Wilson bound, an
order-statistic bound), so that a small window of unshifted traffic never breaches on noise.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from monitors.evaluators.schemas import EvaluatorName

Loc = tuple[str | int, ...]
NAME = r"^[a-z0-9][a-z0-9._-]{0,62}$"
MAX_MODELS = 200
MAX_PHRASES = 50
# One-sided significance of every LLM limit (Bonferroni over the limits of one signal).
DEFAULT_SIGNIFICANCE = 0.01
Significance = Annotated[float, Field(gt=0, lt=0.5)]
Positive = Annotated[float, Field(gt=0)]
Rate = Annotated[float, Field(ge=0, le=1)]


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class LlmQualityOptions(_Options):
    """Evaluator scores of a seeded random sample of the window's answers.

    The signal's ``threshold`` is a floor of each evaluator's mean score (breached when the mean
    is below it beyond its sampling error); ``baseline`` compares with the reference's sample
    (the monitor's reference: a past window, e.g. the previous N windows, or a dataset).
    """

    evaluators: tuple[EvaluatorName, ...] = Field(min_length=1, max_length=len(EvaluatorName))
    # The project's judge connection (needed by judged evaluators).
    connection: str | None = Field(default=None, pattern=NAME)
    # Answers scored per window (and per reference): bounds the judge's calls.
    sample_size: int = Field(default=50, ge=1, le=2000)
    # Fewer scored answers than this: the window is too small to judge (never breaches).
    min_scored: int = Field(default=10, ge=2, le=2000)
    baseline: bool = True
    # The drop from the baseline that matters, in pooled standard deviations (Cohen's d): the
    # test is one of non-inferiority within this margin; 0 tests any drop.
    min_effect: float = Field(default=0.5, ge=0, le=10)
    significance: Significance = DEFAULT_SIGNIFICANCE

    def problems(self, threshold: float | None) -> list[tuple[Loc, str]]:
        """Contradictions: evaluators named twice, nothing to compare with, a sample too small."""
        found: list[tuple[Loc, str]] = []
        if len(set(self.evaluators)) != len(self.evaluators):
            found.append((("evaluators",), "evaluators are named once each"))
        if not self.baseline and threshold is None:
            text = "nothing to compare with: set baseline, or give a threshold (a floor)"
            found.append((("baseline",), text))
        if self.connection is None and any(e.judged for e in self.evaluators):
            judged = ", ".join(e for e in self.evaluators if e.judged)
            found.append((("connection",), f"{judged} ask a judge: name its connection"))
        if self.min_scored > self.sample_size:
            text = f"min_scored is above sample_size ({self.sample_size}): never judged"
            found.append((("min_scored",), text))
        return found


class Price(_Options):
    """What a model costs per 1,000 input and output tokens (in the project's currency)."""

    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)


class LlmUsageOptions(_Options):
    """Tokens per request and in total, and their cost from a price table, with budgets.

    A model missing from ``prices`` is reported as unpriced (its requests are counted), never
    priced at zero. Budgets are the window's actual totals and means, not estimates.
    """

    prices: dict[Annotated[str, Field(min_length=1, max_length=200)], Price] = Field(
        default_factory=dict, max_length=MAX_MODELS
    )
    max_input_tokens_per_request: Positive | None = None
    max_output_tokens_per_request: Positive | None = None
    max_total_tokens: Positive | None = None
    max_cost: Positive | None = None
    max_cost_per_request: Positive | None = None

    def problems(self) -> list[tuple[Loc, str]]:
        """A cost budget without prices can never be judged."""
        costs = ("max_cost", "max_cost_per_request")
        return [
            ((name,), f"{name} needs prices: give the models' prices")
            for name in costs
            if getattr(self, name) is not None and not self.prices
        ]


class LlmLatencyOptions(_Options):
    """Latency percentiles; a limit breaches when the percentile's lower confidence bound
    (distribution-free, from the order statistics) is above it."""

    max_p50_ms: Positive | None = None
    max_p95_ms: Positive | None = None
    max_p99_ms: Positive | None = None
    significance: Significance = DEFAULT_SIGNIFICANCE


DEFAULT_REFUSALS = (
    "i can't help with that",
    "i cannot help with that",
    "i can't assist with that",
    "i cannot assist with that",
    "i'm sorry, but i can't",
    "i am sorry, but i cannot",
    "i'm unable to help with",
)


class LlmErrorsOptions(_Options):
    """Error and refusal rates; a limit breaches when the rate's Wilson lower bound is above it.

    A refusal is an answer whose finish reason is ``content_filter`` or that contains one of
    ``refusal_phrases`` (case-insensitive); its rate is over the answered requests.
    """

    max_error_rate: Rate | None = None
    max_refusal_rate: Rate | None = None
    refusal_phrases: tuple[Annotated[str, Field(min_length=3, max_length=200)], ...] = Field(
        default=DEFAULT_REFUSALS, max_length=MAX_PHRASES
    )
    significance: Significance = DEFAULT_SIGNIFICANCE


class LlmPromptDriftOptions(_Options):
    """Drift of prompt lengths and topics with the steward preset's tests (ks, chi-square).

    A prompt's topic is the most specific of the reference's ``top_terms`` terms it contains
    (``(other)`` when none): one category per request, so the chi-square test's unit is the
    request and its p-value is honest. Embeddings are not used.
    """

    length: Literal["characters", "tokens"] = "characters"
    top_terms: int = Field(default=20, ge=2, le=200)
    bigrams: bool = False
    # None: the steward preset's minimum
    min_window_rows: int | None = Field(default=None, ge=1, le=1_000_000_000)
    # An embedding connection: not implemented, so refused (an option never silently ignored).
    embeddings: str | None = Field(default=None, max_length=200)

    def problems(self) -> list[tuple[Loc, str]]:
        """Embedding drift is refused: Steward's prompt drift is embedding-free."""
        if self.embeddings is None:
            return []
        text = (
            "embedding drift is not available: llm_prompt_drift compares prompt lengths and "
            "topics (terms) without embeddings; leave embeddings out"
        )
        return [(("embeddings",), text)]
