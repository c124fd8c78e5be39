"""What leaves retrain.pipelines: pipelines (versioned specs), runs and their steps."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from retrain.pipelines.spec import PipelineSpec
from retrain.plan import ReleasePlan


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class PipelineRunState(StrEnum):
    """Where a pipeline run is (``RunState``; named apart from lineage's in the API schema)."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    orphaned = "orphaned"  # its worker stopped sending heartbeats while it ran

    @property
    def ended(self) -> bool:
        """Whether the run will not change any more."""
        return self not in (PipelineRunState.queued, PipelineRunState.running)


RunState = PipelineRunState


class StepState(StrEnum):
    """Where one step of a run is."""

    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    skipped = "skipped"  # an earlier step failed or the run was stopped


class Pipeline(_Frozen):
    """One version of a pipeline."""

    id: UUID
    project: str
    name: str
    version: int
    digest: str
    spec: PipelineSpec
    created_by: str
    created_at: datetime


class AppliedPipeline(_Frozen):
    """The version an apply left current; ``created`` False when the spec was unchanged."""

    pipeline: Pipeline
    created: bool


class StepRun(_Frozen):
    """One step of a run."""

    name: str
    state: StepState = StepState.pending
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    lineage_run_id: UUID | None = None


class PipelineRun(_Frozen):
    """A run of one pipeline version, with its resolved inputs, outputs and steps."""

    id: UUID
    project: str
    pipeline: str
    pipeline_version: int
    state: RunState
    # Input name -> resolved value: {"kind": "dataset", "dataset", "version", "sha256"},
    # {"kind": "model", "model", "version", "sha256"} or {"kind": "parameter", "value"}.
    inputs: dict[str, Any]
    # "step.output" -> {"kind": "model", "model", "version"} | {"kind": "dataset", "dataset",
    # "version"} | {"kind": "metrics", "values"} | {"kind": "parameter", "value"}.
    outputs: dict[str, Any]
    steps: list[StepRun]
    launched_by: str
    trigger_id: UUID | None = None
    trigger_owner: str | None = None
    launch_key: str | None = None
    plan: ReleasePlan | None = None
    runner: str | None = None
    worker: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    heartbeat_at: datetime | None = None
    error: str | None = None


class Launch(_Frozen):
    """A launched run; ``created`` False when its launch key had launched it before."""

    run: PipelineRun
    created: bool


class LaunchRequest(BaseModel):
    """Launch a run by hand: a version (default: the newest), inputs overriding defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int | None = Field(default=None, ge=1)
    inputs: dict[str, Any] | None = None
    plan: ReleasePlan | None = None
    launch_key: str | None = Field(default=None, min_length=1, max_length=300)


class PipelineRunPage(_Frozen):
    """A page of runs, newest first."""

    items: list[PipelineRun]
    next_cursor: str | None = None


class LogChunk(_Frozen):
    """Log text of a step from an offset, and the offset to read on from."""

    step: str
    text: str
    next_offset: int
    ended: bool
