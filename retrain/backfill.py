"""Monitor backfills computed by the pipeline runner: a process per chunk of windows, locally or
on the Dask cluster, with the step's timeout, memory limit and cancellation.

The server reads each window's rows and reference (it owns the database and the capture store),
writes them as Parquet into a private work directory and hands the chunk to the runner; the
step (``compute_windows``, in a process with no database and no ``STEWARD_*`` environment)
computes every signal exactly as an in-process run would and returns the outcomes as JSON; the
server stores them under each window's run key. Models for attribution drift go as the stored
artifact the server resolved (path, hash, flavour, signature), loaded in the step with the same
checks as in the server.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from governance.core.errors import InvalidState
from governance.core.files import private_dir
from governance.core.settings import Settings
from lineage.schemas import Signature
from monitors.runs.compute import LoadedWindow, compute_loaded, load_window
from monitors.runs.schemas import RunStatus
from monitors.runs.sources import (
    Computed,
    Explainable,
    LoadedReference,
    ModelLookup,
    ProfileCache,
    RunEnvironment,
)
from monitors.runs.transfer import (
    outcome_from_json,
    outcome_json,
    plan_from_json,
    plan_json,
    roles_from_json,
    roles_json,
)
from monitors.specs.options import SignalKind
from monitors.specs.schemas import Monitor, TargetKind
from monitors.specs.windows import WindowPlan
from retrain.artifacts.formats import Flavor
from retrain.artifacts.store import StoredArtifact
from retrain.runners.base import ResourceLimits, StepRunner, StepStatus, StepTask
from retrain.step import StepContext

log = logging.getLogger(__name__)
STEP = "retrain.backfill:compute_windows"
DEFAULT_CHUNK = 24


@dataclass(kw_only=True)
class RunnerWindows:
    """Computes a backfill's windows in the pipeline runner's processes, ``chunk`` at a time.

    ``runner`` makes the runner of one chunk (``retrain.runners.select.runner_for``);
    ``explainers`` resolves the stored model that served each window (None: attribution drift
    explains surrogates, as in-process runs without a model source do).
    """

    settings: Settings
    runner: Callable[[], StepRunner]
    explainers: Any = None  # retrain.explain.StoredModelExplainers (imported by it: kept lazy)
    chunk: int = DEFAULT_CHUNK

    def compute(
        self, monitor: Monitor, plans: Sequence[WindowPlan], env: RunEnvironment,
        *, cancelled: Callable[[], bool],
    ) -> list[Computed]:  # fmt: skip
        """Each window's run, in the order of ``plans`` (unreadable windows fail here)."""
        workdir = private_dir(self.settings.home / "backfills" / uuid.uuid4().hex)
        try:
            loaded = [load_window(monitor, plan, env) for plan in plans]
            windows = _write_inputs(loaded, workdir, self._artifacts(monitor))
            runs = iter(self._run(monitor, windows, workdir, cancelled)) if windows else iter(())
            return [w if isinstance(w, Computed) else _stored(w, next(runs)) for w in loaded]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _artifacts(self, monitor: Monitor) -> Callable[[WindowPlan], dict[str, Any] | None]:
        """Per window: the model to explain ({"artifact": None}: none held), or None: no lookup."""
        target = monitor.spec.target
        explains = any(s.kind is SignalKind.attribution_drift for s in monitor.spec.signals)
        if self.explainers is None or target.kind is not TargetKind.endpoint or not explains:
            return lambda plan: None

        def resolve(plan: WindowPlan) -> dict[str, Any]:
            at = plan.production.end - timedelta(microseconds=1)
            found = self.explainers.artifact_at(monitor.project, target.name, at)
            held = None if found is None or found.flavor is Flavor.torch else found
            return {"endpoint": target.name, "at": at.isoformat(),
                    "artifact": None if held is None else _artifact_json(held)}  # fmt: skip

        return resolve

    def _run(
        self, monitor: Monitor, windows: list[dict[str, Any]], workdir: Path,
        cancelled: Callable[[], bool],
    ) -> list[dict[str, Any]]:  # fmt: skip
        trusted = list(getattr(self.explainers, "trusted", ()))
        task = StepTask(
            run_id=uuid.uuid4(), step="backfill", function=STEP, workdir=workdir,
            arguments={name: {"kind": "parameter", "value": value} for name, value in (
                ("monitor", monitor.model_dump(mode="json")), ("windows", windows),
                ("trusted", trusted))},
            outputs={"runs": "parameter"}, allowed_modules=(STEP.partition(":")[0],),
            limits=ResourceLimits(timeout_seconds=self.settings.pipeline_step_timeout_seconds,
                                  memory_bytes=self.settings.pipeline_memory_bytes),
        )  # fmt: skip
        runner = self.runner()
        try:
            outcome = runner.run(task, on_log=_log_line, cancelled=cancelled)
        finally:
            runner.close()
        if outcome.status is not StepStatus.succeeded:
            raise InvalidState(
                f"the runner could not compute the windows ({outcome.status}): {outcome.error}",
                code="backfill_runner_failed",
            )
        runs: list[dict[str, Any]] = outcome.outputs["runs"]["value"]
        if len(runs) != len(windows):
            raise InvalidState("the runner returned another number of windows", code="internal")
        return runs


def _log_line(line: str) -> None:
    log.info("backfill step: %s", line)


def _write_inputs(
    loaded: list[LoadedWindow | Computed], workdir: Path,
    model: Callable[[WindowPlan], dict[str, Any] | None],
) -> list[dict[str, Any]]:  # fmt: skip
    """Each readable window's rows and reference as Parquet files; what the step reads."""
    references: dict[int, str] = {}  # one file per reference object (loaders cache them)
    windows: list[dict[str, Any]] = []
    for index, window in enumerate(loaded):
        if isinstance(window, Computed):
            continue
        ref = window.reference
        if id(ref) not in references:
            references[id(ref)] = f"reference-{len(references)}.parquet"
            pq.write_table(ref.table, workdir / references[id(ref)])
        pq.write_table(window.current, workdir / f"window-{index}.parquet")
        reference = {"file": references[id(ref)], "key": ref.key, "roles": roles_json(ref.roles)}
        windows.append({
            "plan": plan_json(window.plan), "window": f"window-{index}.parquet",
            "reference": reference, "model": model(window.plan),
        })  # fmt: skip
    return windows


def _stored(window: LoadedWindow, run: dict[str, Any]) -> Computed:
    """The step's outcome of ``window`` with the server's own plan and reference."""
    return Computed(
        plan=window.plan, reference=window.reference, rows=run["rows"],
        status=RunStatus(run["status"]), error=run["error"], seconds=run["seconds"],
        outcomes=tuple(outcome_from_json(o) for o in run["outcomes"]),
    )  # fmt: skip


def _artifact_json(artifact: StoredArtifact) -> dict[str, Any]:
    return {
        "project": artifact.project, "model": artifact.model, "version": artifact.version,
        "sha256": artifact.sha256, "flavor": str(artifact.flavor), "size": artifact.size,
        "path": str(artifact.path), "signature": artifact.signature.model_dump(mode="json"),
    }  # fmt: skip


def _artifact_from_json(data: dict[str, Any]) -> StoredArtifact:
    return StoredArtifact(
        project=data["project"], model=data["model"], version=data["version"],
        sha256=data["sha256"], flavor=Flavor(data["flavor"]), size=data["size"],
        path=Path(data["path"]), signature=Signature.model_validate(data["signature"]),
    )  # fmt: skip


# -- the step: runs in the runner's process ---------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class _HeldModel:
    """The model the server resolved for one window (None: Steward holds none to explain)."""

    artifact: StoredArtifact | None
    trusted: tuple[str, ...]

    def find(self, *, project: str, endpoint: str, at: datetime) -> Explainable | None:
        if self.artifact is None:
            return None
        from retrain.explain import cached_explainable  # shap: only when a model is explained

        return cached_explainable(self.artifact, self.trusted)


def compute_windows(
    ctx: StepContext, *, monitor: dict[str, Any], windows: list[dict[str, Any]],
    trusted: list[str],
) -> dict[str, Any]:  # fmt: skip
    """Compute every signal of each window the server wrote to the work directory."""
    spec = Monitor.model_validate(monitor)
    profiles = ProfileCache()
    references: dict[str, LoadedReference] = {}
    runs = []
    for item in windows:
        ref = item["reference"]
        if ref["file"] not in references:
            references[ref["file"]] = LoadedReference(
                key=ref["key"], table=pq.read_table(ctx.workdir / ref["file"]),
                roles=roles_from_json(ref["roles"]),
            )  # fmt: skip
        plan = plan_from_json(item["plan"])
        window = LoadedWindow(
            plan=plan, reference=references[ref["file"]],
            current=pq.read_table(ctx.workdir / item["window"]),
        )  # fmt: skip
        computed = compute_loaded(
            spec, window, profiles=profiles, model=_lookup(spec, item["model"], trusted)
        )
        ctx.log.info("window %s: %s", plan.window_end.isoformat(), computed.status.value)
        runs.append(_run_json(computed))
    return {"runs": runs}


def _lookup(
    monitor: Monitor, model: dict[str, Any] | None, trusted: list[str]
) -> ModelLookup | None:
    if model is None:
        return None
    artifact = None if model["artifact"] is None else _artifact_from_json(model["artifact"])
    held = _HeldModel(artifact=artifact, trusted=tuple(trusted))
    return ModelLookup(
        source=held, project=monitor.project, endpoint=model["endpoint"],
        at=datetime.fromisoformat(model["at"]),
    )  # fmt: skip


def _run_json(computed: Computed) -> dict[str, Any]:
    return {
        "rows": computed.rows, "status": computed.status.value, "error": computed.error,
        "seconds": computed.seconds, "outcomes": [outcome_json(o) for o in computed.outcomes],
    }  # fmt: skip
