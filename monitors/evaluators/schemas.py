"""What an evaluator reads and returns (the contract for evaluation runs and LLM monitors)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class EvaluatorName(StrEnum):
    """Every evaluator Steward ships; deterministic ones need no model, judges need one."""

    f1_score = "f1_score"
    bleu = "bleu"
    gleu = "gleu"
    meteor = "meteor"
    rouge_1 = "rouge_1"
    rouge_2 = "rouge_2"
    rouge_l = "rouge_l"
    groundedness = "groundedness"
    relevance = "relevance"
    coherence = "coherence"
    fluency = "fluency"
    similarity = "similarity"

    @property
    def judged(self) -> bool:
        """Whether the evaluator asks a judge model (and so costs calls and budget)."""
        return self in _JUDGED


_JUDGED = frozenset(
    {
        EvaluatorName.groundedness,
        EvaluatorName.relevance,
        EvaluatorName.coherence,
        EvaluatorName.fluency,
        EvaluatorName.similarity,
    }
)


class EvalCase(BaseModel):
    """One answer to score: the question, the answer, and what it is judged against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str | None = None
    response: str
    context: str | None = None
    ground_truth: str | None = None


class Score(BaseModel):
    """One evaluator's verdict on one case; ``value`` is None when it could not be scored."""

    model_config = ConfigDict(frozen=True)

    evaluator: EvaluatorName
    value: float | None
    reason: str | None = None
    error: str | None = None


# -- judge connections and the evaluate request (issue 16) --

CONNECTION_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
ENV_KEY = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]{0,127})$")
MAX_CASES = 100
MAX_FIELD_CHARS = 20_000


class KeySource(StrEnum):
    """Where a connection's API key comes from."""

    none = "none"
    env = "env"
    sealed = "sealed"


class ConnectionSet(BaseModel):
    """Create or replace a judge connection; ``api_key`` is ``env:VAR`` or the key itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(min_length=1, max_length=2000)
    model: str = Field(min_length=1, max_length=200)
    api_key: SecretStr | None = Field(default=None, max_length=4000)
    daily_budget: int = Field(default=1000, ge=0, le=1_000_000)
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    max_retries: int = Field(default=2, ge=0, le=5)


class Connection(BaseModel):
    """A judge connection as shown to callers (never its key)."""

    model_config = ConfigDict(frozen=True)

    project: str
    name: str
    base_url: str
    model: str
    key_source: KeySource
    key_env: str | None
    daily_budget: int
    timeout_seconds: float
    max_retries: int
    updated_at: datetime
    updated_by: str


class EvaluateRequest(BaseModel):
    """Score up to ``MAX_CASES`` cases with the named evaluators (judges need a connection)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evaluators: list[EvaluatorName] = Field(min_length=1, max_length=len(EvaluatorName))
    cases: list[EvalCase] = Field(min_length=1, max_length=MAX_CASES)
    connection: str | None = Field(default=None, pattern=CONNECTION_NAME)

    @field_validator("evaluators")
    @classmethod
    def _distinct(cls, value: list[EvaluatorName]) -> list[EvaluatorName]:
        if len(set(value)) != len(value):
            raise ValueError("an evaluator is named twice")
        return value

    @field_validator("cases")
    @classmethod
    def _bounded(cls, value: list[EvalCase]) -> list[EvalCase]:
        for case in value:
            texts = (case.query, case.response, case.context, case.ground_truth)
            if any(t is not None and len(t) > MAX_FIELD_CHARS for t in texts):
                raise ValueError(f"a case field is longer than {MAX_FIELD_CHARS} characters")
        return value


class EvaluateResult(BaseModel):
    """Per case, one Score per requested evaluator, in request order."""

    model_config = ConfigDict(frozen=True)

    scores: list[list[Score]]
