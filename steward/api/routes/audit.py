"""The audit log for auditors and owners: query, verify, proofs, export, checkpoints, key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from governance.audit import export, proof_service, service
from governance.audit.proof_service import ConsistencyBundle, InclusionBundle
from governance.audit.runtime import verify_configured
from governance.audit.schemas import AuditCheckpointInfo, AuditFilter, AuditPage, VerifyResult
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=ERROR_RESPONSES)

Text = Annotated[str | None, Query(max_length=512)]
Format = Annotated[Literal["jsonl", "csv"], Query()]


def _filter(
    actor: Text = None,
    action: Text = None,
    target: Text = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
) -> AuditFilter:
    return AuditFilter(actor=actor, action=action, target=target, since=since, until=until)


FilterDep = Annotated[AuditFilter, Depends(_filter)]
_MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


@router.get("/audit", response_model=AuditPage)
def list_audit(
    caller: Annotated[Caller, Depends(require("audit", "read", scope="system"))],
    svc: ServicesDep,
    flt: FilterDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    project: Text = None,
) -> AuditPage:
    """Entries of the whole log, oldest first, filtered, in cursor pages."""
    flt = flt.model_copy(update={"project": project})
    return service.list_audit(svc.db, flt=flt, cursor=cursor, limit=limit)


@router.get("/audit/verify", response_model=VerifyResult)
def verify_audit(
    caller: Annotated[Caller, Depends(require("audit", "verify", scope="system"))],
    svc: ServicesDep,
) -> VerifyResult:
    """Recompute every hash, link and signed checkpoint; findings by category."""
    return verify_configured(svc.db, svc.settings)


@router.get("/audit/blobs/{digest}", response_model=dict[str, Any])
def details_blob(
    caller: Annotated[Caller, Depends(require("audit", "read", scope="system"))],
    svc: ServicesDep,
    digest: Annotated[str, Path(pattern=r"^(sha256:)?[0-9a-f]{64}$")],
) -> dict[str, Any]:
    """Large details an entry references by digest (``{"$digest": "sha256:…"}``)."""
    return service.details_blob(svc.db, digest)


@router.get("/audit/proof", response_model=InclusionBundle)
def inclusion_proof(
    caller: Annotated[Caller, Depends(require("audit", "read", scope="system"))],
    svc: ServicesDep,
    seq: Annotated[int, Query(ge=1, le=2**62)],
) -> InclusionBundle:
    """Entry ``seq`` with its RFC 6962 inclusion proof against the latest signed checkpoint.

    ``steward audit verify --entry FILE`` checks the answer offline with the public key.
    """
    return proof_service.inclusion(svc.db, seq)


@router.get("/audit/consistency", response_model=ConsistencyBundle)
def consistency_proof(
    caller: Annotated[Caller, Depends(require("audit", "read", scope="system"))],
    svc: ServicesDep,
    first: Annotated[int, Query(ge=1, le=2**62)],
) -> ConsistencyBundle:
    """The latest signed checkpoint and the proof that it extends the tree of ``first`` entries.

    ``steward audit verify --consistency FILE --trusted-checkpoint NOTE`` checks it offline.
    """
    return proof_service.consistency(svc.db, first)


@router.get("/audit/export", response_class=StreamingResponse)
def export_audit(
    caller: Annotated[Caller, Depends(require("audit", "export", scope="system"))],
    svc: ServicesDep,
    flt: FilterDep,
    format: Format = "jsonl",
) -> StreamingResponse:
    """The whole log as JSONL (with checkpoints, verifiable offline) or CSV."""
    lines = export.export_audit(svc.db, fmt=format, flt=flt)
    return StreamingResponse(lines, media_type=_MEDIA[format])


@router.get("/audit/checkpoints", response_model=list[AuditCheckpointInfo])
def list_checkpoints(
    caller: Annotated[Caller, Depends(require("audit", "read", scope="system"))],
    svc: ServicesDep,
) -> list[AuditCheckpointInfo]:
    """Every signed checkpoint."""
    return service.list_checkpoints(svc.db)


@router.get("/audit/public-key", response_class=PlainTextResponse)
def public_key(
    caller: Annotated[Caller, Depends(require("audit", "read", scope="system"))],
    svc: ServicesDep,
) -> PlainTextResponse:
    """The checkpoint verifier key (signed-note form) and the PEM public key."""
    return PlainTextResponse(f"{svc.signer.verifier_key()}\n{svc.signer.public_pem()}")


@router.get("/projects/{project}/audit", response_model=AuditPage)
def list_project_audit(
    project: Annotated[str, Path(max_length=64)],
    caller: Annotated[Caller, Depends(require("audit", "read"))],
    svc: ServicesDep,
    flt: FilterDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AuditPage:
    """Entries about one project."""
    flt = flt.model_copy(update={"project": project})
    return service.list_audit(svc.db, flt=flt, cursor=cursor, limit=limit)


@router.get("/projects/{project}/audit/export", response_class=StreamingResponse)
def export_project_audit(
    project: Annotated[str, Path(max_length=64)],
    caller: Annotated[Caller, Depends(require("audit", "export"))],
    svc: ServicesDep,
    flt: FilterDep,
    format: Format = "csv",
) -> StreamingResponse:
    """One project's entries as CSV or JSONL (a slice: verify the whole log offline)."""
    flt = flt.model_copy(update={"project": project})
    lines = export.export_audit(svc.db, fmt=format, flt=flt, checkpoints=False)
    return StreamingResponse(lines, media_type=_MEDIA[format])
