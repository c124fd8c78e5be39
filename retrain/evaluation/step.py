"""The pipeline step of an evaluation run: statistics over the per-row results.

It runs in the pipeline runner's process (no database, no ``STEWARD_*`` environment), as the
server's part (rendering the prompts, asking the generation and judge connections, which need
the project's secrets and database) is done before the run is queued: the step reads the
per-row results the server stored as a dataset version and returns the summaries and paired
comparisons, which the server keeps on the evaluation.
"""

from __future__ import annotations

from typing import Any

from retrain.evaluation.stats import Paired, Summary, compare_variants, summarize
from retrain.step import DatasetInput, StepContext

STEP_MODULE = "retrain.evaluation.step"
STEP_FUNCTION = f"{STEP_MODULE}:compare_variants_step"
SCORE = "score_"


def compare_variants_step(
    ctx: StepContext,
    *,
    rows: DatasetInput,
    dataset: DatasetInput,
    variants: list[str],
    evaluators: list[str],
    alpha: float,
    evaluation: dict[str, Any],
) -> dict[str, Any]:
    """Summaries per variant and evaluator and every pair's paired comparison."""
    del dataset  # an input for lineage: the rows were generated from it
    ctx.log.info("evaluation %s: prompts %s", evaluation.get("id"), evaluation.get("prompts"))
    table = rows.read().to_pylist()
    summary = summarize_rows(table, variants=variants, evaluators=evaluators, alpha=alpha)
    ctx.log.info("compared %d variants on %d evaluators over %d rows", len(variants),
                 len(evaluators), len(table))  # fmt: skip
    metrics = {f"{a['variant']}.{a['evaluator']}.mean": a["mean"] for a in summary["aggregates"]
               if a["mean"] is not None}  # fmt: skip
    return {"summary": summary, "metrics": metrics}


def summarize_rows(
    table: list[dict[str, Any]], *, variants: list[str], evaluators: list[str], alpha: float
) -> dict[str, Any]:
    """Aggregates and comparisons (JSON) of per-row results (``row``, ``variant``, scores)."""
    aggregates: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    row_ids = sorted({int(r["row"]) for r in table})
    for evaluator in evaluators:
        by_variant = {v: _aligned(table, v, evaluator, row_ids) for v in variants}
        # every row has one result per variant: a missing score is a failure, never a zero
        aggregates += [_aggregate(v, evaluator, summarize(x)) for v, x in by_variant.items()]
        comparisons += [_paired(p) for p in compare_variants(evaluator, by_variant, alpha)]
    return {"aggregates": aggregates, "comparisons": comparisons}


def _aligned(
    table: list[dict[str, Any]], variant: str, evaluator: str, row_ids: list[int]
) -> list[float | None]:
    """The variant's scores in row order (None: no score on that row)."""
    scores = {int(r["row"]): r.get(SCORE + evaluator) for r in table if r["variant"] == variant}
    return [scores.get(i) for i in row_ids]


def _aggregate(variant: str, evaluator: str, s: Summary) -> dict[str, Any]:
    return {"variant": variant, "evaluator": evaluator, "n": s.n, "failures": s.failures,
            "mean": s.mean, "std": s.std, "ci_low": s.ci_low, "ci_high": s.ci_high,
            "bootstrap_low": s.bootstrap_low, "bootstrap_high": s.bootstrap_high}  # fmt: skip


def _paired(p: Paired) -> dict[str, Any]:
    return {"evaluator": p.evaluator, "a": p.a, "b": p.b, "n": p.n,
            "mean_difference": p.mean_difference, "ci_low": p.ci_low, "ci_high": p.ci_high,
            "t_p": p.t_p, "wilcoxon_p": p.wilcoxon_p, "p_adjusted": p.p_adjusted,
            "winner": p.winner, "significant": p.significant}  # fmt: skip
