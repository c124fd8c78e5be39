"""Put a catalogue model into a project's registry: a model version that refers to the entry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.core.errors import Conflict, NotFound
from governance.core.ids import new_id
from lineage.catalog.models import CatalogLinkRow
from lineage.catalog.schemas import CatalogEntry, CatalogLink, EntrySource, EntryVersion, UseRequest
from lineage.schemas import ColumnSpec, ColumnType, EdgeKind, ModelCreate, Signature
from lineage.stores import LineageStores, sql_stores

EXTERNAL_FLAVOR = "external"
# An external model takes text and returns text; the registry needs a signature for it.
_EXTERNAL_SIGNATURE = Signature(
    inputs=[ColumnSpec(name="input", type=ColumnType.str)],
    outputs=[ColumnSpec(name="output", type=ColumnType.str)],
)


def _version(entry: CatalogEntry, wanted: str | None) -> EntryVersion:
    if wanted is None:
        if entry.versions:
            return entry.versions[-1]
        if entry.source is EntrySource.external:
            return EntryVersion(version="latest")
    for version in entry.versions:
        if version.version == wanted:
            return version
    raise NotFound(f"version {wanted!r} of the entry not found", field="version")


def _check_name(session: Session, stores: LineageStores, entry: CatalogEntry, project: str,
                model: str) -> None:  # fmt: skip
    # A model of that name that did not come from this entry is someone else's: never mixed.
    if not stores.registry.model_exists(project, model):
        return
    linked = select(CatalogLinkRow.id).where(
        CatalogLinkRow.entry_id == entry.id,
        CatalogLinkRow.project == project,
        CatalogLinkRow.model == model,
    )
    if session.scalars(linked.limit(1)).first() is None:
        raise Conflict(
            f"model {model!r} exists in the project and was not taken from this entry",
            code="catalog_model_exists",
        )


def _create(stores: LineageStores, entry: CatalogEntry, chosen: EntryVersion) -> ModelCreate:
    tags = {"catalog_entry": str(entry.id), "catalog_version": chosen.version}
    if chosen.model_version_id is None:
        # No artifact to point at: flavour ``external``, no hash (validation would want one).
        return ModelCreate.model_construct(
            artifact_uri="", sha256="", flavor=EXTERNAL_FLAVOR, signature=_EXTERNAL_SIGNATURE,
            metrics={}, tags=tags, run_id=None, training_data=[], derived_from=None,
            description=entry.description,
        )  # fmt: skip
    source = stores.registry.model_version_by_id(chosen.model_version_id)
    if source is None:  # the source model was deleted since it was published
        raise NotFound("the published model version no longer exists", field="version")
    # The same artifact by content hash: artifacts are stored once per hash, so nothing is copied.
    return ModelCreate.model_construct(
        artifact_uri=source.artifact_uri, sha256=source.sha256, flavor=source.flavor,
        signature=source.signature, metrics=dict(source.metrics), tags=tags, run_id=None,
        training_data=[], derived_from=None, description=entry.description,
    )  # fmt: skip


def link_entry(
    session: Session, entry: CatalogEntry, *, project: str, data: UseRequest, by: str, at: datetime
) -> CatalogLink:
    """Register the entry's chosen version as the next version of a model in ``project``."""
    stores = sql_stores(session)
    chosen = _version(entry, data.version)
    model = data.model or entry.name.replace("/", ".")
    _check_name(session, stores, entry, project, model)
    created = stores.registry.add_model_version(
        project=project, name=model, data=_create(stores, entry, chosen), at=at
    )
    if chosen.model_version_id is not None:
        stores.edges.link(
            project=project, src=chosen.model_version_id, dst=created.id,
            kind=EdgeKind.derived_from, at=at,
        )  # fmt: skip
    return CatalogLink(
        id=new_id(), entry_id=entry.id, project=project, model=model, version=created.version,
        model_version_id=created.id, entry_version=chosen.version, created_by=by, created_at=at,
    )  # fmt: skip
