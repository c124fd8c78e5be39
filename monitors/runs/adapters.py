"""The real seams of a run: the capture store, the lineage graph and the alerts package."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import InvalidState, NotFound
from governance.core.paths import REFUSED, Unconfined
from governance.core.principal import SYSTEM
from governance.core.secrets import SecretBox
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.objectdata import dataset_location, read_dataset_table
from lineage.schemas import DatasetVersion, ModelVersion, NodeKind, NodeRef, RunState
from monitors.alerts.schemas import Breach
from monitors.alerts.service import raise_or_update_alert
from monitors.capture.service import read_window
from monitors.runs.llm_judge import EvaluatorJudge
from monitors.runs.schemas import RunStatus
from monitors.runs.sources import (
    LoadedReference,
    ModelExplainerSource,
    RunEnvironment,
    RunRecord,
    WindowPartitions,
    WindowReader,
    column_roles,
)
from monitors.specs.schemas import MonitorSpec, Target, TargetKind
from monitors.specs.windows import Span

JOB_NAMESPACE = "steward.monitors"


def read_dataset_version(found: DatasetVersion, *, settings: Settings) -> pa.Table:
    """Read a dataset version (Parquet file or folder, or CSV) from inside its project's prefix:
    of a local dataset root, or of the object store ``settings.dataset_uri`` names."""
    # The location was confined at registration; it is checked again here, as a row edited in
    # the database (or a link swapped since) must not make a run read outside the prefix.
    try:
        return read_dataset_table(
            found.uri, project=found.project, roots=settings.dataset_roots,
            location=dataset_location(settings.dataset_uri),
        )  # fmt: skip
    except Unconfined:
        raise InvalidState(
            f"dataset {found.name!r} version {found.version!r} cannot be read: {REFUSED}"
        ) from None


class CaptureWindowReader:
    """Endpoint windows from the capture store; dataset targets read their newest version."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def read(self, *, project: str, target: Target, span: Span, labels: bool = False) -> pa.Table:
        """The target's rows inside ``span`` (joined with their latest labels when ``labels``)."""
        if target.kind is TargetKind.endpoint:
            return read_window(
                self.settings,
                project=project,
                endpoint=target.name,
                start=span.start,
                end=span.end,
                with_labels=labels,
            )
        version = lineage.get_dataset_version(self.db, project=project, name=target.name)
        if not span.start <= version.created_at < span.end:
            return pa.table({})  # no new version of the dataset in this window
        return read_dataset_version(version, settings=self.settings)


class LineageReferenceLoader:
    """References from registered dataset versions (default: the deployed model's training data)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def load(
        self, *, project: str, spec: MonitorSpec, span: Span | None, windows: WindowReader
    ) -> LoadedReference:
        """The reference table, its columns' roles from the deployed model's signature."""
        model = self._served(project, spec, missing_ok=span is not None)
        roles = column_roles(spec, model.signature if model is not None else None)
        if span is not None:
            table = windows.read(project=project, target=spec.target, span=span)
            key = f"window:{project}/{spec.target.name}@{span.start.isoformat()}"
            return LoadedReference(key=key, table=table, roles=roles)
        name, version = spec.reference.dataset, spec.reference.version
        if name is None and model is not None:
            name, version = self._training_data(project, model.id)
        if name is None:
            raise NotFound("no reference dataset: name one, or link the model's training data")
        found = lineage.get_dataset_version(self.db, project=project, name=name, version=version)
        table = read_dataset_version(found, settings=self.settings)
        key = f"dataset:{project}/{found.namespace}/{found.name}@{found.version}"
        return LoadedReference(
            key=key, table=table, dataset=found.name, version=found.version, roles=roles
        )

    def _served(self, project: str, spec: MonitorSpec, *, missing_ok: bool) -> ModelVersion | None:
        """The model version the target endpoint serves; NotFound unless ``missing_ok``."""
        # A missing endpoint fails a run against a dataset; a past window of it is just empty.
        if spec.target.kind is not TargetKind.endpoint:
            return None
        if missing_ok:
            found = lineage.find_endpoint(self.db, project=project, name=spec.target.name)
            return None if found is None else found.model_version
        return lineage.get_endpoint(self.db, project=project, name=spec.target.name).model_version

    def _training_data(self, project: str, model_version_id: Any) -> tuple[str | None, str | None]:
        from lineage.query import upstream

        graph = upstream(self.db, project=project, node_id=model_version_id, depth=1)
        for node in graph.nodes:
            if node.kind is NodeKind.dataset_version:
                return node.name, node.version
        return None, None


class LineageRunSink:
    """A monitor is one lineage job, ``monitor.<name>``, reading its endpoint and reference.

    Each run is kept as history of that job (window, status, breached signals, the monitor
    run's id), without edges of its own: a backfill of hundreds of windows adds no edge and no
    node that a walk reaches; only a reference version read for the first time adds an edge.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()

    def record_run(self, session: Session, record: RunRecord) -> str | None:
        """Record the run inside the run's transaction; return its lineage run's id."""
        monitor = record.monitor
        inputs: list[NodeRef] = []
        if monitor.spec.target.kind is TargetKind.endpoint:
            try:
                inputs.append(
                    lineage.endpoint_ref(
                        session, project=monitor.project, name=monitor.spec.target.name
                    )
                )
            except NotFound:
                return None  # a run of a monitor whose endpoint is gone links to nothing
        if record.reference.dataset:
            inputs.append(
                lineage.dataset_version_ref(
                    session,
                    project=monitor.project,
                    name=record.reference.dataset,
                    version=record.reference.version,
                )
            )
        run = lineage.record_run(
            session,
            project=monitor.project,
            job_namespace=JOB_NAMESPACE,
            job_name=f"monitor.{monitor.name}",
            run_id=record.run_id,
            state=RunState.fail if record.status is RunStatus.failed else RunState.complete,
            inputs=inputs,
            started_at=record.plan.window_end,
            ended_at=record.plan.window_end,
            facets={"steward_monitor": _facet(record)},
            as_history=True,
            actor=SYSTEM,
            clock=self.clock,
        )
        return str(run.id)


def _facet(record: RunRecord) -> dict[str, Any]:
    return {
        "monitor": record.monitor.name,
        "monitor_run": str(record.run_id),
        "window_start": record.plan.production.start.isoformat(),
        "window_end": record.plan.window_end.isoformat(),
        "status": str(record.status),
        "breached": [o.key for o in record.outcomes if o.breached],
    }


class AlertsSink:
    """Alerts through ``monitors.alerts``; webhooks sent by its outbox after the commit."""

    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, sender: Any = None
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.sender = sender
        self.secrets = SecretBox.from_settings(settings)

    def raise_alerts(self, session: Session, record: RunRecord) -> list[str]:
        """Raise or update one alert per breached signal."""
        spec = record.monitor.spec
        severities = {s.key: s.severity or spec.severity for s in spec.signals}
        ids = []
        for outcome in record.outcomes:
            if not outcome.breached:
                continue
            headline = next((m for m in outcome.metrics if m.breached and not m.feature), None)
            headline = headline or next(m for m in outcome.metrics if m.breached)
            breach = Breach(
                monitor=record.monitor.name,
                signal=outcome.key,
                severity=severities[outcome.key],
                value=headline.value,
                threshold=headline.threshold,
                window_start=record.plan.production.start,
                window_end=record.plan.window_end,
                details={
                    "run_id": str(record.run_id),
                    "metric": headline.metric,
                    **outcome.summary,
                },
            )
            result = raise_or_update_alert(
                session,
                project=record.monitor.project,
                breach=breach,
                channels=list(spec.channels) if spec.channels is not None else None,
                clock=self.clock,
            )
            ids += [str(result.alert.id)] if result.alert is not None else []  # held by the rule
        return ids

    def deliver(self, db: Database, alert_ids: Sequence[str]) -> None:
        """Send the queued notifications now (failures stay queued for the retry schedule)."""
        from monitors.alerts.delivery import deliver_pending
        from monitors.alerts.webhook import WebhookSender

        sender = self.sender or WebhookSender(allowlist=self.settings.webhook_allowlist)
        # Delivery leases and retry backoff are about the network: wall time, even when the
        # monitors run on an accelerated clock (whose jumps would expire in-flight leases).
        deliver_pending(db, sender=sender, secrets=self.secrets)


def default_environment(
    db: Database,
    settings: Settings,
    *,
    clock: Clock | None = None,
    sender: Any = None,
    explainers: ModelExplainerSource | None = None,
) -> RunEnvironment:
    """The collaborators of runs in the server, the daemon and the CLI.

    ``explainers`` (``retrain.explain.model_source``) lets attribution drift explain the
    deployed model itself; without it, surrogates of the logged outputs are explained.
    """
    return RunEnvironment(
        windows=CaptureWindowReader(db, settings),
        references=LineageReferenceLoader(db, settings),
        alerts=AlertsSink(settings, clock=clock, sender=sender),
        lineage=LineageRunSink(clock),
        explainers=explainers,
        partitions=_partitions(settings),
        judge=EvaluatorJudge(db, settings, clock=clock),
    )


def _partitions(settings: Settings) -> WindowPartitions | None:
    """Profile mode over capture partitions, when the deployment sets a row threshold."""
    if settings.monitor_profile_rows is None:
        return None
    from monitors.runs.partitioned import CapturePartitions

    return CapturePartitions(settings)
