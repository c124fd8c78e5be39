"""Registry use cases: dataset versions, model versions, aliases (each owns its transaction)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import Conflict, NotFound
from governance.core.principal import Principal
from lineage.datafile import inspect_path
from lineage.models import NodeRow
from lineage.schemas import (
    Dataset,
    DatasetCreate,
    DatasetVersion,
    EdgeKind,
    Model,
    ModelAlias,
    ModelCreate,
    ModelVersion,
    NodeKind,
)
from lineage.store import SqlLineageStore, to_dataset_version, to_model_version

_WALL = SystemClock()


def register_dataset_version(
    db: Database,
    *,
    project: str,
    name: str,
    path: Path,
    namespace: str | None = None,
    version: str | None = None,
    facets: dict[str, Any] | None = None,
    description: str = "",
    actor: Principal,
    clock: Clock = _WALL,
) -> DatasetVersion:
    """Register a file or Parquet folder as a dataset version (hash, schema, rows computed)."""
    facts = inspect_path(path)
    data = DatasetCreate(
        name=name,
        namespace=namespace,
        uri=facts.uri,
        version=version,
        sha256=facts.sha256,
        columns=facts.columns,
        row_count=facts.row_count,
        facets=facets or {},
        description=description,
    )
    return record_dataset_version(db, project=project, data=data, actor=actor, clock=clock)


def record_dataset_version(
    db: Database, *, project: str, data: DatasetCreate, actor: Principal, clock: Clock = _WALL
) -> DatasetVersion:
    """Register a dataset version described by the caller; the same content twice is a no-op."""
    namespace = data.namespace or project
    version = data.version or data.sha256[:16]
    with db.transaction() as session:
        store = SqlLineageStore(session)
        existing = store.node(project, NodeKind.dataset_version, namespace, data.name, version)
        if existing is not None:
            if existing.attrs.get("sha256") != data.sha256:
                raise Conflict(
                    f"dataset {data.name!r} version {version!r} exists with other content"
                )
            return to_dataset_version(existing)
        now = clock.now()
        parent, _ = store.ensure_node(
            project=project,
            kind=NodeKind.dataset,
            namespace=namespace,
            name=data.name,
            attrs={"description": data.description},
            at=now,
        )
        attrs = {
            "uri": data.uri,
            "sha256": data.sha256,
            "row_count": data.row_count,
            "columns": [c.model_dump(mode="json") for c in data.columns],
            "facets": data.facets,
        }
        row = store.add_node(
            project=project,
            kind=NodeKind.dataset_version,
            namespace=namespace,
            name=data.name,
            version=version,
            parent_id=parent.id,
            attrs=attrs,
            at=now,
        )
        record_audit(
            session,
            actor=actor,
            action="dataset.register",
            project=project,
            target=f"dataset:{namespace}/{data.name}@{version}",
            details={"sha256": data.sha256, "rows": data.row_count},
        )
        return to_dataset_version(row)


def get_dataset_version(
    db: Database,
    *,
    project: str,
    name: str,
    version: str | None = None,
    namespace: str | None = None,
) -> DatasetVersion:
    """One version of a dataset (the newest when ``version`` is None)."""
    with db.read() as session:
        return to_dataset_version(
            dataset_version_row(SqlLineageStore(session), project, name, version, namespace)
        )


def dataset_version_row(
    store: SqlLineageStore, project: str, name: str, version: str | None, namespace: str | None
) -> NodeRow:
    parent = (
        store.node(project, NodeKind.dataset, namespace, name)
        if namespace is not None
        else store.node_named(project, NodeKind.dataset, name)
    )
    versions = store.children(parent.id) if parent is not None else []
    if version is not None:
        versions = [v for v in versions if v.version == version]
    if not versions:
        raise NotFound(f"dataset {name!r} version {version or 'latest'!r} not found")
    return versions[-1]


def list_dataset_versions(db: Database, *, project: str, name: str) -> list[DatasetVersion]:
    """Every version of a dataset, oldest first."""
    with db.read() as session:
        store = SqlLineageStore(session)
        parent = store.node_named(project, NodeKind.dataset, name)
        if parent is None:
            raise NotFound(f"dataset {name!r} not found")
        return [to_dataset_version(r) for r in store.children(parent.id)]


def model_version_of(store: SqlLineageStore, row: NodeRow) -> ModelVersion:
    parent = store.node_by_id(row.parent_id) if row.parent_id else None
    names = (
        [a.alias for a in store.aliases_of_model(parent.id) if a.version_id == row.id]
        if (parent)
        else []
    )
    return to_model_version(row, names)


def register_model_version(
    db: Database,
    *,
    project: str,
    name: str,
    data: ModelCreate,
    actor: Principal,
    clock: Clock = _WALL,
) -> ModelVersion:
    """Register the next version of a model, linked to the run and data that produced it."""
    with db.transaction() as session:
        store = SqlLineageStore(session)
        now = clock.now()
        model, _ = store.ensure_node(
            project=project,
            kind=NodeKind.model,
            namespace=project,
            name=name,
            attrs={"description": data.description},
            at=now,
        )
        number = store.count_children(model.id) + 1
        attrs = {
            "artifact_uri": data.artifact_uri,
            "sha256": data.sha256,
            "flavor": data.flavor,
            "signature": data.signature.model_dump(mode="json"),
            "metrics": data.metrics,
            "tags": data.tags,
            "run_id": str(data.run_id) if data.run_id else None,
        }
        try:
            with session.begin_nested():
                row = store.add_node(
                    project=project,
                    kind=NodeKind.model_version,
                    namespace=project,
                    name=name,
                    version=str(number),
                    parent_id=model.id,
                    attrs=attrs,
                    at=now,
                )
        except IntegrityError as exc:
            raise Conflict(f"model {name!r} got a new version concurrently; retry") from exc
        _linkmodel_version_of(store, project, row, data, now)
        record_audit(
            session,
            actor=actor,
            action="model.register",
            project=project,
            target=f"model:{name}@{number}",
            details={"sha256": data.sha256},
        )
        return model_version_of(store, row)


def _linkmodel_version_of(
    store: SqlLineageStore, project: str, row: NodeRow, data: ModelCreate, at: datetime
) -> None:
    if data.run_id is not None:
        run = store.run(project, str(data.run_id))
        if run is None:
            raise NotFound("run not found", field="run_id")
        store.add_edge(project=project, src=run.id, dst=row.id, kind=EdgeKind.produced, at=at)
    for dataset_id in data.training_data:
        src = store.node_by_id(dataset_id, project)
        if src is None or src.kind not in (NodeKind.dataset, NodeKind.dataset_version):
            raise NotFound("training dataset not found", field="training_data")
        store.add_edge(project=project, src=src.id, dst=row.id, kind=EdgeKind.derived_from, at=at)
    if data.derived_from is not None:
        prior = store.node(
            project, NodeKind.model_version, project, row.name, str(data.derived_from)
        )
        if prior is None:
            raise NotFound("prior model version not found", field="derived_from")
        store.add_edge(project=project, src=prior.id, dst=row.id, kind=EdgeKind.derived_from, at=at)


def version_row(
    store: SqlLineageStore, project: str, model: str, version: int | None, alias: str | None
) -> NodeRow:
    parent = store.node(project, NodeKind.model, project, model)
    if parent is None:
        raise NotFound(f"model {model!r} not found")
    if alias is not None:
        found = store.alias(parent.id, alias)
        row = store.node_by_id(found.version_id) if found else None
    elif version is not None:
        row = store.node(project, NodeKind.model_version, project, model, str(version))
    else:
        children = store.children(parent.id)
        row = children[-1] if children else None
    if row is None:
        raise NotFound(f"model {model!r} version {alias or version or 'latest'!r} not found")
    return row


def get_model_version(
    db: Database, *, project: str, model: str, version: int | None = None, alias: str | None = None
) -> ModelVersion:
    """A model version by number or alias (the newest when neither is given)."""
    with db.read() as session:
        store = SqlLineageStore(session)
        return model_version_of(store, version_row(store, project, model, version, alias))


def list_model_versions(db: Database, *, project: str, model: str) -> list[ModelVersion]:
    """Every version of a model, oldest first."""
    with db.read() as session:
        store = SqlLineageStore(session)
        parent = store.node(project, NodeKind.model, project, model)
        if parent is None:
            raise NotFound(f"model {model!r} not found")
        return [model_version_of(store, r) for r in store.children(parent.id)]


def set_alias(
    db: Database,
    *,
    project: str,
    model: str,
    alias: str,
    version: int,
    actor: Principal,
    clock: Clock = _WALL,
) -> ModelAlias:
    """Point ``alias`` at ``version`` atomically (the move and its audit entry commit together)."""
    with db.transaction() as session:
        store = SqlLineageStore(session)
        row = version_row(store, project, model, version, None)
        assert row.parent_id is not None
        now = clock.now()
        previous_id = store.set_alias(
            project=project, model_id=row.parent_id, alias=alias, version_id=row.id, at=now
        )
        previous = store.node_by_id(previous_id) if previous_id else None
        prev_number = int(previous.version) if previous else None
        record_audit(
            session,
            actor=actor,
            action="model.alias",
            project=project,
            target=f"model:{model}#{alias}",
            details={"version": version, "previous": prev_number},
        )
    return ModelAlias(
        model=model, alias=alias, version=version, previous=prev_number, updated_at=now
    )


def delete_alias(db: Database, *, project: str, model: str, alias: str, actor: Principal) -> None:
    """Remove an alias."""
    with db.transaction() as session:
        store = SqlLineageStore(session)
        parent = store.node(project, NodeKind.model, project, model)
        row = store.alias(parent.id, alias) if parent else None
        if row is None:
            raise NotFound(f"alias {alias!r} of model {model!r} not found")
        store.delete_alias(row)
        record_audit(
            session,
            actor=actor,
            action="model.alias.delete",
            project=project,
            target=f"model:{model}#{alias}",
        )


def list_datasets(
    db: Database, *, project: str, after: str = "", limit: int = 100
) -> list[Dataset]:
    """Datasets of a project by name, with how many versions each has."""
    with db.read() as session:
        store = SqlLineageStore(session)
        out = []
        for row in store.list_nodes(project, NodeKind.dataset, after=after, limit=limit):
            versions = store.children(row.id)
            out.append(
                Dataset(
                    id=row.id,
                    project=project,
                    namespace=row.namespace,
                    name=row.name,
                    created_at=row.created_at,
                    versions=len(versions),
                    latest=versions[-1].version if versions else None,
                )
            )
        return out


def list_models(db: Database, *, project: str, after: str = "", limit: int = 100) -> list[Model]:
    """Models of a project by name, with their version count and aliases."""
    with db.read() as session:
        store = SqlLineageStore(session)
        out = []
        for row in store.list_nodes(project, NodeKind.model, after=after, limit=limit):
            aliases = {}
            for alias in store.aliases_of_model(row.id):
                target = store.node_by_id(alias.version_id)
                if target is not None:
                    aliases[alias.alias] = int(target.version)
            out.append(
                Model(
                    id=row.id,
                    project=project,
                    name=row.name,
                    created_at=row.created_at,
                    versions=store.count_children(row.id),
                    aliases=aliases,
                )
            )
        return out
