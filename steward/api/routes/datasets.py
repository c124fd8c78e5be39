"""Datasets and their immutable versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request

from lineage import service
from lineage.objectdata import dataset_location
from lineage.schemas import NAME_RE, Dataset, DatasetCreate, DatasetVersion
from lineage.upload import SUFFIXES
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, body_chunks, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["datasets"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
DatasetName = Annotated[str, Path(max_length=200, pattern=NAME_RE.pattern)]
Version = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9._:+-]+$")]
Reader = Annotated[Caller, Depends(require("dataset", "read"))]
Writer = Annotated[Caller, Depends(require("dataset", "write"))]
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": dict.fromkeys(SUFFIXES, _BINARY)}
}


@router.post("/projects/{project}/datasets", response_model=DatasetVersion, status_code=201)
def register_dataset_version(
    project: ProjectName,
    body: DatasetCreate,
    caller: Writer,
    svc: ServicesDep,
) -> DatasetVersion:
    """Register a dataset version (hash, schema and row count as computed by the client)."""
    # The docstring above is the published OpenAPI text; the service checks the client's word:
    # the uri must lie under the project's dataset prefix and hold content of the declared hash.
    return service.record_dataset_version(
        svc.db,
        project=project,
        data=body,
        actor=caller.principal,
        clock=svc.clock,
        roots=svc.settings.dataset_roots,
        store=dataset_location(svc.settings.dataset_uri),
    )


@router.get("/projects/{project}/datasets", response_model=list[Dataset])
def list_datasets(
    project: ProjectName,
    caller: Reader,
    svc: ServicesDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[Dataset]:
    """Datasets by name (the cursor is the last name of the previous page)."""
    after = (cursor or "").replace("\x00", "")
    return service.list_datasets(svc.db, project=project, after=after, limit=limit)


@router.get("/projects/{project}/datasets/{name}/versions", response_model=list[DatasetVersion])
def list_dataset_versions(
    project: ProjectName, name: DatasetName, caller: Reader, svc: ServicesDep
) -> list[DatasetVersion]:
    """Every version of a dataset, oldest first."""
    return service.list_dataset_versions(svc.db, project=project, name=name)


@router.get("/projects/{project}/datasets/{name}/versions/{version}", response_model=DatasetVersion)
def get_dataset_version(
    project: ProjectName, name: DatasetName, version: Version, caller: Reader, svc: ServicesDep
) -> DatasetVersion:
    """One version of a dataset."""
    return service.get_dataset_version(svc.db, project=project, name=name, version=version)


@router.put(
    "/projects/{project}/datasets/{name}/versions/{version}/file",
    response_model=DatasetVersion,
    status_code=201,
    openapi_extra=_UPLOAD_BODY,
)
def upload_dataset_version(
    project: ProjectName,
    name: DatasetName,
    version: Version,
    request: Request,
    caller: Writer,
    svc: ServicesDep,
    sha256: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
    namespace: Annotated[str | None, Query(max_length=512)] = None,
    description: Annotated[str, Query(max_length=4000)] = "",
    content_type: Annotated[str | None, Header(alias="Content-Type", max_length=200)] = None,
) -> DatasetVersion:
    """Upload a dataset version's bytes (Parquet, CSV, or opaque) and register them.

    Steward stores them under the project's dataset folder, hashes them as they arrive (a
    declared ``sha256`` that differs is refused) and registers the version as it would a file
    named by location.
    """
    return service.upload_dataset_version(
        svc.db, project=project, name=name, version=version, chunks=body_chunks(request),
        media_type=content_type, sha256=sha256, namespace=namespace, description=description,
        roots=svc.settings.dataset_roots, max_bytes=svc.settings.max_ingest_body_bytes,
        store=dataset_location(svc.settings.dataset_uri),
        actor=caller.principal, clock=svc.clock,
    )  # fmt: skip
