"""LLM signals over a window of traces: token usage and cost, latency percentiles, error and
refusal rates. Every outcome names the prompt versions that answered in the window."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from governance.core.errors import InvalidState
from monitors.runs.inputs import SignalInput
from monitors.runs.llm_stats import quantile_lower, wilson_lower
from monitors.runs.schemas import Metric, SignalOutcome
from monitors.specs.llm_options import LlmErrorsOptions, LlmLatencyOptions, LlmUsageOptions
from monitors.specs.schemas import Signal
from monitors.traces import schemas as t

MAX_LISTED = 50
NO_PROMPT = "(none)"
OTHERS = "(others)"
PREDICTION = "prediction"


def require_columns(table: pa.Table, columns: Sequence[str], signal: Signal) -> None:
    """Refuse a window that is not an LLM endpoint's records (a model endpoint's, say)."""
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InvalidState(
            f"{signal.kind} reads an LLM endpoint's records; the window has no "
            f"{', '.join(missing[:5])} column",
            code="not_llm_records",
        )


def values(table: pa.Table, column: str) -> list[Any]:
    """A column as Python values (None where null or absent)."""
    if column not in table.column_names:
        return [None] * table.num_rows
    found: list[Any] = table.column(column).to_pylist()
    return found


def prompt_versions(table: pa.Table) -> dict[str, int]:
    """Requests per ``prompt_name@prompt_version`` (most first; the tail summed as others)."""
    names, versions = values(table, t.PROMPT_NAME), values(table, t.PROMPT_VERSION)
    counts = Counter(
        NO_PROMPT if name is None else f"{name}@{version if version is not None else '?'}"
        for name, version in zip(names, versions, strict=True)
    )
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = dict(ranked[:MAX_LISTED])
    rest = sum(n for _, n in ranked[MAX_LISTED:])
    return shown | ({OTHERS: rest} if rest else {})


def outcome(
    signal: Signal, data: SignalInput, metrics: Sequence[Metric], summary: dict[str, Any]
) -> SignalOutcome:
    """The signal's outcome: breached when a metric is, with the window's prompt versions."""
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=any(m.breached for m in metrics),
        metrics=tuple(metrics),
        summary={"prompt_versions": prompt_versions(data.current), **summary},
    )


def _numbers(table: pa.Table, column: str) -> list[float | None]:
    return [None if v is None else float(v) for v in values(table, column)]


def _mean(total: float, n: int) -> float | None:
    return total / n if n else None


def _over(value: float | None, limit: float | None) -> bool:
    return limit is not None and value is not None and value > limit


Counted = tuple[Any, float | None, float | None]  # model, input and output tokens


def _cost(counted: list[Counted], options: LlmUsageOptions) -> tuple[float, int, Counter[str]]:
    """The priced requests' cost and number, and the unpriced requests per model."""
    cost, priced, unpriced = 0.0, 0, Counter[str]()
    for model, i, o in counted:
        price = options.prices.get(model or "")
        if price is None:
            unpriced[model or NO_PROMPT] += 1
            continue
        cost += (i or 0.0) / 1000 * price.input_per_1k + (o or 0.0) / 1000 * price.output_per_1k
        priced += 1
    return cost, priced, unpriced


def llm_usage(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Tokens per request and in total, cost from the price table; unpriced models named."""
    options = signal.options_as(LlmUsageOptions)
    window = data.current
    require_columns(window, (t.MODEL, t.INPUT_TOKENS, t.OUTPUT_TOKENS), signal)
    ins, outs = _numbers(window, t.INPUT_TOKENS), _numbers(window, t.OUTPUT_TOKENS)
    models = values(window, t.MODEL)
    counted: list[Counted] = [
        (m, i, o) for m, i, o in zip(models, ins, outs, strict=True) if i is not None
    ]
    total_in = sum(i for _, i, _ in counted if i is not None)
    total_out = sum(o or 0.0 for _, _, o in counted)
    cost, priced, unpriced = _cost(counted, options)
    per_in, per_out = _mean(total_in, len(counted)), _mean(total_out, len(counted))
    cost_value = cost if priced else None
    per_cost = _mean(cost, priced)
    limits = (
        ("input_tokens_per_request", per_in, options.max_input_tokens_per_request),
        ("output_tokens_per_request", per_out, options.max_output_tokens_per_request),
        ("total_tokens", total_in + total_out, options.max_total_tokens),
        ("cost", cost_value, options.max_cost),
        ("cost_per_request", per_cost, options.max_cost_per_request),
    )
    metrics = [
        Metric(metric=name, value=value, threshold=limit, breached=_over(value, limit))
        for name, value, limit in limits
    ]
    metrics += [
        Metric(metric="requests", value=float(window.num_rows)),
        Metric(metric="input_tokens", value=total_in),
        Metric(metric="output_tokens", value=total_out),
        Metric(metric="unpriced_requests", value=float(sum(unpriced.values()))),
    ]
    summary = {
        "requests_without_tokens": window.num_rows - len(counted),
        "priced_requests": priced,
        "unpriced_models": dict(unpriced.most_common(MAX_LISTED)),
        **({"cost_note": "lower bound: some models are unpriced"} if unpriced and priced else {}),
    }
    return outcome(signal, data, metrics, summary)


PERCENTILES = ((50, "max_p50_ms"), (95, "max_p95_ms"), (99, "max_p99_ms"))


def llm_latency(signal: Signal, data: SignalInput) -> SignalOutcome:
    """p50/p95/p99 latency; a limit breaches when the percentile's lower bound is above it."""
    import numpy as np

    options = signal.options_as(LlmLatencyOptions)
    require_columns(data.current, (t.LATENCY_MS,), signal)
    ordered = sorted(v for v in _numbers(data.current, t.LATENCY_MS) if v is not None)
    limited = sum(1 for _, name in PERCENTILES if getattr(options, name) is not None)
    alpha = options.significance / max(limited, 1)  # Bonferroni over the limits given
    metrics, bounds = [], {}
    for q, name in PERCENTILES:
        limit = getattr(options, name)
        value = float(np.quantile(ordered, q / 100)) if ordered else None
        lower = quantile_lower(ordered, q / 100, alpha) if ordered else None
        bounds[f"p{q}"] = lower
        metric = f"latency_p{q}_ms"
        breached = _over(lower, limit)
        metrics.append(Metric(metric=metric, value=value, threshold=limit, breached=breached))
    summary = {
        "latencies": len(ordered),
        "requests_without_latency": data.current.num_rows - len(ordered),
        "lower_bounds_ms": bounds,
        "significance": alpha,
    }
    return outcome(signal, data, metrics, summary)


def _refused(answer: Any, finish: Any, phrases: Sequence[str]) -> bool:
    if isinstance(finish, str) and finish.lower() == "content_filter":
        return True
    text = answer.lower() if isinstance(answer, str) else ""
    return any(p in text for p in phrases)


def llm_errors(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Error and refusal rates; a limit breaches when the rate's Wilson lower bound is above it."""
    options = signal.options_as(LlmErrorsOptions)
    window = data.current
    require_columns(window, (t.STATUS,), signal)
    statuses = [str(s).lower() if s is not None else "" for s in values(window, t.STATUS)]
    failed = [s == "error" for s in statuses]
    answers, finishes = values(window, PREDICTION), values(window, t.FINISH_REASON)
    phrases = [p.lower() for p in options.refusal_phrases]
    answered = [
        (a, f) for a, f, bad in zip(answers, finishes, failed, strict=True) if not bad
    ]  # fmt: skip
    refusals = sum(1 for a, f in answered if _refused(a, f, phrases))
    errors, n = sum(failed), window.num_rows
    limited = (options.max_error_rate is not None) + (options.max_refusal_rate is not None)
    alpha = options.significance / max(limited, 1)
    rates = (
        ("error_rate", errors, n, options.max_error_rate),
        ("refusal_rate", refusals, len(answered), options.max_refusal_rate),
    )
    metrics, bounds = [], {}
    for name, k, total, limit in rates:
        lower = wilson_lower(k, total, alpha)
        bounds[name] = lower
        value = k / total if total else None
        metrics.append(
            Metric(metric=name, value=value, threshold=limit, breached=_over(lower, limit))
        )
    types = Counter(str(e) for e, bad in zip(values(window, t.ERROR_TYPE), failed, strict=True)
                    if bad and e is not None)  # fmt: skip
    summary = {
        "requests": n,
        "errors": errors,
        "answered": len(answered),
        "refusals": refusals,
        "wilson_lower_bounds": bounds,
        "significance": alpha,
        "error_types": dict(types.most_common(20)),
    }
    return outcome(signal, data, metrics, summary)
