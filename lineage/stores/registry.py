"""The registry: dataset versions, numbered model versions, their aliases and the models' cards;
never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.core.errors import Conflict
from governance.core.ids import new_id
from lineage.models import AliasRow, ModelCardRow, NodeRow
from lineage.schemas import (
    ColumnSpec,
    Dataset,
    DatasetCreate,
    DatasetVersion,
    Model,
    ModelCard,
    ModelCreate,
    ModelVersion,
    NodeKind,
    Signature,
)
from lineage.stores.rows import GraphCache, NodeRows


def to_dataset_version(row: NodeRow) -> DatasetVersion:
    """Serve a dataset-version node."""
    a = row.attrs or {}
    return DatasetVersion(
        id=row.id,
        project=row.project,
        namespace=row.namespace,
        name=row.name,
        version=row.version,
        uri=a.get("uri", ""),
        sha256=a.get("sha256", ""),
        columns=[ColumnSpec.model_validate(c) for c in a.get("columns", [])],
        row_count=a.get("row_count"),
        facets=a.get("facets", {}),
        created_at=row.created_at,
    )


def to_model_version(row: NodeRow, aliases: Iterable[str] = ()) -> ModelVersion:
    """Serve a model-version node."""
    a = row.attrs or {}
    run_id = a.get("run_id")
    return ModelVersion(
        id=row.id,
        project=row.project,
        model=row.name,
        version=int(row.version),
        artifact_uri=a.get("artifact_uri", ""),
        sha256=a.get("sha256", ""),
        flavor=a.get("flavor", ""),
        signature=Signature.model_validate(a["signature"]),
        metrics=a.get("metrics", {}),
        tags=a.get("tags", {}),
        run_id=uuid.UUID(run_id) if run_id else None,
        aliases=sorted(aliases),
        created_at=row.created_at,
    )


def to_model_card(row: ModelCardRow | None) -> ModelCard:
    """Serve a card row (an empty card when there is none)."""
    if row is None:
        return ModelCard()
    return ModelCard(
        owners=list(row.owners or []), intended_use=row.intended_use,
        limitations=row.limitations, out_of_scope_uses=row.out_of_scope_uses,
        updated_by=row.updated_by, updated_at=row.updated_at,
    )  # fmt: skip


class RegistryStore(Protocol):
    """The registry of datasets and models: immutable versions, and aliases of model versions.

    A dataset version is a node under its dataset node (the namespace defaults to the project);
    a model version is a node under its model node, in the project's namespace, numbered 1, 2, …
    in the order of registration. An alias (``champion``) names one version of its model and
    moves in one statement. Lookups return None (or an empty answer) rather than raise; writes
    raise ``Conflict`` when a concurrent writer took the same identity. Nothing here commits.
    """

    def find_dataset_version(
        self, project: str, namespace: str, name: str, version: str
    ) -> DatasetVersion | None:
        """One version of a dataset by its full identity."""
        ...

    def dataset_versions(
        self, project: str, name: str, namespace: str | None = None
    ) -> list[DatasetVersion] | None:
        """Every version of a dataset, oldest first; None when there is no such dataset.

        Without ``namespace`` the dataset of that name in any namespace (the oldest) is meant.
        """
        ...

    def add_dataset_version(
        self, *, project: str, namespace: str, version: str, data: DatasetCreate, at: datetime
    ) -> DatasetVersion:
        """Insert a dataset version, and its dataset when it is the first."""
        ...

    def list_datasets(self, project: str, *, after: str = "", limit: int = 100) -> list[Dataset]:
        """Datasets of a project by name, with how many versions each has and the newest."""
        ...

    def model_exists(self, project: str, model: str) -> bool:
        """Whether a model of that name is registered."""
        ...

    def add_model_version(
        self, *, project: str, name: str, data: ModelCreate, at: datetime
    ) -> ModelVersion:
        """Insert the next version of a model (and the model when it is the first)."""
        ...

    def find_model_version(
        self, project: str, model: str, *, version: int | None = None, alias: str | None = None
    ) -> ModelVersion | None:
        """A version by number or alias (the newest when neither is given)."""
        ...

    def model_versions(self, project: str, model: str) -> list[ModelVersion] | None:
        """Every version of a model, oldest first; None when there is no such model."""
        ...

    def model_version_by_id(self, version: uuid.UUID) -> ModelVersion | None:
        """A model version by node id."""
        ...

    def list_models(self, project: str, *, after: str = "", limit: int = 100) -> list[Model]:
        """Models of a project by name, with their version count and aliases."""
        ...

    def move_alias(self, *, version: uuid.UUID, alias: str, at: datetime) -> int | None:
        """Point ``alias`` at a version (by node id); the number it pointed at before, if any."""
        ...

    def remove_alias(self, project: str, model: str, alias: str) -> bool:
        """Remove an alias; False when there was none."""
        ...

    def model_card(self, project: str, model: str) -> ModelCard | None:
        """The model's card (empty fields when never written); None when there is no model."""
        ...

    def put_model_card(
        self, project: str, model: str, *, values: dict[str, Any], by: str, at: datetime
    ) -> ModelCard | None:
        """Set some fields of the model's card, stamped with who and when; None: no model."""
        ...


class SqlRegistryStore:
    """RegistryStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session, cache: GraphCache | None = None) -> None:
        self.session = session
        self.rows = NodeRows(session, cache if cache is not None else GraphCache())

    # datasets
    def find_dataset_version(
        self, project: str, namespace: str, name: str, version: str
    ) -> DatasetVersion | None:
        """One version of a dataset by its full identity."""
        row = self.rows.get(project, NodeKind.dataset_version, namespace, name, version)
        return None if row is None else to_dataset_version(row)

    def dataset_versions(
        self, project: str, name: str, namespace: str | None = None
    ) -> list[DatasetVersion] | None:
        """Every version of a dataset, oldest first; None when there is no such dataset."""
        parent = (
            self.rows.get(project, NodeKind.dataset, namespace, name)
            if namespace is not None
            else self.rows.named(project, NodeKind.dataset, name)
        )
        if parent is None:
            return None
        return [to_dataset_version(r) for r in self.rows.children(parent.id)]

    def add_dataset_version(
        self, *, project: str, namespace: str, version: str, data: DatasetCreate, at: datetime
    ) -> DatasetVersion:
        """Insert a dataset version, and its dataset when it is the first."""
        parent, _ = self.rows.ensure(
            project=project,
            kind=NodeKind.dataset,
            namespace=namespace,
            name=data.name,
            attrs={"description": data.description},
            at=at,
        )
        attrs = {
            "uri": data.uri,
            "sha256": data.sha256,
            "row_count": data.row_count,
            "columns": [c.model_dump(mode="json") for c in data.columns],
            "facets": data.facets,
        }
        row = self.rows.add(
            project=project,
            kind=NodeKind.dataset_version,
            namespace=namespace,
            name=data.name,
            version=version,
            parent=parent.id,
            attrs=attrs,
            at=at,
        )
        return to_dataset_version(row)

    def list_datasets(self, project: str, *, after: str = "", limit: int = 100) -> list[Dataset]:
        """Datasets of a project by name, with how many versions each has and the newest."""
        out = []
        for row in self.rows.page(project, NodeKind.dataset, after=after, limit=limit):
            versions = self.rows.children(row.id)
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

    # models
    def _model(self, project: str, model: str) -> NodeRow | None:
        return self.rows.get(project, NodeKind.model, project, model)

    def model_exists(self, project: str, model: str) -> bool:
        """Whether a model of that name is registered."""
        return self._model(project, model) is not None

    def add_model_version(
        self, *, project: str, name: str, data: ModelCreate, at: datetime
    ) -> ModelVersion:
        """Insert the next version of a model (and the model when it is the first)."""
        model, _ = self.rows.ensure(
            project=project,
            kind=NodeKind.model,
            namespace=project,
            name=name,
            attrs={"description": data.description},
            at=at,
        )
        number = self.rows.count_children(model.id) + 1
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
            with self.session.begin_nested():
                row = self.rows.add(
                    project=project,
                    kind=NodeKind.model_version,
                    namespace=project,
                    name=name,
                    version=str(number),
                    parent=model.id,
                    attrs=attrs,
                    at=at,
                )
        except IntegrityError as exc:
            raise Conflict(f"model {name!r} got a new version concurrently; retry") from exc
        return to_model_version(row)

    def _aliases(self, model_id: uuid.UUID) -> Sequence[AliasRow]:
        return self.session.scalars(select(AliasRow).where(AliasRow.model_id == model_id)).all()

    def _served(self, model: NodeRow, rows: Sequence[NodeRow]) -> list[ModelVersion]:
        names: dict[uuid.UUID, list[str]] = {}
        for a in self._aliases(model.id):
            names.setdefault(a.version_id, []).append(a.alias)
        return [to_model_version(r, names.get(r.id, ())) for r in rows]

    def model_version_by_id(self, version: uuid.UUID) -> ModelVersion | None:
        """A model version by node id."""
        row = self.rows.by_id(version)
        if row is None or row.kind != NodeKind.model_version:
            return None
        parent = self.rows.by_id(row.parent_id) if row.parent_id else None
        return to_model_version(row) if parent is None else self._served(parent, [row])[0]

    def find_model_version(
        self, project: str, model: str, *, version: int | None = None, alias: str | None = None
    ) -> ModelVersion | None:
        """A version by number or alias (the newest when neither is given)."""
        parent = self._model(project, model)
        if parent is None:
            return None
        row: NodeRow | None
        if alias is not None:
            found = self._alias(parent.id, alias)
            row = self.rows.by_id(found.version_id) if found else None
        elif version is not None:
            row = self.rows.get(project, NodeKind.model_version, project, model, str(version))
        else:
            children = self.rows.children(parent.id)
            row = children[-1] if children else None
        return None if row is None else self._served(parent, [row])[0]

    def model_versions(self, project: str, model: str) -> list[ModelVersion] | None:
        """Every version of a model, oldest first; None when there is no such model."""
        parent = self._model(project, model)
        if parent is None:
            return None
        return self._served(parent, self.rows.children(parent.id))

    def list_models(self, project: str, *, after: str = "", limit: int = 100) -> list[Model]:
        """Models of a project by name, with their version count and aliases."""
        out = []
        for row in self.rows.page(project, NodeKind.model, after=after, limit=limit):
            aliases = {}
            for alias in self._aliases(row.id):
                target = self.rows.by_id(alias.version_id)
                if target is not None:
                    aliases[alias.alias] = int(target.version)
            out.append(
                Model(
                    id=row.id,
                    project=project,
                    name=row.name,
                    created_at=row.created_at,
                    versions=self.rows.count_children(row.id),
                    aliases=aliases,
                )
            )
        return out

    # aliases
    def _alias(self, model_id: uuid.UUID, alias: str) -> AliasRow | None:
        stmt = select(AliasRow).where(AliasRow.model_id == model_id, AliasRow.alias == alias)
        return self.session.scalars(stmt).first()

    def move_alias(self, *, version: uuid.UUID, alias: str, at: datetime) -> int | None:
        """Point ``alias`` at a version (by node id); the number it pointed at before, if any."""
        target = self.rows.by_id(version)
        if target is None or target.parent_id is None:
            raise LookupError(f"model version {version} not found")
        row = self._alias(target.parent_id, alias)
        if row is None:
            self.session.add(
                AliasRow(
                    id=new_id(),
                    project=target.project,
                    model_id=target.parent_id,
                    alias=alias,
                    version_id=target.id,
                    updated_at=at,
                )
            )
            self.session.flush()
            return None
        previous = self.rows.by_id(row.version_id)
        row.version_id = target.id
        row.updated_at = at
        self.session.flush()
        return int(previous.version) if previous is not None else None

    def remove_alias(self, project: str, model: str, alias: str) -> bool:
        """Remove an alias; False when there was none."""
        parent = self._model(project, model)
        row = self._alias(parent.id, alias) if parent is not None else None
        if row is None:
            return False
        self.session.delete(row)
        self.session.flush()
        return True

    # model cards
    def model_card(self, project: str, model: str) -> ModelCard | None:
        """The model's card (empty fields when never written); None when there is no model."""
        parent = self._model(project, model)
        if parent is None:
            return None
        return to_model_card(self.session.get(ModelCardRow, parent.id))

    def put_model_card(
        self, project: str, model: str, *, values: dict[str, Any], by: str, at: datetime
    ) -> ModelCard | None:
        """Set some fields of the model's card, stamped with who and when; None: no model."""
        parent = self._model(project, model)
        if parent is None:
            return None
        row = self.session.get(ModelCardRow, parent.id, with_for_update=True)
        try:
            with self.session.begin_nested():
                if row is None:
                    row = ModelCardRow(
                        model_id=parent.id, project=project, owners=[], intended_use="",
                        limitations="", out_of_scope_uses="",
                    )  # fmt: skip
                    self.session.add(row)
                for field, value in values.items():
                    setattr(row, field, value)
                row.updated_by, row.updated_at = by, at
        except IntegrityError as exc:  # a concurrent first write of the same card
            raise Conflict(f"the card of model {model!r} was written concurrently; retry") from exc
        return to_model_card(row)
