"""The organisation-wide model catalogue: search, publish, external models, use in a project.

Browsing needs only a credential: what a caller finds is what it may see (entries visible to the
organisation for any member, entries visible to a project for readers of its models). An entry
the caller may not see is 404, never 403.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from lineage.catalog import service
from lineage.catalog.schemas import (
    MAX_QUERY,
    CatalogEntry,
    CatalogLink,
    CatalogPage,
    CatalogQuery,
    EntrySource,
    ExternalCreate,
    ExternalUpdate,
    LicenceRule,
    PublishRequest,
    UseRequest,
    WithdrawRequest,
)
from lineage.catalog.store import Viewer
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["catalog"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
EntryId = Annotated[UUID, Path()]
Browser = Annotated[Caller, Depends(require("catalog", "read", scope="self"))]
Admin = Annotated[Caller, Depends(require("catalog", "write", scope="system"))]
Publisher = Annotated[Caller, Depends(require("catalog", "publish"))]


def _viewer(caller: Caller, svc: ServicesDep) -> Viewer:
    return service.viewer_of(caller.principal, svc.policy)


@router.get("/catalog", response_model=CatalogPage)
def search_catalog(
    caller: Browser,
    svc: ServicesDep,
    q: Annotated[str, Query(max_length=MAX_QUERY, description="web-search syntax")] = "",
    tag: Annotated[str | None, Query(max_length=64)] = None,
    licence: Annotated[str | None, Query(max_length=200)] = None,
    source: Annotated[EntrySource | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CatalogPage:
    """Listed entries the caller may see, best match first (by name without ``q``)."""
    query = CatalogQuery(text=q, tag=tag, licence=licence, source=source)
    return service.search_entries(
        svc.db, query=query, viewer=_viewer(caller, svc), cursor=cursor, limit=limit
    )


@router.get("/catalog/{entry}", response_model=CatalogEntry)
def get_entry(entry: EntryId, caller: Browser, svc: ServicesDep) -> CatalogEntry:
    """One entry the caller may see, withdrawn ones included (with who withdrew it and why)."""
    return service.get_entry(svc.db, entry_id=entry, viewer=_viewer(caller, svc))


@router.get("/catalog/{entry}/links", response_model=list[CatalogLink])
def list_links(entry: EntryId, caller: Browser, svc: ServicesDep) -> list[CatalogLink]:
    """Every use of an entry in a project, oldest first."""
    return service.list_links(svc.db, entry_id=entry, viewer=_viewer(caller, svc))


@router.post("/catalog/external", response_model=CatalogEntry, status_code=201)
def create_external(body: ExternalCreate, caller: Admin, svc: ServicesDep) -> CatalogEntry:
    """Allow an external model in the organisation (installation admins)."""
    return service.create_external(svc.db, data=body, actor=caller.principal, clock=svc.clock)


@router.patch("/catalog/{entry}", response_model=CatalogEntry)
def update_external(
    entry: EntryId, body: ExternalUpdate, caller: Admin, svc: ServicesDep
) -> CatalogEntry:
    """Change some fields of an external entry (installation admins)."""
    return service.update_external(
        svc.db, entry_id=entry, data=body, actor=caller.principal,
        viewer=_viewer(caller, svc), clock=svc.clock,
    )  # fmt: skip


@router.post("/catalog/{entry}/withdraw", response_model=CatalogEntry)
def withdraw_any(
    entry: EntryId, body: WithdrawRequest, caller: Admin, svc: ServicesDep
) -> CatalogEntry:
    """Withdraw an entry the admin may see; earlier uses stay valid."""
    return service.withdraw_entry(
        svc.db, entry_id=entry, reason=body.reason, actor=caller.principal,
        viewer=_viewer(caller, svc), clock=svc.clock,
    )  # fmt: skip


@router.post("/projects/{project}/catalog", response_model=CatalogEntry, status_code=201)
def publish(
    project: ProjectName, body: PublishRequest, caller: Publisher, svc: ServicesDep
) -> CatalogEntry:
    """Publish a registered model of the project (its card as it is now, chosen versions)."""
    return service.publish_model(
        svc.db, project=project, data=body, actor=caller.principal, clock=svc.clock
    )


@router.post("/projects/{project}/catalog/{entry}/withdraw", response_model=CatalogEntry)
def withdraw_published(
    project: ProjectName, entry: EntryId, body: WithdrawRequest, caller: Publisher,
    svc: ServicesDep,
) -> CatalogEntry:  # fmt: skip
    """Withdraw an entry published from this project; earlier uses stay valid."""
    return service.withdraw_entry(
        svc.db, entry_id=entry, reason=body.reason, actor=caller.principal,
        viewer=_viewer(caller, svc), project=project, clock=svc.clock,
    )  # fmt: skip


@router.post("/projects/{project}/catalog/{entry}/use", response_model=CatalogLink, status_code=201)
def use_entry(
    project: ProjectName,
    entry: EntryId,
    body: UseRequest,
    caller: Annotated[Caller, Depends(require("catalog", "use"))],
    svc: ServicesDep,
) -> CatalogLink:
    """Register a catalogue model in this project, with lineage; the licence rule applies."""
    return service.use_entry(
        svc.db, project=project, entry_id=entry, data=body, actor=caller.principal,
        viewer=_viewer(caller, svc), clock=svc.clock,
    )  # fmt: skip


@router.get("/projects/{project}/catalog/licence-rule", response_model=LicenceRule)
def get_licence_rule(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("catalog", "read"))],
    svc: ServicesDep,
) -> LicenceRule:
    """Which licences the project accepts from the catalogue."""
    return service.get_licence_rule(svc.db, project=project)


@router.put("/projects/{project}/catalog/licence-rule", response_model=LicenceRule)
def set_licence_rule(
    project: ProjectName,
    body: LicenceRule,
    caller: Annotated[Caller, Depends(require("catalog", "write"))],
    svc: ServicesDep,
) -> LicenceRule:
    """Replace the project's licence rule (owners); audited."""
    return service.set_licence_rule(
        svc.db, project=project, rule=body, actor=caller.principal, clock=svc.clock
    )
