"""Registered models: immutable versions with signatures, and movable aliases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from lineage import service
from lineage.schemas import (
    ALIAS_RE,
    NAME_RE,
    AliasSet,
    Model,
    ModelAlias,
    ModelCard,
    ModelCardUpdate,
    ModelCreate,
    ModelVersion,
)
from retrain.artifacts.store import StoredArtifact, find_artifact, read_verified, save_artifact
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, body_chunks, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["models"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
ModelName = Annotated[str, Path(max_length=200, pattern=NAME_RE.pattern)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
Alias = Annotated[str, Path(pattern=ALIAS_RE.pattern)]
Reader = Annotated[Caller, Depends(require("model", "read"))]
Writer = Annotated[Caller, Depends(require("model", "write"))]


@router.get("/projects/{project}/models", response_model=list[Model])
def list_models(
    project: ProjectName,
    caller: Reader,
    svc: ServicesDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[Model]:
    """Models by name (the cursor is the last name of the previous page)."""
    after = (cursor or "").replace("\x00", "")
    return service.list_models(svc.db, project=project, after=after, limit=limit)


@router.post(
    "/projects/{project}/models/{name}/versions", response_model=ModelVersion, status_code=201
)
def register_model_version(
    project: ProjectName, name: ModelName, body: ModelCreate, caller: Writer, svc: ServicesDep
) -> ModelVersion:
    """Register the next version of a model (artifact hash, signature, producing run)."""
    return service.register_model_version(
        svc.db, project=project, name=name, data=body, actor=caller.principal, clock=svc.clock
    )


@router.get("/projects/{project}/models/{name}/versions", response_model=list[ModelVersion])
def list_model_versions(
    project: ProjectName, name: ModelName, caller: Reader, svc: ServicesDep
) -> list[ModelVersion]:
    """Every version of a model, oldest first."""
    return service.list_model_versions(svc.db, project=project, model=name)


@router.get("/projects/{project}/models/{name}/versions/{version}", response_model=ModelVersion)
def get_model_version(
    project: ProjectName, name: ModelName, version: Version, caller: Reader, svc: ServicesDep
) -> ModelVersion:
    """One version of a model."""
    return service.get_model_version(svc.db, project=project, model=name, version=version)


@router.get("/projects/{project}/models/{name}/aliases/{alias}", response_model=ModelVersion)
def get_alias(
    project: ProjectName, name: ModelName, alias: Alias, caller: Reader, svc: ServicesDep
) -> ModelVersion:
    """The version an alias points at."""
    return service.get_model_version(svc.db, project=project, model=name, alias=alias)


@router.put("/projects/{project}/models/{name}/aliases/{alias}", response_model=ModelAlias)
def set_alias(
    project: ProjectName,
    name: ModelName,
    alias: Alias,
    body: AliasSet,
    caller: Writer,
    svc: ServicesDep,
) -> ModelAlias:
    """Point an alias (e.g. champion, challenger) at a version, atomically."""
    return service.set_alias(
        svc.db,
        project=project,
        model=name,
        alias=alias,
        version=body.version,
        actor=caller.principal,
        clock=svc.clock,
    )


@router.delete("/projects/{project}/models/{name}/aliases/{alias}", status_code=204)
def delete_alias(
    project: ProjectName, name: ModelName, alias: Alias, caller: Writer, svc: ServicesDep
) -> None:
    """Remove an alias."""
    service.delete_alias(svc.db, project=project, model=name, alias=alias, actor=caller.principal)


@router.get("/projects/{project}/models/{name}/card", response_model=ModelCard)
def get_model_card(
    project: ProjectName, name: ModelName, caller: Reader, svc: ServicesDep
) -> ModelCard:
    """The model's card: owners, intended use, limitations, out-of-scope uses."""
    return service.model_card(svc.db, project=project, name=name)


@router.patch("/projects/{project}/models/{name}/card", response_model=ModelCard)
def update_model_card(
    project: ProjectName, name: ModelName, body: ModelCardUpdate, caller: Writer, svc: ServicesDep
) -> ModelCard:
    """Change some fields of the model's card (fields left out keep their value); audited."""
    return service.update_model_card(
        svc.db, project=project, name=name, data=body, actor=caller.principal, clock=svc.clock
    )


class ArtifactInfo(BaseModel):
    """A version's stored artifact."""

    model: str
    version: int
    sha256: str
    flavor: str
    size: int


_BINARY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_ARTIFACT = "/projects/{project}/models/{name}/versions/{version}/artifact"


@router.put(_ARTIFACT, response_model=ArtifactInfo, status_code=201, openapi_extra=_BINARY_BODY)
def upload_artifact(
    project: ProjectName,
    name: ModelName,
    version: Version,
    request: Request,
    caller: Writer,
    svc: ServicesDep,
) -> ArtifactInfo:
    """Upload a version's artifact: its SHA-256 must be the registered one, and its format the
    version's flavour (sklearn: skops; onnx; torchscript; torch: a state dict), checked without
    loading caller code. Stored content-addressed; uploading the same bytes again is harmless.
    """
    settings = svc.settings
    assert settings.artifact_dir is not None
    stored = save_artifact(
        svc.db, project=project, model=name, version=version, chunks=body_chunks(request),
        root=settings.artifact_dir, actor=caller.principal, max_bytes=settings.artifact_max_bytes,
        trusted=settings.skops_trusted_types,
    )  # fmt: skip
    return _info(stored)


@router.get(
    _ARTIFACT, response_class=StreamingResponse, responses={200: _BINARY_BODY["requestBody"]}
)
def download_artifact(
    project: ProjectName, name: ModelName, version: Version, caller: Reader, svc: ServicesDep
) -> StreamingResponse:
    """Download a version's artifact (its hash is checked before the first byte is sent)."""
    assert svc.settings.artifact_dir is not None
    stored = find_artifact(
        svc.db, project=project, model=name, version=version, root=svc.settings.artifact_dir
    )
    headers = {"Content-Length": str(stored.size), "ETag": f'"{stored.sha256}"'}
    return StreamingResponse(
        read_verified(stored), media_type="application/octet-stream", headers=headers
    )


def _info(stored: StoredArtifact) -> ArtifactInfo:
    return ArtifactInfo(
        model=stored.model, version=stored.version, sha256=stored.sha256,
        flavor=str(stored.flavor), size=stored.size,
    )  # fmt: skip
