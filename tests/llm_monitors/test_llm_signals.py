"""LLM signals over windows of traces (in-memory seams): honest limits, samples, costs, rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from governance.core.clock import ManualClock
from governance.core.db import Database
from monitors.runs.schemas import MonitorRun, RerunScope
from monitors.runs.service import backfill, list_runs, run_window
from monitors.runs.sources import (
    MemoryAlertSink,
    NoLineage,
    ProfileCache,
    RunEnvironment,
    StaticReferenceLoader,
    TableWindowReader,
)
from monitors.specs.schemas import MonitorSpec
from monitors.specs.service import create_monitor, get_monitor
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.llm_monitors.traffic import DAY, Day, RuleJudge, as_table, records
from tests.monitors.runs.synthetic import reference_table, traffic

START = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
PAST = {"kind": "production_window", "lookback": "PT12H", "offset": "PT1H"}


def _env(table: pa.Table, judge: RuleJudge | None = None) -> tuple[RunEnvironment, MemoryAlertSink]:
    alerts = MemoryAlertSink()
    env = RunEnvironment(
        windows=TableWindowReader({"chat": table}), references=StaticReferenceLoader({}),
        alerts=alerts, lineage=NoLineage(), profiles=ProfileCache(), judge=judge,
    )  # fmt: skip
    return env, alerts


def _monitor(db: Database, signals: list[dict[str, Any]], **extra: Any) -> None:
    spec = MonitorSpec.model_validate(
        {
            "name": "chat",
            "target": {"name": "chat"},
            "reference": PAST,
            "schedule": {"interval": "PT1H", "start": START.isoformat()},
            "signals": signals,
            **extra,
        }
    )
    create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)


def _hourly(hours: int, per_hour: int, *, seed: int, **day: Any) -> pa.Table:
    """``hours`` windows of ``per_hour`` requests each, spread evenly inside each hour."""
    items = records(START, [Day(requests=per_hour * 24, **day)] * (hours // 24 + 1), seed=seed)
    return as_table(items).filter(
        pa.compute.less(as_table(items).column("timestamp"),
                        pa.scalar(START + hours * HOUR, pa.timestamp("us", tz="UTC")))
    )  # fmt: skip


def _runs(db: Database) -> list[MonitorRun]:
    return sorted(
        list_runs(db, project="alpha", name="chat", limit=500), key=lambda r: r.window_end
    )


def _backfill(db: Database, env: RunEnvironment, hours: int) -> list[MonitorRun]:
    backfill(db, project="alpha", name="chat", since=START, until=START + hours * HOUR, env=env,
             clock=ManualClock(START + hours * HOUR))  # fmt: skip
    return _runs(db)


def test_unshifted_small_windows_raise_no_alert(
    db: Database, world: World, services: Services
) -> None:
    """96 hourly windows of ~15 requests, nothing shifted, limits set at the true values: the
    sampling error of every limit keeps all of them quiet."""
    table = _hourly(96, 15, seed=11, error_rate=0.05)
    env, alerts = _env(table, RuleJudge())
    latencies = table.column("latency_ms").to_numpy()
    true_p95 = float(pa.compute.quantile(pa.array(latencies), q=0.95)[0].as_py())
    _monitor(db, [
        {"kind": "llm_quality", "options": {"evaluators": ["relevance", "coherence"],
                                            "sample_size": 15, "connection": "judge"}},
        {"kind": "llm_errors", "options": {"max_error_rate": 0.05, "max_refusal_rate": 0.01}},
        {"kind": "llm_latency", "options": {"max_p95_ms": true_p95, "max_p50_ms": 410}},
        {"kind": "llm_usage"},
        {"kind": "llm_prompt_drift", "options": {"top_terms": 6}},
    ])  # fmt: skip
    runs = _backfill(db, env, 96)
    judged = [r for r in runs if r.status.value == "succeeded"]
    assert len(judged) >= 90
    assert alerts.raised == [] and not any(r.breached for r in runs)
    # the windows were judged, not skipped: quality compared each with its baseline
    tested = [r for r in judged if "p_drop" in r.summary["llm_quality"]["evaluators"]["relevance"]]
    assert len(tested) >= 80


def test_quality_samples_reproducibly_and_counts_unscored(
    db: Database, world: World, services: Services
) -> None:
    table = _hourly(24, 60, seed=3)
    unscorable = {"n": 0}

    def score(text: str) -> float | None:
        unscorable["n"] += 1
        return None if unscorable["n"] % 5 == 0 else 4.0

    judge = RuleJudge(score_of=score)
    env, _ = _env(table, judge)
    options = {"evaluators": ["fluency"], "sample_size": 25, "connection": "j"}
    _monitor(db, [{"kind": "llm_quality", "threshold": 3.0, "options": options}])
    monitor_end = START + 20 * HOUR
    monitor = get_monitor(db, project="alpha", name="chat")
    first = run_window(db, monitor=monitor, window_end=monitor_end, env=env).run
    again = run_window(db, monitor=monitor, window_end=monitor_end, env=env, rerun=True).run
    one, two = first.summary["llm_quality"], again.summary["llm_quality"]
    assert one["window"]["seed"] == two["window"]["seed"] and one["sample_size"] == 25
    assert one["baseline"]["sample_size"] == 25 and one["calls"] == 50
    fluency = one["evaluators"]["fluency"]
    assert fluency["scored"] + fluency["unscored"] == 25 and fluency["unscored"] == 5
    assert fluency["mean"] == 4.0  # the unscorable were left out, not counted as zero
    assert one["prompt_versions"] == {"support@1": one["window"]["rows"]}
    assert judge.calls == 100


def test_quality_says_too_small_and_fails_without_a_judge(
    db: Database, world: World, services: Services
) -> None:
    table = _hourly(24, 4, seed=5, version="2")
    env, _ = _env(table, RuleJudge())
    options = {"evaluators": ["relevance"], "min_scored": 10, "connection": "j"}
    _monitor(db, [{"kind": "llm_quality", "threshold": 4.5, "options": options}])
    run = _backfill(db, env, 24)[-1]
    assert not run.breached  # every score is below 4.5, but four answers prove nothing
    assert run.summary["llm_quality"]["reason"] == "window too small"
    no_judge, _ = _env(table, None)
    end = START + 24 * HOUR
    again = backfill(db, project="alpha", name="chat", since=START, until=end, env=no_judge,
                     rerun=RerunScope.all, clock=ManualClock(end))  # fmt: skip
    last = again.runs[-1].run
    assert last.status.value == "failed" and "no_judge" in (last.error or "")


def test_usage_prices_models_and_names_the_unpriced(
    db: Database, world: World, services: Services
) -> None:
    items = records(START, [Day(requests=24 * 10, error_rate=0.0)], seed=2)
    for item in items[::3]:
        item["features"]["model"] = "gpt-large"
    env, alerts = _env(as_table(items))
    prices = {"gpt-small": {"input_per_1k": 1.0, "output_per_1k": 2.0}}
    _monitor(db, [{"kind": "llm_usage", "options": {"prices": prices, "max_cost": 0.01}}])
    run = _backfill(db, env, 24)[-1]
    usage = run.summary["llm_usage"]
    hour = [i for i in items if START + 23 * HOUR <= datetime.fromisoformat(i["timestamp"])
            < START + 24 * HOUR]  # fmt: skip
    small = [i["features"] for i in hour if i["features"]["model"] == "gpt-small"]
    expected = sum(f["input_tokens"] / 1000 + f["output_tokens"] * 2 / 1000 for f in small)
    assert usage["cost"] == pytest.approx(expected)
    assert usage["unpriced_models"] == {"gpt-large": len(hour) - len(small)}
    assert usage["unpriced_requests"] == len(hour) - len(small)
    assert usage["cost_note"].startswith("lower bound")
    assert run.breached and alerts.raised[-1][1] == "llm_usage"


def test_errors_and_refusals_bounded_by_wilson(
    db: Database, world: World, services: Services
) -> None:
    items = records(START, [Day(requests=24 * 40, error_rate=0.3)], seed=4)
    for item in items[::4]:
        if item["prediction"]:
            item["features"]["finish_reason"] = "content_filter"
    for item in items[1::4]:
        if item["prediction"]:
            item["prediction"] = "I'm Sorry, but I can't share that."
    env, _ = _env(as_table(items))
    _monitor(db, [{"kind": "llm_errors",
                   "options": {"max_error_rate": 0.1, "max_refusal_rate": 0.2}}])  # fmt: skip
    run = _backfill(db, env, 24)[-1]
    errors = run.summary["llm_errors"]
    assert errors["refusals"] >= errors["answered"] * 0.4
    assert errors["wilson_lower_bounds"]["error_rate"] > 0.1 and run.breached
    # the same rates in a window of five requests are not proof of anything
    few = records(START, [Day(requests=24 * 5, error_rate=0.3)], seed=4)
    env_few, alerts = _env(as_table(few))
    db_runs = backfill(db, project="alpha", name="chat", since=START + 24 * HOUR,
                       until=START + 25 * HOUR, env=env_few,
                       clock=ManualClock(START + 25 * HOUR))  # fmt: skip
    assert db_runs.created == 1 and alerts.raised == []


def test_latency_limit_needs_its_lower_bound_above(
    db: Database, world: World, services: Services
) -> None:
    table = _hourly(24, 80, seed=6)
    env, _ = _env(table)
    _monitor(db, [{"kind": "llm_latency", "options": {"max_p99_ms": 300}}])
    run = _backfill(db, env, 24)[-1]
    latency = run.summary["llm_latency"]
    assert latency["latency_p99_ms"] > 300 and latency["lower_bounds_ms"]["p99"] > 300
    assert run.breached


def test_llm_signal_on_model_records_fails_clearly(
    db: Database, world: World, services: Services
) -> None:
    env = RunEnvironment(
        windows=TableWindowReader({"chat": traffic(START, windows=3)}),
        references=StaticReferenceLoader({"train": reference_table()}, default="train"),
        alerts=MemoryAlertSink(), lineage=NoLineage(), profiles=ProfileCache(),
    )  # fmt: skip
    _monitor(db, [{"kind": "llm_latency"}], reference={"kind": "dataset", "dataset": "train"})
    run = _backfill(db, env, 2)[-1]
    assert run.status.value == "failed" and "not_llm_records" in (run.error or "")


def test_prompt_drift_sees_a_new_topic(db: Database, world: World, services: Services) -> None:
    reference = as_table(records(START - 2 * DAY, [Day(requests=600)], seed=7))
    calm = records(START, [Day(requests=24 * 40)], seed=8)
    new = records(START + DAY, [Day(requests=24 * 40, topics=("lawsuit", "lawyer", "court"))],
                  seed=9)  # fmt: skip
    env = RunEnvironment(
        windows=TableWindowReader({"chat": as_table(calm + new)}),
        references=StaticReferenceLoader({"calm": reference}), alerts=MemoryAlertSink(),
        lineage=NoLineage(), profiles=ProfileCache(),
    )  # fmt: skip
    _monitor(db, [{"kind": "llm_prompt_drift", "options": {"top_terms": 6}}],
             reference={"kind": "dataset", "dataset": "calm"})  # fmt: skip
    runs = [r for r in _backfill(db, env, 48) if r.status.value == "succeeded"]
    before = [r for r in runs if r.window_end <= START + DAY]
    after = [r for r in runs if r.window_end > START + DAY]
    assert len(before) == 24 and len(after) == 24
    assert not any(r.breached for r in before)
    large = [r for r in after if r.summary["llm_prompt_drift"]["window_large_enough"]]
    assert len(large) >= 18 and all(r.breached for r in large)
    drift = after[-1].summary["llm_prompt_drift"]
    assert drift["topics"] == {"(other)": 1.0} and "prompt_topic" in drift["drifted"]
