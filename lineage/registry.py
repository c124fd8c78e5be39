"""Registry use cases: dataset versions, model versions, aliases (each owns its transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput, NotFound
from governance.core.paths import confine
from governance.core.principal import Principal
from lineage.datafile import FileFacts, inspect_path
from lineage.objectdata import confine_object, inspect_object
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
from lineage.storage import Location, is_local_uri
from lineage.stores import LineageStores, sql_stores
from lineage.stores.registry import RegistryStore

_WALL = SystemClock()


def register_dataset_version(
    db: Database,
    *,
    project: str,
    name: str,
    path: Path | str,
    roots: Sequence[Path],
    namespace: str | None = None,
    version: str | None = None,
    facets: dict[str, Any] | None = None,
    description: str = "",
    actor: Principal,
    clock: Clock = _WALL,
    store: Location | None = None,
) -> DatasetVersion:
    """Register a file or Parquet folder under the project's prefix of ``roots`` (or of the
    object-store location ``store``, for a URI there) as a version."""
    facts = _inspect(path, roots=roots, project=project, store=store)
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
    return save_dataset_version(db, project=project, data=data, actor=actor, clock=clock)


def record_dataset_version(
    db: Database,
    *,
    project: str,
    data: DatasetCreate,
    actor: Principal,
    clock: Clock = _WALL,
    roots: Sequence[Path] = (),
    store: Location | None = None,
) -> DatasetVersion:
    """Register a dataset version described by the caller; the same content twice is a no-op.

    A ``uri`` must name a readable file or Parquet folder under the project's prefix of one of
    ``roots`` (none by default) or of the object-store location ``store``: Steward hashes and
    inspects it itself, refuses a declared hash that differs, and stores the resolved location.
    Without a ``uri`` the version is a record only: nothing is read, now or by a monitor run.
    """
    if data.uri:
        facts = _inspect(data.uri, roots=roots, project=project, store=store)
        if facts.sha256 != data.sha256:
            raise InvalidInput(
                "the declared sha256 differs from the content at uri", field="sha256"
            )
        found: dict[str, Any] = {"uri": facts.uri}
        if facts.row_count is not None:  # a table: its schema and size as read, not as declared
            found |= {"columns": facts.columns, "row_count": facts.row_count}
        data = data.model_copy(update=found)
    return save_dataset_version(db, project=project, data=data, actor=actor, clock=clock)


def _inspect(
    location: Path | str, *, roots: Sequence[Path], project: str, store: Location | None
) -> FileFacts:
    # Confinement refuses before anything is opened; the facts are read from the resolved path.
    if is_local_uri(location):
        return inspect_path(confine(location, roots=roots, project=project))
    path = confine_object(str(location), location=store, project=project)
    assert store is not None  # confine_object refuses without a location
    return inspect_object(store, path)


def save_dataset_version(
    db: Database, *, project: str, data: DatasetCreate, actor: Principal, clock: Clock
) -> DatasetVersion:
    """Record a version whose content Steward checked; the same content twice is a no-op."""
    namespace = data.namespace or project
    version = data.version or data.sha256[:16]
    with db.transaction() as session:
        store = sql_stores(session).registry
        existing = store.find_dataset_version(project, namespace, data.name, version)
        if existing is not None:
            if existing.sha256 != data.sha256:
                raise Conflict(
                    f"dataset {data.name!r} version {version!r} exists with other content"
                )
            return existing
        created = store.add_dataset_version(
            project=project, namespace=namespace, version=version, data=data, at=clock.now()
        )
        record_audit(
            session,
            actor=actor,
            action="dataset.register",
            project=project,
            target=f"dataset:{namespace}/{data.name}@{version}",
            details={"sha256": data.sha256, "rows": data.row_count},
        )
        return created


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
        return resolve_dataset_version(
            sql_stores(session).registry, project, name, version, namespace
        )


def resolve_dataset_version(
    store: RegistryStore, project: str, name: str, version: str | None, namespace: str | None
) -> DatasetVersion:
    """One version of a dataset (the newest when ``version`` is None); raises NotFound."""
    versions = store.dataset_versions(project, name, namespace) or []
    if version is not None:
        versions = [v for v in versions if v.version == version]
    if not versions:
        raise NotFound(f"dataset {name!r} version {version or 'latest'!r} not found")
    return versions[-1]


def list_dataset_versions(db: Database, *, project: str, name: str) -> list[DatasetVersion]:
    """Every version of a dataset, oldest first."""
    with db.read() as session:
        versions = sql_stores(session).registry.dataset_versions(project, name)
        if versions is None:
            raise NotFound(f"dataset {name!r} not found")
        return versions


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
        stores = sql_stores(session)
        now = clock.now()
        created = stores.registry.add_model_version(project=project, name=name, data=data, at=now)
        _link_model_version(stores, project, created, data, now)
        record_audit(
            session,
            actor=actor,
            action="model.register",
            project=project,
            target=f"model:{name}@{created.version}",
            details={"sha256": data.sha256},
        )
        return created


def _link_model_version(
    stores: LineageStores, project: str, created: ModelVersion, data: ModelCreate, at: datetime
) -> None:
    edges = stores.edges
    if data.run_id is not None:
        run = stores.runs.find(project, str(data.run_id))
        if run is None:
            raise NotFound("run not found", field="run_id")
        edges.link(project=project, src=run.id, dst=created.id, kind=EdgeKind.produced, at=at)
    for dataset_id in data.training_data:
        src = stores.nodes.find_by_id(dataset_id, project)
        if src is None or src.kind not in (NodeKind.dataset, NodeKind.dataset_version):
            raise NotFound("training dataset not found", field="training_data")
        edges.link(project=project, src=src.id, dst=created.id, kind=EdgeKind.derived_from, at=at)
    if data.derived_from is not None:
        prior = stores.registry.find_model_version(
            project, created.model, version=data.derived_from
        )
        if prior is None:
            raise NotFound("prior model version not found", field="derived_from")
        edges.link(project=project, src=prior.id, dst=created.id, kind=EdgeKind.derived_from, at=at)


def resolve_model_version(
    store: RegistryStore, project: str, model: str, version: int | None, alias: str | None
) -> ModelVersion:
    """A model version by number or alias (the newest when neither is given); raises NotFound."""
    found = store.find_model_version(project, model, version=version, alias=alias)
    if found is not None:
        return found
    if not store.model_exists(project, model):
        raise NotFound(f"model {model!r} not found")
    raise NotFound(f"model {model!r} version {alias or version or 'latest'!r} not found")


def get_model_version(
    db: Database, *, project: str, model: str, version: int | None = None, alias: str | None = None
) -> ModelVersion:
    """A model version by number or alias (the newest when neither is given)."""
    with db.read() as session:
        return resolve_model_version(sql_stores(session).registry, project, model, version, alias)


def list_model_versions(db: Database, *, project: str, model: str) -> list[ModelVersion]:
    """Every version of a model, oldest first."""
    with db.read() as session:
        versions = sql_stores(session).registry.model_versions(project, model)
        if versions is None:
            raise NotFound(f"model {model!r} not found")
        return versions


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
        store = sql_stores(session).registry
        target = resolve_model_version(store, project, model, version, None)
        now = clock.now()
        previous = store.move_alias(version=target.id, alias=alias, at=now)
        record_audit(
            session,
            actor=actor,
            action="model.alias",
            project=project,
            target=f"model:{model}#{alias}",
            details={"version": version, "previous": previous},
        )
    return ModelAlias(model=model, alias=alias, version=version, previous=previous, updated_at=now)


def delete_alias(db: Database, *, project: str, model: str, alias: str, actor: Principal) -> None:
    """Remove an alias."""
    with db.transaction() as session:
        if not sql_stores(session).registry.remove_alias(project, model, alias):
            raise NotFound(f"alias {alias!r} of model {model!r} not found")
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
        return sql_stores(session).registry.list_datasets(project, after=after, limit=limit)


def list_models(db: Database, *, project: str, after: str = "", limit: int = 100) -> list[Model]:
    """Models of a project by name, with their version count and aliases."""
    with db.read() as session:
        return sql_stores(session).registry.list_models(project, after=after, limit=limit)
