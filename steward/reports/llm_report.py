"""The report of an LLM endpoint: per window, the prompt versions that answered, the judges'
scores, tokens and cost, latency, error and refusal rates and the alerts raised; and where the
answering prompt version changed. Read from the runs of the endpoint's LLM monitors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from governance.core.clock import Clock, to_utc
from governance.core.db import Database
from governance.core.errors import InvalidInput
from lineage import service as lineage
from lineage.schemas import EndpointKind
from monitors.alerts.schemas import Alert
from monitors.alerts.service import list_alerts
from monitors.runs.schemas import MonitorRun
from monitors.runs.service import list_runs
from monitors.specs.options import LLM_KINDS, SignalKind
from monitors.specs.schemas import Monitor, TargetKind
from monitors.specs.service import list_monitors
from steward.metrics import build_version

SCHEMA_VERSION = "steward.llm-endpoint-report/1"
MAX_WINDOWS = 1000  # runs per monitor read into one report
MAX_ALERTS = 500


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AlertRef(_Frozen):
    """An alert a window's breach raised or updated."""

    id: str
    signal: str
    severity: str
    state: str


class LlmWindow(_Frozen):
    """One run of an LLM monitor: what answered in its window and how well."""

    monitor: str
    run_id: str
    window_start: datetime
    window_end: datetime
    status: str
    requests: int
    prompt_versions: dict[str, int]
    scores: dict[str, float | None]  # evaluator -> the window sample's mean
    baseline_scores: dict[str, float | None]
    scored: dict[str, int]
    unscored: dict[str, int]
    sample_size: int | None = None
    judge_calls: int | None = None
    input_tokens: float | None = None
    output_tokens: float | None = None
    cost: float | None = None
    unpriced_requests: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    error_rate: float | None = None
    refusal_rate: float | None = None
    breached: list[str]
    alerts: list[AlertRef]


class PromptChange(_Frozen):
    """The prompt version answering most requests changed between two windows of a monitor."""

    monitor: str
    window_end: datetime
    before: str
    after: str


class LlmEndpointReport(_Frozen):
    """The LLM endpoint's report, oldest window first."""

    schema_version: str = SCHEMA_VERSION
    title: str
    project: str
    endpoint: str
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    generator: str
    monitors: list[str]
    windows: list[LlmWindow]
    prompt_changes: list[PromptChange]


def _llm_monitors(db: Database, project: str, endpoint: str) -> list[Monitor]:
    return [
        m
        for m in list_monitors(db, project=project, skip_refused=True)
        if m.spec.target.kind is TargetKind.endpoint
        and m.spec.target.name == endpoint
        and any(s.kind in LLM_KINDS for s in m.spec.signals)
    ]


def _covering(alerts: Iterable[Alert], signal: str, run: MonitorRun) -> list[AlertRef]:
    """The alerts of ``signal`` open when ``run`` was stored (the ones its breach updated)."""
    at = run.finished_at
    return [
        AlertRef(id=str(a.id), signal=a.signal, severity=str(a.severity), state=str(a.state))
        for a in alerts
        if a.signal == signal
        and a.opened_at <= at
        and (a.resolved_at is None or a.resolved_at >= at)
    ]


def _of_kind(monitor: Monitor, run: MonitorRun, kind: SignalKind) -> list[dict[str, Any]]:
    keys = [s.key for s in monitor.spec.signals if s.kind is kind]
    return [run.summary[k] for k in keys if isinstance(run.summary.get(k), dict)]


def _first(items: list[dict[str, Any]], name: str) -> Any:
    return next((i[name] for i in items if i.get(name) is not None), None)


def _quality(monitor: Monitor, run: MonitorRun) -> dict[str, Any]:
    scores: dict[str, float | None] = {}
    baseline: dict[str, float | None] = {}
    scored: dict[str, int] = {}
    unscored: dict[str, int] = {}
    found = _of_kind(monitor, run, SignalKind.llm_quality)
    for item in found:
        for name, detail in (item.get("evaluators") or {}).items():
            scores[name] = detail.get("mean")
            baseline[name] = (detail.get("baseline") or {}).get("mean")
            scored[name] = int(detail.get("scored") or 0)
            unscored[name] = int(detail.get("unscored") or 0)
    return {
        "scores": scores, "baseline_scores": baseline, "scored": scored, "unscored": unscored,
        "sample_size": _first(found, "sample_size"), "judge_calls": _first(found, "calls"),
    }  # fmt: skip


def _measures(monitor: Monitor, run: MonitorRun) -> dict[str, Any]:
    usage = _of_kind(monitor, run, SignalKind.llm_usage)
    latency = _of_kind(monitor, run, SignalKind.llm_latency)
    errors = _of_kind(monitor, run, SignalKind.llm_errors)
    return {
        "input_tokens": _first(usage, "input_tokens"),
        "output_tokens": _first(usage, "output_tokens"),
        "cost": _first(usage, "cost"),
        "unpriced_requests": _first(usage, "unpriced_requests"),
        **{f"latency_p{q}_ms": _first(latency, f"latency_p{q}_ms") for q in (50, 95, 99)},
        "error_rate": _first(errors, "error_rate"),
        "refusal_rate": _first(errors, "refusal_rate"),
    }


def _versions(run: MonitorRun) -> dict[str, int]:
    for item in run.summary.values():
        if isinstance(item, dict) and isinstance(item.get("prompt_versions"), dict):
            return {str(k): int(v) for k, v in item["prompt_versions"].items()}
    return {}


def _window(monitor: Monitor, run: MonitorRun, alerts: list[Alert]) -> LlmWindow:
    breached = sorted(
        k for k, v in run.summary.items() if isinstance(v, dict) and v.get("breached")
    )
    return LlmWindow(
        monitor=monitor.name, run_id=str(run.id), window_start=run.window_start,
        window_end=run.window_end, status=str(run.status), requests=run.row_count,
        prompt_versions=_versions(run), breached=breached,
        alerts=[ref for signal in breached for ref in _covering(alerts, signal, run)],
        **_quality(monitor, run), **_measures(monitor, run),
    )  # fmt: skip


def _dominant(window: LlmWindow) -> str | None:
    if not window.prompt_versions:
        return None
    return Counter(window.prompt_versions).most_common(1)[0][0]


def prompt_changes(windows: list[LlmWindow]) -> list[PromptChange]:
    """Where each monitor's most-used prompt version differs from its previous window's."""
    changes: list[PromptChange] = []
    last: dict[str, str] = {}
    for window in windows:
        now = _dominant(window)
        before = last.get(window.monitor)
        if now is not None and before is not None and now != before:
            changes.append(PromptChange(monitor=window.monitor, window_end=window.window_end,
                                        before=before, after=now))  # fmt: skip
        if now is not None:
            last[window.monitor] = now
    return changes


def _runs(
    db: Database, project: str, monitor: Monitor, start: datetime, end: datetime
) -> list[MonitorRun]:
    runs = list_runs(db, project=project, name=monitor.name, since=start, limit=MAX_WINDOWS)
    return [r for r in runs if r.superseded_by is None and start < r.window_end <= end]


def build_llm_report(
    db: Database, *, project: str, endpoint: str, start: datetime, end: datetime, clock: Clock
) -> LlmEndpointReport:
    """The report of LLM endpoint ``endpoint`` over the windows ending in ``(start, end]``."""
    found = lineage.get_endpoint(db, project=project, name=endpoint)
    if found.kind is not EndpointKind.llm:
        raise InvalidInput(
            f"endpoint {endpoint!r} serves a model: its report is the model version's "
            "(/models/{name}/versions/{version}/report)",
            code="model_endpoint",
        )
    start, end = to_utc(start), to_utc(end)
    if start >= end:
        raise InvalidInput("period_start must be before period_end", field="period_start")
    windows: list[LlmWindow] = []
    monitors = _llm_monitors(db, project, endpoint)
    for monitor in monitors:
        alerts = list_alerts(db, project=project, monitor=monitor.name, limit=MAX_ALERTS)
        windows += [_window(monitor, r, alerts) for r in _runs(db, project, monitor, start, end)]
    windows.sort(key=lambda w: (w.window_end, w.monitor))
    return LlmEndpointReport(
        title=f"LLM endpoint report: {endpoint}", project=project, endpoint=endpoint,
        period_start=start, period_end=end, generated_at=clock.now(),
        generator=f"steward {build_version()}", monitors=[m.name for m in monitors],
        windows=windows, prompt_changes=prompt_changes(windows),
    )  # fmt: skip
