"""Computing one window of a monitor: every signal, each failing alone, and the run's status."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pyarrow as pa

from governance.core.errors import StewardError
from monitors.runs.profiled import compute_profiled
from monitors.runs.schemas import RunStatus, SignalOutcome
from monitors.runs.signals import SignalInput, compute_signal, summary_of
from monitors.runs.sources import (
    CaseJudge,
    Computed,
    LoadedReference,
    ModelLookup,
    ProfileCache,
    RunEnvironment,
    WindowParts,
)
from monitors.specs.options import LLM_KINDS
from monitors.specs.schemas import Monitor, Signal, SignalKind, TargetKind
from monitors.specs.windows import WindowPlan
from monitors.stats.partition import WindowSummary

log = logging.getLogger(__name__)
# llm_quality reads the labels as the answers' ground truth (the evaluators that need one).
LABELLED = frozenset(
    {
        SignalKind.performance,
        SignalKind.fairness,
        SignalKind.estimated_performance,
        SignalKind.llm_quality,
    }
)
# Data the statistics cannot digest: fails the window (or the one signal) it happens in only.
_DATA_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError, pa.ArrowException)


_NO_REFERENCE = LoadedReference(key="", table=pa.table({}))


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadedWindow:
    """A window's rows and its reference, read: all that computing its signals needs."""

    plan: WindowPlan
    reference: LoadedReference
    current: pa.Table


def compute_window(monitor: Monitor, plan: WindowPlan, env: RunEnvironment) -> Computed:
    """Load the window and the reference and compute every signal; never raises on data."""
    started = time.perf_counter()
    parts = _profile_mode(monitor, plan, env, started)
    if isinstance(parts, Computed):
        return parts
    if parts is not None:
        return compute_summarised(monitor, plan, parts, env, started=started)
    loaded = load_window(monitor, plan, env, started=started)
    if isinstance(loaded, Computed):
        return loaded
    model = _model_lookup(monitor, plan, env)
    return compute_loaded(
        monitor, loaded, profiles=env.profiles, model=model, started=started, judge=env.judge
    )


def load_window(
    monitor: Monitor, plan: WindowPlan, env: RunEnvironment, *, started: float | None = None
) -> LoadedWindow | Computed:
    """The window's rows and reference, or the failed run when they cannot be read."""
    started = time.perf_counter() if started is None else started
    spec = monitor.spec
    reference = _NO_REFERENCE
    try:
        reference = env.references.load(
            project=monitor.project, spec=spec, span=plan.reference, windows=env.windows
        )
        labels = any(s.kind in LABELLED for s in spec.signals)
        current = env.windows.read(
            project=monitor.project, target=spec.target, span=plan.production, labels=labels
        )
    except StewardError as exc:
        # A missing endpoint, reference or schema is the run's outcome, kept like any other.
        return _failed(plan, reference, f"{exc.code}: {exc.detail}", started)
    except _DATA_ERRORS as exc:
        log.exception("monitor %s/%s failed on its window", monitor.project, monitor.name)
        return _failed(plan, reference, f"internal: {type(exc).__name__}", started)
    return LoadedWindow(plan=plan, reference=reference, current=current)


def _profile_mode(
    monitor: Monitor, plan: WindowPlan, env: RunEnvironment, started: float
) -> WindowParts | Computed | None:
    """The window's partitions when it runs in profile mode (the failed run if unlisted)."""
    # LLM signals total and sample every row of their window: never summarised by partition
    if env.partitions is None or any(s.kind in LLM_KINDS for s in monitor.spec.signals):
        return None
    target = monitor.spec.target
    try:
        return env.partitions.find(project=monitor.project, target=target, span=plan.production)
    except StewardError as exc:
        return _failed(plan, _NO_REFERENCE, f"{exc.code}: {exc.detail}", started)


def compute_summarised(
    monitor: Monitor, plan: WindowPlan, parts: WindowParts, env: RunEnvironment, *, started: float
) -> Computed:
    """Every signal of a window summarised partition by partition (never raises on data)."""
    assert env.partitions is not None
    spec, reference, summary = monitor.spec, _NO_REFERENCE, None
    try:
        reference = env.references.load(
            project=monitor.project, spec=spec, span=plan.reference, windows=env.windows
        )
        profile = env.profiles.profile(reference)
        summary = env.partitions.summarise(parts, profile)
    except StewardError as exc:
        return _failed(plan, reference, f"{exc.code}: {exc.detail}", started)
    except _DATA_ERRORS as exc:
        log.exception("monitor %s/%s failed on its window", monitor.project, monitor.name)
        return _failed(plan, reference, f"internal: {type(exc).__name__}", started)
    window = LoadedWindow(plan=plan, reference=reference, current=summary.sample)
    model = _model_lookup(monitor, plan, env)
    computed = compute_loaded(
        monitor, window, profiles=env.profiles, model=model, started=started, summary=summary
    )
    return replace(computed, rows=summary.profile.row_count)


def compute_loaded(
    monitor: Monitor,
    window: LoadedWindow,
    *,
    profiles: ProfileCache,
    model: ModelLookup | None,
    started: float | None = None,
    summary: WindowSummary | None = None,
    judge: CaseJudge | None = None,
) -> Computed:
    """Every signal of a loaded window (in this process, or in a runner's; never raises on data).

    With ``summary`` the window was summarised partition by partition and ``window.current``
    is its sample: the signals run in profile mode. ``judge`` scores LLM answers.
    """
    started = time.perf_counter() if started is None else started
    reference, rows = window.reference, window.current.num_rows
    outcomes: tuple[SignalOutcome, ...] = ()
    error = None
    try:
        if rows and reference.table.num_rows:
            data = SignalInput(
                profile=profiles.profile(reference), reference=reference.table,
                current=window.current, roles=reference.roles, model=model,
                project=monitor.project, plan=window.plan, judge=judge,
            )  # fmt: skip
            outcomes = tuple(_signal(monitor, s, data, summary) for s in monitor.spec.signals)
    except StewardError as exc:
        error = f"{exc.code}: {exc.detail}"
    except _DATA_ERRORS as exc:
        # Data the statistics cannot digest fails this window only (logged in full here, kept
        # as a failed run without its text, which may quote data): later windows still run.
        log.exception("monitor %s/%s failed on its window", monitor.project, monitor.name)
        error = f"internal: {type(exc).__name__}"
    status, error = _status(outcomes, error)
    return Computed(
        plan=window.plan, reference=reference, rows=rows, status=status, outcomes=outcomes,
        error=error, seconds=time.perf_counter() - started,
    )  # fmt: skip


def _failed(plan: WindowPlan, reference: LoadedReference, error: str, started: float) -> Computed:
    return Computed(
        plan=plan, reference=reference, rows=0,
        status=RunStatus.failed, outcomes=(), error=error, seconds=time.perf_counter() - started,
    )  # fmt: skip


class InProcessWindows:
    """Computes a backfill's windows in this process, one after the other."""

    chunk = 1  # nothing to spread: each window is stored (and counted) as soon as it is run

    def compute(
        self, monitor: Monitor, plans: Sequence[WindowPlan], env: RunEnvironment,
        *, cancelled: Callable[[], bool],
    ) -> list[Computed]:  # fmt: skip
        """Each window's run, in the order of ``plans``."""
        return [compute_window(monitor, plan, env) for plan in plans]


def _model_lookup(monitor: Monitor, plan: WindowPlan, env: RunEnvironment) -> ModelLookup | None:
    """Where the model serving the window is found, when the run has a source of models."""
    target = monitor.spec.target
    if env.explainers is None or target.kind is not TargetKind.endpoint:
        return None
    # the version live at the window's last instant is the one that logged most recently
    at = plan.production.end - timedelta(microseconds=1)
    return ModelLookup(source=env.explainers, project=monitor.project, endpoint=target.name, at=at)


def _signal(
    monitor: Monitor, signal: Signal, data: SignalInput, summary: WindowSummary | None
) -> SignalOutcome:
    """One signal's outcome; a signal that raises is a failed outcome, not a failed run."""
    try:
        if summary is not None:
            return compute_profiled(signal, data, summary)
        return compute_signal(signal, data)
    except StewardError as exc:
        error = f"{exc.code}: {exc.detail}"
    except _DATA_ERRORS as exc:
        # As for a window: the text may quote data, so it goes to the log, not the run.
        log.exception(
            "signal %s of monitor %s/%s failed", signal.key, monitor.project, monitor.name
        )
        error = f"internal: {type(exc).__name__}"
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=False,
        metrics=(),
        summary={"error": error},
        error=error,
    )


def _status(outcomes: tuple[SignalOutcome, ...], error: str | None) -> tuple[RunStatus, str | None]:
    """The run's status and error from its window's error and its signals' outcomes."""
    if error:
        return RunStatus.failed, error
    if not outcomes:
        return RunStatus.no_data, None
    failed = [o for o in outcomes if o.error]
    if not failed:
        return RunStatus.succeeded, None
    text = "; ".join(f"{o.key}: {o.error}" for o in failed)
    return (RunStatus.failed if len(failed) == len(outcomes) else RunStatus.partial), text


def run_summary(outcomes: tuple[SignalOutcome, ...]) -> dict[str, Any]:
    """The run's summary, each signal with its status (``failed`` ones with their error)."""
    return {
        key: {"status": "failed" if "error" in item else "succeeded", **item}
        for key, item in summary_of(outcomes).items()
    }
