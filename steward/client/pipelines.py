"""Pipelines and their runs on the server, and runs of your own code recorded as lineage."""

from __future__ import annotations

import builtins
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from steward.client.base import PAGE, Resource, node_id, seg
from steward.client.http import dumps
from steward.client.models import LineageRun, LogChunk, Pipeline, PipelineRun


class Pipelines(Resource):
    """Pipelines (versioned specs) and the runs the server's worker executes."""

    def apply(self, spec: str | Path | Mapping[str, Any]) -> Pipeline:
        """Apply a spec (YAML text, a YAML file, or a dict): a new version, or the same one."""
        if isinstance(spec, Path):
            spec = spec.read_text()
        body, media = (
            (spec.encode(), "application/yaml") if isinstance(spec, str)
            else (dumps(dict(spec)), "application/json")
        )  # fmt: skip
        found = self._http.json(
            "POST", self._path("/pipelines"), content=body, headers={"Content-Type": media}
        )
        return Pipeline.model_validate(found)

    def list(self) -> builtins.list[Pipeline]:
        """The newest version of each pipeline."""
        return self._list(Pipeline, "/pipelines")

    def get(self, name: str, *, version: int | None = None) -> Pipeline:
        """One version of a pipeline (the newest by default)."""
        return self._get(Pipeline, f"/pipelines/{seg(name)}", version=version)

    def launch(
        self,
        name: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        version: int | None = None,
        launch_key: str | None = None,
    ) -> PipelineRun:
        """Queue a run; the same ``launch_key`` again returns the same run instead of another."""
        body = {"inputs": dict(inputs) if inputs else None, "version": version,
                "launch_key": launch_key}  # fmt: skip
        return self._send(PipelineRun, "POST", f"/pipelines/{seg(name)}/runs", body)

    def runs(
        self, *, pipeline: str | None = None, state: str | None = None
    ) -> builtins.list[PipelineRun]:
        """The project's pipeline runs, newest first."""
        found: builtins.list[PipelineRun] = []
        params: dict[str, Any] = {"pipeline": pipeline, "state": state, "limit": PAGE}
        while True:
            page = self._http.json("GET", self._path("/pipeline-runs"), params=params)
            found.extend(PipelineRun.model_validate(r) for r in page["items"])
            if not page.get("next_cursor"):
                return found
            params["cursor"] = page["next_cursor"]

    def get_run(self, run_id: UUID | str) -> PipelineRun:
        """One run with its steps, inputs and outputs."""
        return self._get(PipelineRun, f"/pipeline-runs/{run_id}")

    def cancel(self, run_id: UUID | str) -> PipelineRun:
        """Cancel a queued or running run."""
        return self._send(PipelineRun, "POST", f"/pipeline-runs/{run_id}/cancel")

    def logs(self, run_id: UUID | str, step: str, *, offset: int = 0) -> LogChunk:
        """A step's printed lines from byte ``offset``."""
        return self._get(LogChunk, f"/pipeline-runs/{run_id}/logs", step=step, offset=offset)

    def wait(
        self,
        run_id: UUID | str,
        *,
        timeout: float = 600.0,
        poll: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> PipelineRun:
        """Poll a run until it ends; TimeoutError if it has not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_run(run_id)
            if run.ended:
                return run
            if time.monotonic() >= deadline:
                raise TimeoutError(f"pipeline run {run_id} still {run.state} after {timeout}s")
            sleep(poll)


@dataclass(kw_only=True)
class RunHandle:
    """A run of your code being recorded: add what it reads and writes before the block ends."""

    id: UUID
    job: str
    inputs: list[UUID] = field(default_factory=list)
    outputs: list[UUID] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)

    def add_input(self, ref: Any) -> None:
        """Record a dataset or model version (or its id) as read by the run."""
        self.inputs.append(node_id(ref))

    def add_output(self, ref: Any) -> None:
        """Record a dataset or model version (or its id) as written by the run."""
        self.outputs.append(node_id(ref))

    def log_params(self, **values: Any) -> None:
        """Add run parameters (sent when the run ends)."""
        self.parameters.update(values)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Runs(Resource):
    """Runs of jobs recorded as lineage through ``POST /projects/{p}/runs``."""

    def log(self, handle: RunHandle, state: str, **extra: Any) -> LineageRun:
        """Record the run's state with its inputs, outputs and parameters."""
        body = {
            "job": handle.job, "run_id": str(handle.id), "state": state,
            "inputs": [str(i) for i in handle.inputs],
            "outputs": [str(o) for o in handle.outputs], "parameters": handle.parameters,
            **extra,
        }  # fmt: skip
        return self._send(LineageRun, "POST", "/runs", body)

    def get(self, run_id: UUID | str) -> LineageRun:
        """A recorded run by its id."""
        return self._get(LineageRun, f"/runs/{run_id}")

    @contextmanager
    def record(
        self,
        job: str,
        *,
        inputs: Sequence[Any] = (),
        parameters: Mapping[str, Any] | None = None,
        code_version: str | None = None,
        resolve: Callable[[Any], UUID] = node_id,
    ) -> Iterator[RunHandle]:
        """Record START now, then COMPLETE with the outputs, or FAIL with the error."""
        handle = RunHandle(id=uuid4(), job=job, parameters=dict(parameters or {}))
        handle.inputs.extend(resolve(ref) for ref in inputs)
        common = {"code_version": code_version}
        self.log(handle, "START", started_at=_now(), **common)
        try:
            yield handle
        except BaseException as exc:
            facet = {"message": f"{type(exc).__name__}: {exc}", "programmingLanguage": "python",
                     "stackTrace": "".join(traceback.format_exception(exc))[-8000:]}  # fmt: skip
            self.log(handle, "FAIL", ended_at=_now(), facets={"errorMessage": facet}, **common)
            raise
        self.log(handle, "COMPLETE", ended_at=_now(), **common)
