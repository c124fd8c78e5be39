"""What the server answers, as frozen pydantic models that keep fields this SDK does not know.

They mirror the server's schemas loosely on purpose: a newer server that adds a field still
parses (``extra="allow"``), and the SDK needs none of the server's packages to read them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """Base of every answer model: frozen, unknown fields kept."""

    model_config = ConfigDict(frozen=True, extra="allow", protected_namespaces=())


class Project(Answer):
    """A project."""

    id: UUID
    name: str
    description: str = ""
    created_at: datetime
    retention_days: int | None = None


class RoleBinding(Answer):
    """Who holds which role in a project."""

    principal: str
    role: str
    project: str


class Me(Answer):
    """The caller: its name and its roles by project."""

    name: str
    kind: str
    roles: dict[str, list[str]] = Field(default_factory=dict)


class Column(Answer):
    """A named, typed column of a dataset or a model signature."""

    name: str
    type: str


class Signature(Answer):
    """A model's inputs and outputs (send a dict of the same shape, or this)."""

    inputs: list[Column]
    outputs: list[Column] = Field(default_factory=list)
    task: str = "other"
    probabilities: bool = False
    classes: list[str] | None = None
    # captured with each request, never passed to the model (e.g. sensitive attributes)
    context: list[Column] = Field(default_factory=list)


class Dataset(Answer):
    """A dataset and how many versions it has."""

    id: UUID
    name: str
    versions: int = 0
    latest: str | None = None


class DatasetVersion(Answer):
    """One immutable version of a dataset; ``id`` is its lineage node."""

    id: UUID
    project: str
    name: str
    version: str
    uri: str
    sha256: str | None = None
    columns: list[Column] = Field(default_factory=list)
    row_count: int | None = None
    created_at: datetime


class Model(Answer):
    """A registered model, its version count and aliases."""

    id: UUID
    name: str
    versions: int = 0
    aliases: dict[str, int] = Field(default_factory=dict)


class ModelVersion(Answer):
    """One immutable version of a model; ``id`` is its lineage node."""

    id: UUID
    project: str
    model: str
    version: int
    sha256: str | None = None
    flavor: str
    signature: Signature
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    run_id: UUID | None = None
    aliases: list[str] = Field(default_factory=list)
    created_at: datetime


class ArtifactInfo(Answer):
    """A model version's stored artifact."""

    model: str
    version: int
    sha256: str
    flavor: str
    size: int


class Endpoint(Answer):
    """An endpoint and the model version it serves now."""

    id: UUID
    name: str
    description: str = ""
    model_version: ModelVersion | None = None
    deployed_at: datetime | None = None
    kind: str = "model"  # or "llm": an LLM application's traces, no model version


class Deployment(Answer):
    """A model version served at an endpoint from ``started_at`` to ``ended_at``."""

    endpoint: str
    model: str
    version: int
    started_at: datetime
    ended_at: datetime | None = None
    note: str = ""


class ScoreResult(Answer):
    """Predictions in request order, the version that made them, and the rows' correlation ids."""

    model: str
    version: int
    correlation_ids: list[str]
    predictions: list[Any]
    probabilities: list[list[float]] | None = None
    classes: list[str] | None = None


class IngestResult(Answer):
    """What happened to one posted batch of inferences or labels."""

    batch_id: UUID
    kind: str
    rows: int
    duplicate: bool
    days: list[str] = Field(default_factory=list)


class IngestSummary(Answer):
    """All batches of one ``log_*`` call: rows stored, and batches that were retries."""

    batches: list[IngestResult]

    @property
    def rows(self) -> int:
        """Rows in all batches."""
        return sum(b.rows for b in self.batches)

    @property
    def duplicates(self) -> int:
        """Batches the server already held (a retry of a stored batch is not stored again)."""
        return sum(b.duplicate for b in self.batches)


class Monitor(Answer):
    """A monitor and its spec."""

    id: UUID
    project: str
    spec: dict[str, Any]
    revision: int = 0

    @property
    def name(self) -> str:
        """The monitor's name."""
        return str(self.spec["name"])


class MonitorRun(Answer):
    """One run of a monitor over one window."""

    id: UUID
    monitor: str
    window_start: datetime
    window_end: datetime
    status: str
    breached: bool
    row_count: int
    error: str | None = None


class RunReport(Answer):
    """What ``run`` did: the window's run, whether this call created it, alerts raised."""

    run: MonitorRun
    created: bool
    alerts: list[str] = Field(default_factory=list)


class ResultPoint(Answer):
    """One value of a monitor's time series."""

    window_end: datetime
    run_id: UUID
    signal: str
    metric: str
    feature: str
    value: float | None
    threshold: float | None
    breached: bool


class Alert(Answer):
    """An alert and its state (open, acknowledged, resolved)."""

    id: UUID
    monitor: str
    signal: str
    severity: str
    state: str
    value: float | None = None
    threshold: float | None = None
    opened_at: datetime
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    note: str = ""


class Pipeline(Answer):
    """One version of a pipeline."""

    id: UUID
    name: str
    version: int
    digest: str
    spec: dict[str, Any]


class PipelineRun(Answer):
    """A pipeline run, its steps, inputs and outputs."""

    id: UUID
    pipeline: str
    pipeline_version: int
    state: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None

    @property
    def ended(self) -> bool:
        """Whether the run is over (succeeded, failed, cancelled ...)."""
        return self.state not in ("queued", "running")


class LogChunk(Answer):
    """Lines a pipeline step printed, from an offset."""

    step: str
    text: str
    next_offset: int
    ended: bool


class LineageRun(Answer):
    """A run of a job as lineage records it, with its input and output nodes."""

    id: UUID
    job: str
    run_id: str
    state: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    inputs: list[UUID] = Field(default_factory=list)
    outputs: list[UUID] = Field(default_factory=list)


class StoredReport(Answer):
    """A report the server generated, signed and stored."""

    id: UUID
    kind: str
    model: str | None = None
    version: int | None = None
    format: str
    digest: str
    size: int
    generated_at: datetime
