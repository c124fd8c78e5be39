"""The server's part of an evaluation run: render each row per variant, generate, score.

It needs the project's connections (their secrets) and the database, so it runs in the server
and never in a pipeline step's process. Each (row, variant) becomes one result row; a row whose
prompt cannot be rendered or whose completion failed keeps its error and no scores, and an
evaluator that could not score a row leaves its score empty (None), never zero.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import StewardError
from governance.core.settings import Settings
from lineage.prompts.schemas import PromptVersion
from monitors.evaluators.schemas import EvalCase, EvaluatorName, Score
from retrain.evaluation.schemas import Evaluation, ResolvedVariant

if TYPE_CHECKING:
    import pyarrow as pa

SCORE, ERROR = "score_", "error_"
GROUND_TRUTH, CONTEXT = "ground_truth", "context"
PARALLEL = 8  # completions asked at once: LLM calls wait on the network


@dataclass(frozen=True, kw_only=True, slots=True)
class Completion:
    """One generation: its text (None when it failed and why), latency and token counts."""

    text: str | None
    error: str | None = None
    latency_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Generator(Protocol):
    """Asks a project connection for one chat completion (never raises for a failed call)."""

    def __call__(
        self, *, connection: str, model: str, messages: list[dict[str, str]],
        parameters: Mapping[str, Any],
    ) -> Completion:  # fmt: skip
        """The completion, or its error."""
        ...


Scorer = Callable[[Sequence[EvalCase], str | None], list[list[Score]]]


def results(
    rows: Sequence[Mapping[str, Any]], *, evaluation: Evaluation,
    prompts: Mapping[str, PromptVersion], generate: Generator, score: Scorer,
) -> list[dict[str, Any]]:  # fmt: skip
    """One result per (row, variant), in row order then variant order."""
    out: list[dict[str, Any]] = []
    for variant in evaluation.variants:
        out += _variant(rows, evaluation, variant, prompts[variant.name], generate, score)
    return sorted(out, key=lambda r: (r["row"], [v.name for v in evaluation.variants].index(
        r["variant"])))  # fmt: skip


def _variant(
    rows: Sequence[Mapping[str, Any]], evaluation: Evaluation, variant: ResolvedVariant,
    prompt: PromptVersion, generate: Generator, score: Scorer,
) -> list[dict[str, Any]]:  # fmt: skip
    def one(index: int) -> dict[str, Any]:
        return _generate_row(index, rows[index], evaluation, variant, prompt, generate)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        generated = list(pool.map(one, range(len(rows))))
    answered = [r for r in generated if r["completion"] is not None]
    cases = [_case(rows[r["row"]], r, evaluation.query_column) for r in answered]
    scores = score(cases, evaluation.judge_connection) if cases else []
    for record, verdicts in zip(answered, scores, strict=True):
        for verdict in verdicts:
            record[SCORE + verdict.evaluator.value] = verdict.value
            record[ERROR + verdict.evaluator.value] = verdict.error
    return generated


def _generate_row(
    index: int, row: Mapping[str, Any], evaluation: Evaluation, variant: ResolvedVariant,
    prompt: PromptVersion, generate: Generator,
) -> dict[str, Any]:  # fmt: skip
    from lineage.prompts.service import render_prompt

    record: dict[str, Any] = {
        "row": index, "variant": variant.name,
        "prompt": f"{variant.prompt}@{variant.prompt_version}", "rendered": None,
        "completion": None, "generation_error": None, "latency_ms": None,
        "prompt_tokens": None, "completion_tokens": None,
    }  # fmt: skip
    for evaluator in evaluation.evaluators:
        record[SCORE + evaluator.value], record[ERROR + evaluator.value] = None, "not generated"
    try:
        variables = {k: row.get(k) for k in prompt.variables}
        messages = [{"role": m.role.value, "content": m.content}
                    for m in render_prompt(prompt, variables)]  # fmt: skip
    except StewardError as exc:
        record["generation_error"] = exc.detail[:500]
        return record
    record["rendered"] = json.dumps(messages, ensure_ascii=False)
    started = time.perf_counter()
    done = generate(connection=variant.connection, model=variant.model, messages=messages,
                    parameters=prompt.model_parameters)  # fmt: skip
    record["latency_ms"] = done.latency_ms or (time.perf_counter() - started) * 1000
    record.update(
        completion=done.text,
        generation_error=done.error,
        prompt_tokens=done.prompt_tokens,
        completion_tokens=done.completion_tokens,
    )
    return record


def _case(row: Mapping[str, Any], record: Mapping[str, Any], query_column: str) -> EvalCase:
    query = row.get(query_column)
    if query is None and record["rendered"]:
        users = [m["content"] for m in json.loads(record["rendered"]) if m["role"] == "user"]
        query = users[-1] if users else None
    return EvalCase(
        query=None if query is None else str(query), response=str(record["completion"]),
        context=_text(row.get(CONTEXT)), ground_truth=_text(row.get(GROUND_TRUTH)),
    )  # fmt: skip


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def results_table(
    records: Sequence[Mapping[str, Any]], evaluators: Sequence[EvaluatorName]
) -> pa.Table:
    """The results as a typed Arrow table (empty scores stay nulls)."""
    import pyarrow as pa

    fields = [("row", pa.int64()), ("variant", pa.string()), ("prompt", pa.string()),
              ("rendered", pa.string()), ("completion", pa.string()),
              ("generation_error", pa.string()), ("latency_ms", pa.float64()),
              ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64())]  # fmt: skip
    for e in evaluators:
        fields += [(SCORE + e.value, pa.float64()), (ERROR + e.value, pa.string())]
    schema = pa.schema(fields)
    return pa.Table.from_pylist([dict(r) for r in records], schema=schema)


def scorer(db: Database, *, settings: Settings, project: str, evaluators: Sequence[EvaluatorName],
           clock: Clock) -> Scorer:  # fmt: skip
    """Scores cases with the project's evaluators (judges through the judge connection)."""
    from monitors.evaluators.service import score_cases

    def score(cases: Sequence[EvalCase], connection: str | None) -> list[list[Score]]:
        return score_cases(db, settings=settings, project=project, evaluators=evaluators,
                           cases=cases, connection=connection, clock=clock)  # fmt: skip

    return score
