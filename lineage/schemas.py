"""Read and write models of the asset graph and the model registry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from governance.core.clock import isoformat, to_utc

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")
ALIAS_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_FACETS_BYTES = 256 * 1024


def _utc(value: datetime) -> datetime:
    try:
        return to_utc(value)
    except OverflowError as exc:
        raise ValueError("datetime out of range") from exc


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]
Metric = Annotated[float, Field(allow_inf_nan=False)]


class Incoming(BaseModel):
    """Base of request bodies: text that no database can store is refused up front."""

    @model_validator(mode="after")
    def _no_nul(self) -> Incoming:
        if "\\u0000" in self.model_dump_json():
            raise ValueError("text must not contain NUL characters")
        return self


class NodeKind(StrEnum):
    """Kinds of assets in the graph."""

    dataset = "dataset"
    dataset_version = "dataset_version"
    job = "job"
    run = "run"
    model = "model"
    model_version = "model_version"
    endpoint = "endpoint"
    prompt = "prompt"
    prompt_version = "prompt_version"


class EdgeKind(StrEnum):
    """Kinds of edges; every edge points the way data flows."""

    consumed = "consumed"
    produced = "produced"
    deployed = "deployed"
    derived_from = "derived_from"
    parent = "parent"  # a run (or job) started by another: OpenLineage's parent-run facet
    calls = "calls"  # a prompt version calls a model version
    prompt_deployed = "prompt_deployed"  # a prompt version served an endpoint, over a period


class RunState(StrEnum):
    """OpenLineage run states."""

    start = "START"
    running = "RUNNING"
    complete = "COMPLETE"
    fail = "FAIL"
    abort = "ABORT"
    other = "OTHER"


TERMINAL_STATES = frozenset({RunState.complete, RunState.fail, RunState.abort})


class ColumnType(StrEnum):
    """Logical column types a signature may declare."""

    float = "float"
    int = "int"
    str = "str"
    bool = "bool"
    datetime = "datetime"


class TaskType(StrEnum):
    """What a model predicts."""

    regression = "regression"
    binary = "binary"
    multiclass = "multiclass"
    other = "other"


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeRef:
    """A handle on one node of the graph, for linking it inside a caller's transaction."""

    id: UUID
    project: str
    kind: NodeKind
    namespace: str
    name: str
    version: str = ""

    @property
    def key(self) -> str:
        """Stable text reference (used in audit targets and renderings)."""
        suffix = f"@{self.version}" if self.version else ""
        return f"{self.kind}:{self.namespace}/{self.name}{suffix}"


class Frozen(BaseModel):
    """Base of every value served: immutable."""

    model_config = ConfigDict(frozen=True)


class ColumnSpec(Frozen):
    """One named, typed column."""

    name: str = Field(min_length=1, max_length=256)
    type: ColumnType


class Signature(Frozen):
    """What a model takes and returns; endpoints validate inference logs against it."""

    inputs: list[ColumnSpec] = Field(min_length=1, max_length=5000)
    outputs: list[ColumnSpec] = Field(
        default_factory=lambda: [ColumnSpec(name="prediction", type=ColumnType.float)]
    )
    task: TaskType = TaskType.other
    probabilities: bool = False
    classes: list[str] | None = None
    context: list[ColumnSpec] = Field(
        default_factory=list,
        max_length=1000,
        description="Columns each request carries and capture keeps, never passed to the model: "
        "sensitive attributes a fairness monitor groups by although the model must not see "
        "them, or segments to slice drift by.",
    )

    @field_validator("inputs", "outputs", "context")
    @classmethod
    def _unique(cls, value: list[ColumnSpec]) -> list[ColumnSpec]:
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise ValueError("column names must be unique")
        return value

    @model_validator(mode="after")
    def _context_apart(self) -> Signature:
        taken = {c.name for c in self.inputs} | {c.name for c in self.outputs}
        clash = sorted(c.name for c in self.context if c.name in taken)
        if clash:
            raise ValueError(f"context columns {clash} are already inputs or outputs")
        return self

    def captured(self) -> list[ColumnSpec]:
        """The columns a request carries and capture stores: the inputs, then the context."""
        return [*self.inputs, *self.context]

    def input_types(self) -> dict[str, ColumnType]:
        """Input column name -> type."""
        return {c.name: c.type for c in self.inputs}


class Node(Frozen):
    """One node as served."""

    id: UUID
    project: str
    kind: NodeKind
    namespace: str
    name: str
    version: str = ""
    created_at: datetime
    attrs: dict[str, Any] = Field(default_factory=dict)

    @property
    def ref(self) -> NodeRef:
        """The node's handle."""
        return NodeRef(
            id=self.id,
            project=self.project,
            kind=self.kind,
            namespace=self.namespace,
            name=self.name,
            version=self.version,
        )


class Edge(Frozen):
    """One edge as served."""

    src: UUID
    dst: UUID
    kind: EdgeKind
    valid_from: datetime
    valid_to: datetime | None = None


class Graph(Frozen):
    """A subgraph: nodes with their distance from the start, and the edges between them."""

    root: UUID | None = None
    nodes: list[Node]
    edges: list[Edge]
    depth: dict[str, int] = Field(default_factory=dict)
    truncated: bool = False


class ColumnEdge(Frozen):
    """Column-level lineage between two datasets."""

    src: UUID
    src_field: str
    dst: UUID
    dst_field: str
    transformations: list[dict[str, Any]] = Field(default_factory=list)


class DatasetCreate(Incoming):
    """Register a dataset version whose hash, schema and row count the caller computed."""

    name: str = Field(pattern=NAME_RE.pattern, max_length=200)
    namespace: str | None = Field(default=None, max_length=512)
    uri: str = Field(default="", max_length=2048)
    version: str | None = Field(default=None, max_length=128)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    columns: list[ColumnSpec] = Field(default_factory=list, max_length=5000)
    row_count: int | None = Field(default=None, ge=0)
    facets: dict[str, Any] = Field(default_factory=dict)
    description: str = Field(default="", max_length=4000)


class DatasetVersion(Frozen):
    """An immutable version of a dataset."""

    id: UUID
    project: str
    namespace: str
    name: str
    version: str
    uri: str
    sha256: str
    columns: list[ColumnSpec]
    row_count: int | None
    facets: dict[str, Any]
    created_at: datetime


class Dataset(Frozen):
    """A dataset with the number of versions it has."""

    id: UUID
    project: str
    namespace: str
    name: str
    created_at: datetime
    versions: int = 0
    latest: str | None = None


class ModelCreate(Incoming):
    """Register a model version whose artifact the caller hashed."""

    artifact_uri: str = Field(default="", max_length=2048)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    flavor: str = Field(default="sklearn", max_length=64)
    signature: Signature
    metrics: dict[str, Metric] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    run_id: UUID | None = None
    training_data: list[UUID] = Field(default_factory=list, max_length=100)
    derived_from: int | None = Field(default=None, ge=1)
    description: str = Field(default="", max_length=4000)


class ModelVersion(Frozen):
    """An immutable version of a model."""

    id: UUID
    project: str
    model: str
    version: int
    artifact_uri: str
    sha256: str
    flavor: str
    signature: Signature
    metrics: dict[str, float]
    tags: dict[str, str]
    run_id: UUID | None = None
    aliases: list[str] = Field(default_factory=list)
    created_at: datetime


class Model(Frozen):
    """A registered model, its versions count and aliases."""

    id: UUID
    project: str
    name: str
    created_at: datetime
    versions: int = 0
    aliases: dict[str, int] = Field(default_factory=dict)


class AliasSet(Incoming):
    """Point an alias at a version."""

    version: int = Field(ge=1)


class ModelAlias(Frozen):
    """An alias and the version it points at."""

    model: str
    alias: str
    version: int
    previous: int | None = None
    updated_at: datetime


CARD_TEXT_MAX = 20_000
CardText = Annotated[str, Field(max_length=CARD_TEXT_MAX)]
Owner = Annotated[str, Field(min_length=1, max_length=200)]


class ModelCard(Frozen):
    """The editable documentation of a registered model, shared by all its versions (empty
    until someone writes it)."""

    owners: list[str] = Field(default_factory=list)
    intended_use: str = ""
    limitations: str = ""
    out_of_scope_uses: str = ""
    updated_by: str | None = None
    updated_at: datetime | None = None


class ModelCardUpdate(Incoming):
    """Change some fields of a model card; fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    owners: list[Owner] | None = Field(default=None, max_length=50)
    intended_use: CardText | None = None
    limitations: CardText | None = None
    out_of_scope_uses: CardText | None = None

    @model_validator(mode="after")
    def _no_null(self) -> ModelCardUpdate:
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"fields cannot be null (leave them out instead): {nulls}")
        return self

    @field_validator("owners")
    @classmethod
    def _distinct_owners(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("owners must be distinct")
        return value


class EndpointKind(StrEnum):
    """What an endpoint serves: a registered model version, or an LLM application's traces."""

    model = "model"
    llm = "llm"


class EndpointCreate(Incoming):
    """Create an endpoint."""

    name: str = Field(pattern=NAME_RE.pattern, max_length=200)
    description: str = Field(default="", max_length=4000)
    kind: EndpointKind = EndpointKind.model


class DeployRequest(Incoming):
    """Deploy a model version (by number or alias) to an endpoint."""

    model: str = Field(pattern=NAME_RE.pattern, max_length=200)
    version: int | None = Field(default=None, ge=1)
    alias: str | None = Field(default=None, pattern=ALIAS_RE.pattern)
    note: str = Field(default="", max_length=1000)


class Deployment(Frozen):
    """A model version serving an endpoint from ``started_at`` until ``ended_at``."""

    endpoint: str
    model: str
    version: int
    model_version_id: UUID
    started_at: datetime
    ended_at: datetime | None = None
    actor: str = ""
    note: str = ""


class Endpoint(Frozen):
    """An endpoint and what it serves now (``signature`` is the deployed version's)."""

    id: UUID
    project: str
    name: str
    description: str
    created_at: datetime
    model_version: ModelVersion | None = None
    deployed_at: datetime | None = None
    kind: EndpointKind = EndpointKind.model

    @property
    def signature(self) -> Signature | None:
        """The signature inference logs of this endpoint are validated against."""
        return None if self.model_version is None else self.model_version.signature


class RunCreate(Incoming):
    """Log a run of a job with its inputs and outputs."""

    job: str = Field(pattern=NAME_RE.pattern, max_length=200)
    job_namespace: str | None = Field(default=None, max_length=512)
    run_id: UUID | None = None
    state: RunState = RunState.complete
    inputs: list[UUID] = Field(default_factory=list, max_length=1000)
    outputs: list[UUID] = Field(default_factory=list, max_length=1000)
    started_at: UtcDateTime | None = None
    ended_at: UtcDateTime | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    code_version: str | None = Field(default=None, max_length=256)
    facets: dict[str, Any] = Field(default_factory=dict)


class Run(Frozen):
    """A run of a job."""

    id: UUID
    project: str
    job_namespace: str
    job: str
    run_id: str
    state: RunState
    started_at: datetime | None = None
    ended_at: datetime | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    code_version: str | None = None
    facets: dict[str, Any] = Field(default_factory=dict)
    inputs: list[UUID] = Field(default_factory=list)
    outputs: list[UUID] = Field(default_factory=list)


class RunPage(Frozen):
    """A page of a job's runs, newest first."""

    items: list[Run]
    next_cursor: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunReport:
    """One report of a run's state: an OpenLineage RunEvent or a ``record_run`` call."""

    state: RunState
    started_at: datetime | None = None
    ended_at: datetime | None = None
    facets: dict[str, Any] | None = None
    parameters: dict[str, Any] | None = None
    code_version: str | None = None

    def applied_to(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """A run's attributes with this report folded in; a late START never undoes COMPLETE."""
        out = dict(attrs)
        current = out.get("state")
        if (
            current is None
            or RunState(current) not in TERMINAL_STATES
            or self.state in TERMINAL_STATES
        ):
            out["state"] = str(self.state)
        if self.started_at is not None:
            old, new = out.get("started_at"), isoformat(self.started_at)
            out["started_at"] = min(old, new) if old else new
        if self.ended_at is not None:
            out["ended_at"] = isoformat(self.ended_at)
        if self.facets:
            out["facets"] = {**out.get("facets", {}), **self.facets}
        if self.parameters:
            out["parameters"] = {**out.get("parameters", {}), **self.parameters}
        if self.code_version:
            out["code_version"] = self.code_version
        return out


class Job(Frozen):
    """A job: a process that runs, consuming and producing datasets."""

    id: UUID
    project: str
    namespace: str
    name: str
    created_at: datetime
    facets: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeRecord:
    """A node with its bookkeeping: the node it belongs to and when it last changed."""

    node: Node
    parent: UUID | None
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class RawEvent:
    """An OpenLineage event as received, kept as evidence (``fingerprint`` makes it unique)."""

    project: str
    fingerprint: str
    kind: str
    event_type: str | None
    run_id: str | None
    event_time: datetime
    received_at: datetime
    payload: dict[str, Any]


class IngestResult(Frozen):
    """What an OpenLineage event did."""

    project: str
    kind: str
    duplicate: bool = False
    run: UUID | None = None
    edges: int = 0


class PathResult(Frozen):
    """A shortest path between two nodes (empty when none within the depth limit)."""

    nodes: list[Node]
    edges: list[Edge]
