"""Seams of a run: where windows, references, alerts and lineage come from and go to.

Each seam is a Protocol with an in-memory implementation here (tests, benchmarks, the demo's
dry runs); the real ones, on the capture store, the alerts package and the lineage graph, are in
``monitors.runs.adapters``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from governance.core.cache import BoundedCache
from governance.core.db import Database
from governance.core.errors import NotFound
from lineage.schemas import Signature
from monitors.evaluators.schemas import EvalCase, EvaluatorName, Score
from monitors.runs.schemas import RunStatus, SignalOutcome
from monitors.specs.roles import column_roles as column_roles  # re-exported: its home before
from monitors.specs.schemas import Monitor, MonitorSpec, Target
from monitors.specs.windows import Span, WindowPlan
from monitors.stats.columns import DEFAULT_ROLES, ColumnRoles
from monitors.stats.partition import WindowSummary
from monitors.stats.reference import ReferenceProfile, build_reference_profile


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadedReference:
    """A reference table, the identity it is cached and linked under, and its columns' roles."""

    key: str
    table: pa.Table
    dataset: str | None = None
    version: str | None = None
    roles: ColumnRoles = DEFAULT_ROLES


@dataclass(frozen=True, kw_only=True, slots=True)
class Computed:
    """Everything a run produced before it is stored."""

    plan: WindowPlan
    reference: LoadedReference
    rows: int
    status: RunStatus
    outcomes: tuple[SignalOutcome, ...]
    error: str | None
    seconds: float


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRecord:
    """What the lineage and alert seams learn about a finished run."""

    run_id: UUID
    monitor: Monitor
    plan: WindowPlan
    reference: LoadedReference
    status: RunStatus
    outcomes: Sequence[SignalOutcome]


class WindowReader(Protocol):
    """Reads the rows of a target in ``[start, end)`` as an Arrow table (empty when none)."""

    def read(self, *, project: str, target: Target, span: Span, labels: bool = False) -> pa.Table:
        """The target's rows inside ``span`` (with a ``label`` column when ``labels``)."""
        ...


class ReferenceLoader(Protocol):
    """Resolves a monitor's reference to a table; raises NotFound when it does not exist."""

    def load(
        self, *, project: str, spec: MonitorSpec, span: Span | None, windows: WindowReader
    ) -> LoadedReference:
        """The reference of ``spec`` (``span`` is set for past-window references)."""
        ...


class AlertSink(Protocol):
    """Opens or updates alerts for breached signals inside the run's transaction."""

    def raise_alerts(self, session: Session, record: RunRecord) -> list[str]:
        """Raise an alert per breached signal; return the ids of alerts raised or updated."""
        ...

    def deliver(self, db: Database, alert_ids: Sequence[str]) -> None:
        """Send notifications for alerts after the run's transaction committed."""
        ...


class LineageSink(Protocol):
    """Records a run as a lineage node linked to its endpoint and reference."""

    def record_run(self, session: Session, record: RunRecord) -> str | None:
        """Record the run inside the run's transaction; return the node's reference."""
        ...


class Explainable(Protocol):
    """A model version Steward holds, whose outputs SHAP attributes to its inputs.

    ``features`` are the model's inputs, the columns ``shap_values`` reads. ``shap_values``
    returns an array of shape (rows, features) or (rows, features, outputs) for ``rows``,
    masking a feature with the ``background`` rows' values where its explainer needs a
    background, seeded by ``seed``. ``key`` identifies the version's bytes (cached results of
    one version are never reused for another).
    """

    @property
    def model(self) -> str:
        """The registered model's name."""
        ...

    @property
    def version(self) -> int:
        """The model version."""
        ...

    @property
    def key(self) -> str:
        """The SHA-256 of the version's artifact."""
        ...

    @property
    def flavor(self) -> str:
        """The artifact's flavour (sklearn, onnx, torchscript)."""
        ...

    @property
    def features(self) -> tuple[str, ...]:
        """The model's inputs, in the order of ``shap_values``' second axis."""
        ...

    @property
    def explainer(self) -> str:
        """The SHAP explainer used: ``tree`` or ``permutation``."""
        ...

    def shap_values(self, rows: pa.Table, *, background: pa.Table, seed: int) -> np.ndarray:
        """SHAP values of the model's output for each row of ``rows``."""
        ...


class ModelExplainerSource(Protocol):
    """Finds the model version that served an endpoint at a time, if Steward holds it."""

    def find(self, *, project: str, endpoint: str, at: datetime) -> Explainable | None:
        """The explainable model serving ``endpoint`` at ``at``; None when Steward lacks it.

        None means "not held" (no deployment, no uploaded artifact, or a flavour Steward cannot
        score): attribution drift falls back to a surrogate of the logged outputs. An artifact
        that is held but refused (changed on disk, untrusted types) raises.
        """
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelLookup:
    """Where a run looks its endpoint's model up: found only when a signal needs it."""

    source: ModelExplainerSource
    project: str
    endpoint: str
    at: datetime

    def find(self) -> Explainable | None:
        """The explainable model serving the endpoint at ``at``, if Steward holds it."""
        return self.source.find(project=self.project, endpoint=self.endpoint, at=self.at)


class CaseJudge(Protocol):
    """Scores LLM answers with evaluators (judges through a project's connection)."""

    def score(
        self, *, project: str, evaluators: Sequence[EvaluatorName], cases: Sequence[EvalCase],
        connection: str | None,
    ) -> list[list[Score]]:  # fmt: skip
        """One list of scores per case, in ``evaluators`` order (a value None: unscorable)."""
        ...


class WindowComputer(Protocol):
    """Computes a chunk of a backfill's windows (here, or in the pipeline runner's processes)."""

    chunk: int  # windows per call: what one process start is spread over

    def compute(
        self, monitor: Monitor, plans: Sequence[WindowPlan], env: RunEnvironment,
        *, cancelled: Callable[[], bool],
    ) -> list[Computed]:  # fmt: skip
        """Each window's run, in the order of ``plans``; raises when the chunk could not run
        (``cancelled`` turning true stops it)."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class WindowParts:
    """A window's partitions, found without reading their rows: what profile mode summarises."""

    project: str
    target: Target
    span: Span
    units: tuple[Any, ...]  # the partition source's own handles (file and row group)
    rows: int  # rows of the partitions (some may fall outside the span)


class WindowPartitions(Protocol):
    """Summarises a window partition by partition (profile mode), where its rows are stored.

    ``find`` returns None when the window is not run in profile mode (not an endpoint, or
    fewer rows than the deployment's threshold): the run then reads it whole. ``summarise``
    profiles each partition against ``reference`` and keeps a bounded, seeded, stratified
    sample, here or on workers, and merges them in partition order; the result is the same
    however the window is partitioned.
    """

    def find(self, *, project: str, target: Target, span: Span) -> WindowParts | None:
        """The window's partitions when it runs in profile mode, else None."""
        ...

    def summarise(self, parts: WindowParts, reference: ReferenceProfile) -> WindowSummary:
        """The merged profile and sample of the window's rows."""
        ...


class ProfileCache(BoundedCache[str, ReferenceProfile]):
    """Reference profiles by reference key, computed once per process (LRU, thread-safe)."""

    def __init__(self, size: int = 32) -> None:
        super().__init__(size)

    def profile(self, reference: LoadedReference) -> ReferenceProfile:
        """The profile of a loaded reference."""
        return self.get(reference.key, lambda: build_reference_profile(reference.table))


PROFILES = ProfileCache()


@dataclass(kw_only=True)
class RunEnvironment:
    """The collaborators a run needs, passed in by the daemon, the API, the CLI or a test."""

    windows: WindowReader
    references: ReferenceLoader
    alerts: AlertSink
    lineage: LineageSink
    profiles: ProfileCache = PROFILES
    # None: attribution drift explains surrogates of the logged outputs, never the model
    explainers: ModelExplainerSource | None = None
    # How a backfill computes its windows; None: in this process, one after the other
    windows_computer: WindowComputer | None = None
    # Profile mode over partitions for large windows; None: every window is read whole
    partitions: WindowPartitions | None = None
    # Scores LLM answers (llm_quality); None: that signal fails, saying why
    judge: CaseJudge | None = None


class TableWindowReader:
    """Windows cut from in-memory tables by their ``timestamp`` column, per target name."""

    def __init__(self, tables: Mapping[str, pa.Table], *, column: str = "timestamp") -> None:
        self.tables = dict(tables)
        self.column = column

    def read(self, *, project: str, target: Target, span: Span, labels: bool = False) -> pa.Table:
        """Rows of the target's table with ``start <= timestamp < end`` (labels as stored)."""
        table = self.tables.get(target.name)
        if table is None:
            raise NotFound(f"{target.kind} {target.name!r} not found")
        ts = table.column(self.column)
        start = pa.scalar(span.start, type=ts.type)
        end = pa.scalar(span.end, type=ts.type)
        return table.filter(pc.and_(pc.greater_equal(ts, start), pc.less(ts, end)))


class StaticReferenceLoader:
    """References from in-memory tables by dataset name (or past windows of the reader)."""

    def __init__(
        self,
        tables: Mapping[str, pa.Table],
        *,
        default: str | None = None,
        signature: Signature | None = None,
    ) -> None:
        self.tables = dict(tables)
        self.default = default
        self.signature = signature

    def load(
        self, *, project: str, spec: MonitorSpec, span: Span | None, windows: WindowReader
    ) -> LoadedReference:
        """The named (or default) table, or the past window ``span`` of the target."""
        roles = column_roles(spec, self.signature)
        if span is not None:
            table = windows.read(project=project, target=spec.target, span=span)
            key = f"window:{project}/{spec.target.name}@{span.start.isoformat()}"
            return LoadedReference(key=key, table=table, roles=roles)
        name = spec.reference.dataset or self.default
        if name is None or name not in self.tables:
            raise NotFound(f"reference dataset {name!r} not found")
        return LoadedReference(
            key=f"dataset:{project}/{name}", table=self.tables[name], dataset=name, roles=roles
        )


@dataclass(kw_only=True)
class MemoryAlertSink:
    """Keeps raised alerts in a list; delivers nothing (tests)."""

    raised: list[tuple[str, str, datetime]] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)

    def raise_alerts(self, session: Session, record: RunRecord) -> list[str]:
        """Remember each breached signal as (monitor, signal, window end)."""
        ids = []
        for outcome in record.outcomes:
            if outcome.breached:
                self.raised.append((record.monitor.name, outcome.key, record.plan.window_end))
                ids.append(f"{record.monitor.name}/{outcome.key}")
        return ids

    def deliver(self, db: Database, alert_ids: Sequence[str]) -> None:
        """Note the ids as delivered."""
        self.delivered.extend(alert_ids)


class NoLineage:
    """Records nothing (tests of runs without a lineage graph)."""

    def record_run(self, session: Session, record: RunRecord) -> str | None:
        """Return no node."""
        return None
