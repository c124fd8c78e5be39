"""Demo steps before traffic: project and people, reference data, model, endpoint, monitor.

Every step looks before it writes, so that the demo can run again on the same home.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

from governance.access import service as access
from governance.access.schemas import PrincipalCreate, ProjectCreate
from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import NotFound
from governance.core.files import write_private_atomic
from governance.core.principal import Principal, PrincipalKind
from governance.core.secrets import SecretBox
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import (
    ColumnSpec,
    ColumnType,
    DatasetVersion,
    EndpointCreate,
    ModelCreate,
    ModelVersion,
    Signature,
    TaskType,
)
from monitors.alerts import service as alerts
from monitors.alerts.schemas import ChannelCreate, ChannelUpdate, Severity
from monitors.specs.schemas import MonitorSpec, Reference, Schedule, Signal, SignalKind, Target
from monitors.specs.service import apply_monitors
from steward.demo.data import CATEGORICAL, CLASSES, FEATURES, NUMERIC, TARGET
from steward.demo.model import TrainedModel, load, save, train

PROJECT = "adult-demo"
ENDPOINT = "income"
MODEL = "income-mlp"
DATASET = "adult-reference"
# The monitor's reference: held-out rows with the model's predictions and probabilities.
VALIDATION = "adult-validation"
MONITOR = "income-drift"
CHANNEL = "demo-webhook"
LOOPBACK = ("127.0.0.1",)
PEOPLE = {
    "olivia": ("owner", PrincipalKind.user),
    "alice": ("ml-engineer", PrincipalKind.user),
    "dan": ("data-scientist", PrincipalKind.user),
    "scoring-app": ("app-developer", PrincipalKind.service),
    "audrey": ("auditor", PrincipalKind.user),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Cast:
    """The demo's people as actors, by role."""

    by_role: dict[str, Principal]

    def __getitem__(self, role: str) -> Principal:
        return self.by_role[role]


def ensure_people(db: Database, *, operator: Principal, clock: Clock) -> Cast:
    """The demo project and one person per role (created once)."""
    known = {p.name: p for p in access.list_principals(db)}
    for name, (_, kind) in PEOPLE.items():
        if name not in known:
            info = access.create_principal(
                db, data=PrincipalCreate(name=name, kind=kind), actor=operator, clock=clock
            )
            known[name] = info
    try:
        access.get_project(db, name=PROJECT)
    except NotFound:
        owner = Principal(id=known["olivia"].id, name="olivia", kind=PrincipalKind.user)
        description = "steward demo: income classifier on Adult census data"
        access.create_project(
            db, data=ProjectCreate(name=PROJECT, description=description), actor=owner, clock=clock
        )
    bound = {(b.principal, b.role) for b in access.list_bindings(db, project=PROJECT)}
    for name, (role, _) in PEOPLE.items():
        if (name, role) not in bound:
            access.grant_role(
                db, project=PROJECT, principal=name, role=role, actor=operator, clock=clock
            )
    return Cast(
        by_role={
            role: Principal(id=known[name].id, name=name, kind=kind)
            for name, (role, kind) in PEOPLE.items()
        }
    )


def register_reference(
    db: Database, settings: Settings, table: pa.Table, *, actor: Principal, clock: Clock
) -> DatasetVersion:
    """Write the training split as Parquet under the first dataset root and register it (once)."""
    return _register(
        db, settings, table, DATASET, "Adult census training split (UCI, CC BY 4.0)",
        actor=actor, clock=clock,
    )  # fmt: skip


def register_validation(
    db: Database,
    settings: Settings,
    table: pa.Table,
    model: TrainedModel,
    *,
    actor: Principal,
    clock: Clock,
) -> DatasetVersion:
    """Score the held-out split with the model and register it: the monitor's reference."""
    labels, probs = model.predict(table)
    scored = table.append_column("prediction", pa.array(labels)).append_column(
        "probabilities", pa.array(probs.tolist(), type=pa.list_(pa.float64()))
    )
    text = "Adult held-out split scored by the deployed model (UCI, CC BY 4.0)"
    return _register(db, settings, scored, VALIDATION, text, actor=actor, clock=clock)


def _register(
    db: Database,
    settings: Settings,
    table: pa.Table,
    name: str,
    description: str,
    *,
    actor: Principal,
    clock: Clock,
) -> DatasetVersion:
    import pyarrow.parquet as pq

    path = settings.dataset_roots[0] / PROJECT / f"{name}.parquet"
    if not path.exists():
        write_private_atomic(path, lambda fh: pq.write_table(table, fh))
    return lineage.register_dataset_version(
        db,
        project=PROJECT,
        name=name,
        path=path,
        roots=settings.dataset_roots,
        actor=actor,
        clock=clock,
        description=description,
    )


def signature() -> Signature:
    """What the endpoint takes and returns."""
    inputs = [ColumnSpec(name=n, type=ColumnType.int) for n in NUMERIC] + [
        ColumnSpec(name=n, type=ColumnType.str) for n in CATEGORICAL
    ]
    return Signature(
        inputs=inputs,
        outputs=[ColumnSpec(name=TARGET, type=ColumnType.str)],
        task=TaskType.binary,
        probabilities=True,
        classes=list(CLASSES),
    )


def ensure_model(
    db: Database,
    settings: Settings,
    reference: pa.Table,
    dataset: DatasetVersion,
    *,
    actor: Principal,
    clock: Clock,
) -> tuple[ModelVersion, TrainedModel, bool]:
    """Train and register the model, or load the registered one; True when trained now."""
    assert settings.artifact_dir is not None
    directory = settings.artifact_dir / PROJECT / MODEL
    versions = (
        lineage.list_model_versions(db, project=PROJECT, model=MODEL) if _has_model(db) else []
    )
    if versions and (directory / "model.pt").exists():
        version = versions[-1]
        return version, load(directory, accuracy=version.metrics.get("accuracy", 0.0)), False
    model = train(reference.select([*FEATURES, TARGET]))
    weights, sha = save(model, directory)
    data = ModelCreate(
        artifact_uri=weights.resolve().as_uri(),
        sha256=sha,
        flavor="torch",
        signature=signature(),
        metrics={"accuracy": model.accuracy},
        training_data=[dataset.id],
        description="2-layer MLP (32 hidden units), seeded CPU training",
    )
    version = lineage.register_model_version(
        db, project=PROJECT, name=MODEL, data=data, actor=actor, clock=clock
    )
    return version, model, True


def _has_model(db: Database) -> bool:
    return any(m.name == MODEL for m in lineage.list_models(db, project=PROJECT))


def ensure_endpoint(db: Database, version: ModelVersion, *, actor: Principal, clock: Clock) -> None:
    """Create the endpoint and deploy the version to it, unless it already serves it."""
    found = lineage.find_endpoint(db, project=PROJECT, name=ENDPOINT)
    if found is None:
        lineage.create_endpoint(
            db,
            project=PROJECT,
            data=EndpointCreate(name=ENDPOINT, description="income scoring"),
            actor=actor,
            clock=clock,
        )
    elif found.model_version is not None and found.model_version.id == version.id:
        return
    lineage.deploy(
        db,
        project=PROJECT,
        endpoint=ENDPOINT,
        model=MODEL,
        version=version.version,
        note="steward demo",
        actor=actor,
        clock=clock,
    )


def ensure_channel(
    db: Database, *, url: str, secret: str, secrets: SecretBox, actor: Principal, clock: Clock
) -> None:
    """Point the demo's webhook channel at this run's local receiver."""
    try:
        alerts.get_channel(db, project=PROJECT, name=CHANNEL)
    except NotFound:
        data = ChannelCreate(name=CHANNEL, url=url, secret=secret, min_severity=Severity.info)
        alerts.create_channel(
            db, project=PROJECT, data=data, actor=actor, secrets=secrets, allowlist=LOOPBACK,
            clock=clock,
        )  # fmt: skip
        return
    change = ChannelUpdate(url=url, secret=secret, enabled=True)
    alerts.update_channel(
        db, project=PROJECT, name=CHANNEL, data=change, actor=actor, secrets=secrets,
        allowlist=LOOPBACK, clock=clock,
    )  # fmt: skip


def disable_channel(db: Database, *, secrets: SecretBox, actor: Principal, clock: Clock) -> None:
    """Switch the channel off: its receiver only lives as long as the demo."""
    alerts.update_channel(
        db,
        project=PROJECT,
        name=CHANNEL,
        data=ChannelUpdate(enabled=False),
        actor=actor,
        secrets=secrets,
        clock=clock,
    )


def monitor_spec(first_day: datetime, days: int) -> MonitorSpec:
    """A daily drift monitor with the defaults, over the replayed days."""
    return MonitorSpec(
        name=MONITOR,
        description="Daily drift and accuracy of the income endpoint vs its training data",
        target=Target(name=ENDPOINT),
        reference=Reference(dataset=VALIDATION),
        signals=(
            Signal(kind=SignalKind.data_drift),
            # against the reference's predictions (compared_with: reference_predictions)
            Signal(kind=SignalKind.prediction_drift),
            Signal(kind=SignalKind.performance, options={"pos_label": CLASSES[1]}),
        ),
        schedule=Schedule(
            interval=timedelta(days=1),
            start=first_day + timedelta(days=1),
            end=first_day + timedelta(days=days),
        ),
        channels=(CHANNEL,),
    )


def ensure_monitor(db: Database, spec: MonitorSpec, *, actor: Principal, clock: Clock) -> None:
    """Create (or bring up to date) the demo monitor."""
    apply_monitors(db, project=PROJECT, specs=[spec], actor=actor, clock=clock)


def artifact_dir(settings: Settings) -> Path:
    """Where the demo keeps the model."""
    assert settings.artifact_dir is not None
    return settings.artifact_dir / PROJECT / MODEL
