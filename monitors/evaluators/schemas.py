"""What an evaluator reads and returns (the contract for evaluation runs and LLM monitors)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


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
