"""Synthetic LLM endpoint traffic: records with the trace columns, per day and prompt version."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from monitors.evaluators.schemas import EvalCase, EvaluatorName, Score

DAY = timedelta(days=1)
TOPICS = ("billing", "refund", "password", "shipping", "invoice", "warranty")
GOOD = "Here is a complete and helpful answer about {topic}: follow step {step} in your account."
BAD = "Not sure about {topic}, maybe try step {step} again later."


@dataclass(frozen=True, kw_only=True)
class Day:
    """One day of traffic: how many requests, which prompt version answered, how it errs."""

    requests: int
    version: str = "1"
    error_rate: float = 0.02
    topics: Sequence[str] = TOPICS


def answer_of(version: str, topic: str, step: int) -> str:
    """Version 1 answers well; any other version answers badly."""
    return (GOOD if version == "1" else BAD).format(topic=topic, step=step)


def records(start: datetime, days: Sequence[Day], *, seed: int = 7) -> list[dict[str, Any]]:
    """Inference records (capture's JSON shape) for consecutive days from ``start``."""
    rng = random.Random(seed)
    out = []
    for index, day in enumerate(days):
        for i in range(day.requests):
            when = start + index * DAY + timedelta(seconds=rng.uniform(0, 86_000))
            out.append(_record(rng, when, day, f"d{index}-{i}"))
    return out


def _record(rng: random.Random, when: datetime, day: Day, ident: str) -> dict[str, Any]:
    topic = rng.choice(list(day.topics))
    prompt = f"Customer question about {topic} number {rng.randint(1, 999)}: what should I do?"
    failed = rng.random() < day.error_rate
    answer = "" if failed else answer_of(day.version, topic, rng.randint(1, 99))
    features = {
        "trace_id": f"t{ident}", "span_id": f"s{ident}", "operation": "chat",
        "system": "openai", "model": "gpt-small", "prompt_name": "support",
        "prompt_version": day.version, "prompt": prompt, "context": None,
        "input_tokens": len(prompt.split()) + 20, "output_tokens": len(answer.split()),
        "latency_ms": round(rng.lognormvariate(6.0, 0.3), 3),
        "status": "error" if failed else "ok",
        "error_type": "timeout" if failed else None,
        "finish_reason": None if failed else "stop",
    }  # fmt: skip
    return {
        "correlation_id": f"t{ident}:s{ident}",
        "timestamp": when.isoformat(),
        "features": features,
        "prediction": answer or None,
    }


def as_table(items: Sequence[dict[str, Any]]) -> pa.Table:
    """The records as the capture store reads them back (flat columns, UTC timestamps)."""
    rows = [
        {
            "correlation_id": r["correlation_id"],
            "timestamp": datetime.fromisoformat(r["timestamp"]),
            **r["features"],
            "prediction": r["prediction"],
        }
        for r in items
    ]
    table = pa.Table.from_pylist(rows)
    return table.set_column(
        table.schema.get_field_index("timestamp"),
        "timestamp",
        table.column("timestamp").cast(pa.timestamp("us", tz="UTC")),
    )


def body(items: Sequence[dict[str, Any]]) -> bytes:
    """A JSON inference batch."""
    return json.dumps({"records": list(items)}).encode()


def score_answer(text: str) -> int:
    """The judge's rule: a good answer scores 3 to 5, a bad one 1 or 2 (spread by its text)."""
    spread = sum(map(ord, text))
    return 3 + spread % 3 if "helpful" in text else 1 + spread % 2


@dataclass
class RuleJudge:
    """An in-memory judge (the run's CaseJudge seam) scoring answers by ``score_of``."""

    score_of: Callable[[str], float | None] = score_answer
    calls: int = 0

    def score(
        self, *, project: str, evaluators: Sequence[EvaluatorName], cases: Sequence[EvalCase],
        connection: str | None,
    ) -> list[list[Score]]:  # fmt: skip
        """Every evaluator gives each case ``score_of(response)``."""
        self.calls += len(cases) * len(evaluators)
        return [
            [Score(evaluator=e, value=self.score_of(c.response)) for e in evaluators] for c in cases
        ]
