"""Quality of an LLM endpoint's answers: evaluator scores of a seeded sample of the window.

The window's answered requests are sampled (``sample_size`` at most, seeded by the window's
span: the same window samples the same rows on every rerun) and scored; so is the reference's
sample when ``baseline`` is on. Per evaluator, the window's mean is tested one-sided against
the floor (the signal's ``threshold``) and against the baseline's mean within a margin of
``min_effect`` pooled standard deviations, Bonferroni-corrected over the tests of the signal.
Answers the evaluator could not score are counted, never scored zero; a window with fewer
than ``min_scored`` scores is too small to judge and never breaches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from governance.core.errors import InvalidState
from monitors.evaluators.schemas import EvalCase, EvaluatorName, Score
from monitors.runs.inputs import SignalInput
from monitors.runs.llm_signals import PREDICTION, outcome, require_columns, values
from monitors.runs.llm_stats import Sample, below_floor, dropped
from monitors.runs.schemas import Metric, SignalOutcome
from monitors.specs.llm_options import LlmQualityOptions
from monitors.specs.schemas import Signal
from monitors.stats.columns import LABEL
from monitors.traces import schemas as t

TOO_SMALL = "window too small"


def seed_of(*parts: str) -> int:
    """A 64-bit seed from the names of what is sampled (reproducible across processes)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: a signed 64-bit JSON number


def answered_rows(table: pa.Table) -> list[int]:
    """Rows with an answer to judge: not an error, and a non-empty completion."""
    answers, statuses = values(table, PREDICTION), values(table, t.STATUS)
    return [
        i
        for i, (answer, status) in enumerate(zip(answers, statuses, strict=True))
        if isinstance(answer, str) and answer.strip() and str(status).lower() != "error"
    ]


def sample_rows(rows: Sequence[int], size: int, seed: int) -> list[int]:
    """At most ``size`` of ``rows``, drawn without replacement by ``seed``, in table order."""
    import numpy as np

    if len(rows) <= size:
        return list(rows)
    chosen = np.random.default_rng(seed).choice(len(rows), size=size, replace=False)
    return [rows[i] for i in sorted(chosen.tolist())]


def cases(table: pa.Table, rows: Sequence[int]) -> list[EvalCase]:
    """The sampled rows as evaluation cases (the label, when joined, is the ground truth)."""
    prompts, answers = values(table, t.PROMPT), values(table, PREDICTION)
    contexts, labels = values(table, t.CONTEXT), values(table, LABEL)
    return [
        EvalCase(
            query=prompts[i],
            response=answers[i],
            context=contexts[i],
            ground_truth=None if labels[i] is None else str(labels[i]),
        )
        for i in rows
    ]


@dataclass(frozen=True, kw_only=True, slots=True)
class Drawn:
    """A side's sample: how many rows it had, which it drew and with what seed."""

    rows: int
    answered: int
    sampled: list[int]
    seed: int


def draw(table: pa.Table, size: int, seed: int) -> Drawn:
    """The seeded sample of a table's answered rows."""
    answered = answered_rows(table)
    return Drawn(
        rows=table.num_rows, answered=len(answered), sampled=sample_rows(answered, size, seed),
        seed=seed,
    )  # fmt: skip


def _seeds(data: SignalInput, signal: Signal) -> tuple[int, int]:
    plan = data.plan
    window = (
        f"{plan.production.start.isoformat()}/{plan.production.end.isoformat()}" if plan else ""
    )
    ref = plan.reference if plan is not None else None
    reference = f"{ref.start.isoformat()}/{ref.end.isoformat()}" if ref else "dataset"
    base = (data.project, signal.key)
    return seed_of(*base, "window", window), seed_of(*base, "reference", reference)


def _score(
    data: SignalInput, options: LlmQualityOptions, window: list[EvalCase], ref: list[EvalCase]
) -> tuple[list[list[Score]], list[list[Score]]]:
    if data.judge is None:
        raise InvalidState(
            "llm_quality needs the evaluators' judge, which this process does not reach "
            "(run the monitor in the server or the daemon)",
            code="no_judge",
        )
    scored = data.judge.score(
        project=data.project, evaluators=options.evaluators, cases=[*window, *ref],
        connection=options.connection,
    )  # fmt: skip
    return scored[: len(window)], scored[len(window) :]


def _values(scores: list[list[Score]], index: int) -> tuple[list[float], int]:
    """One evaluator's values, and how many cases it could not score."""
    found = [case[index].value for case in scores]
    kept = [float(v) for v in found if v is not None]
    return kept, len(found) - len(kept)


def _judge_one(
    evaluator: EvaluatorName, window: list[float], baseline: list[float] | None,
    threshold: float | None, options: LlmQualityOptions, alpha: float,
) -> tuple[list[Metric], dict[str, Any]]:  # fmt: skip
    """One evaluator's metrics and its line of the summary."""
    detail: dict[str, Any] = {"scored": len(window)}
    small = len(window) < options.min_scored
    sample = None if not window else Sample.of(window)
    base = None if not baseline else Sample.of(baseline)
    floor_breach = drop_breach = False
    if sample is not None:
        detail |= {"mean": sample.mean, "sd": sample.sd}
    if small:
        detail["reason"] = TOO_SMALL
    if sample is not None and not small and threshold is not None:
        tested = below_floor(sample, threshold, alpha)
        detail["p_below_threshold"], floor_breach = tested.p_value, tested.breached
    if base is not None:
        detail["baseline"] = {"scored": base.n, "mean": base.mean, "sd": base.sd}
    if sample is not None and not small and base is not None and base.n >= options.min_scored:
        tested = dropped(sample, base, margin=options.min_effect, alpha=alpha)
        detail["p_drop"], drop_breach = tested.p_value, tested.breached
    elif options.baseline and not small:
        detail["baseline_reason"] = "baseline too small"
    metrics = [
        Metric(
            metric=f"{evaluator}_mean", value=sample.mean if sample else None,
            threshold=threshold, breached=floor_breach or drop_breach,
        ),
        Metric(metric=f"{evaluator}_baseline_mean", value=base.mean if base else None),
    ]  # fmt: skip
    return metrics, detail


def llm_quality(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Evaluator scores of the window's sample against a floor and the baseline's sample."""
    options = signal.options_as(LlmQualityOptions)
    require_columns(data.current, (t.PROMPT, PREDICTION), signal)
    window_seed, reference_seed = _seeds(data, signal)
    drawn = draw(data.current, options.sample_size, window_seed)
    ref_drawn = None
    if options.baseline:
        require_columns(data.reference, (t.PROMPT, PREDICTION), signal)
        ref_drawn = draw(data.reference, options.sample_size, reference_seed)
    window_cases = cases(data.current, drawn.sampled)
    ref_cases = cases(data.reference, ref_drawn.sampled) if ref_drawn else []
    scored, ref_scored = _score(data, options, window_cases, ref_cases)
    tests = len(options.evaluators) * (options.baseline + (signal.threshold is not None))
    alpha = options.significance / max(tests, 1)
    metrics: list[Metric] = []
    evaluators: dict[str, Any] = {}
    for index, evaluator in enumerate(options.evaluators):
        kept, unscored = _values(scored, index)
        base = _values(ref_scored, index)[0] if ref_drawn else None
        found, detail = _judge_one(evaluator, kept, base, signal.threshold, options, alpha)
        metrics += found
        evaluators[str(evaluator)] = {**detail, "unscored": unscored}
    judged = sum(1 for e in options.evaluators if e.judged)
    summary = {
        "evaluators": evaluators,
        "sample_size": len(drawn.sampled),
        "window": {"rows": drawn.rows, "answered": drawn.answered, "seed": drawn.seed},
        "baseline": None if ref_drawn is None else {
            "rows": ref_drawn.rows, "answered": ref_drawn.answered,
            "sample_size": len(ref_drawn.sampled), "seed": ref_drawn.seed,
        },
        "calls": judged * (len(window_cases) + len(ref_cases)),
        "significance": alpha,
        **({"reason": TOO_SMALL} if all("reason" in e for e in evaluators.values()) else {}),
    }  # fmt: skip
    return outcome(signal, data, metrics, summary)
