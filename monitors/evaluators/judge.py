"""Judge evaluators: Steward's 1-to-5 prompts for a chat model, and a strict parser of its replies.

A prompt is the shared preamble plus the evaluator's rubric (``prompts/``) as the system message,
and the case's fields as tagged sections of the user message. Its version is a hash of the text,
so the judge-answer cache never serves an answer given to another prompt. A reply counts only as
a JSON object ``{"score": 1..5, "reason": "..."}`` (bare or in a fenced block) or a reply that
starts with the number; anything else is ``malformed_judge_reply``, never a made-up value.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from governance.core.errors import InvalidInput
from monitors.evaluators.schemas import EvalCase, EvaluatorName, Score

_PROMPTS = Path(__file__).resolve().parent / "prompts"
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL | re.IGNORECASE)
_LEADING = re.compile(r"^\s*(?:score\s*[:=]\s*)?(\d+(?:\.\d+)?)(?!\.?\d)", re.IGNORECASE)
MALFORMED = "malformed_judge_reply"
OUT_OF_RANGE = "judge_score_out_of_range"
MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class JudgeSpec:
    """The case fields a judge reads: those it needs and those it uses when present."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


JUDGES: dict[EvaluatorName, JudgeSpec] = {
    EvaluatorName.groundedness: JudgeSpec(("response", "context"), ("query",)),
    EvaluatorName.relevance: JudgeSpec(("query", "response")),
    EvaluatorName.coherence: JudgeSpec(("query", "response")),
    EvaluatorName.fluency: JudgeSpec(("response",)),
    EvaluatorName.similarity: JudgeSpec(("query", "response", "ground_truth")),
}


@cache
def system_prompt(name: EvaluatorName) -> str:
    """The system message of ``name``'s judge."""
    common = (_PROMPTS / "_common.txt").read_text(encoding="utf-8")
    return common + "\n" + (_PROMPTS / f"{name.value}.txt").read_text(encoding="utf-8")


def prompt_version(name: EvaluatorName) -> str:
    """A short hash of the prompt text (part of every cache key)."""
    return hashlib.sha256(system_prompt(name).encode()).hexdigest()[:16]


def judge_inputs(name: EvaluatorName, case: EvalCase) -> dict[str, str]:
    """The fields ``name`` reads from ``case``; InvalidInput when a needed one is missing."""
    spec = JUDGES[name]
    missing = [f for f in spec.required if not (getattr(case, f) or "").strip()]
    if missing:
        raise InvalidInput(
            f"{name.value} needs {', '.join(missing)}", code="evaluator_input_missing"
        )
    fields = (*spec.required, *spec.optional)
    return {f: getattr(case, f) for f in fields if getattr(case, f) is not None}


def messages(name: EvaluatorName, inputs: dict[str, str]) -> list[dict[str, str]]:
    """The chat messages asking the judge about ``inputs``."""
    order = ("query", "context", "ground_truth", "response")
    sections = [f"<{f}>\n{inputs[f]}\n</{f}>" for f in order if f in inputs]
    return [
        {"role": "system", "content": system_prompt(name)},
        {"role": "user", "content": "\n\n".join(sections)},
    ]


def _score_field(found: dict[str, Any]) -> tuple[Any, str | None]:
    reason = found.get("reason")
    return found.get("score"), reason if isinstance(reason, str) else None


def _object(text: str) -> dict[str, Any] | None:
    for candidate in (text.strip(), *(m.group(1) for m in _FENCE.finditer(text))):
        try:
            found = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    return None


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", raw):
        return float(raw)
    return None


def parse_reply(name: EvaluatorName, text: str) -> Score:
    """The judge's verdict in ``text``, or a Score carrying an error (value None)."""
    found = _object(text)
    if found is not None:
        raw, reason = _score_field(found)
    else:
        leading = _LEADING.match(text)
        raw, reason = (leading.group(1), None) if leading else (None, None)
    value = _number(raw)
    if value is None:
        return Score(evaluator=name, value=None, error=MALFORMED)
    if not 1 <= value <= 5 or value != int(value):
        return Score(evaluator=name, value=None, error=OUT_OF_RANGE)
    return Score(evaluator=name, value=value, reason=reason[:MAX_REASON] if reason else None)
