"""Reports: model cards and project governance reports, on demand and stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response

from lineage.schemas import NAME_RE
from steward.api.deps import Caller, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES
from steward.reports import service
from steward.reports.document import ReportFormat, ReportKind
from steward.reports.schemas import MEDIA_TYPES, ReportCreate, ReportOrigin, StoredReport

router = APIRouter(prefix="/api/v1", tags=["reports"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
ModelName = Annotated[str, Path(max_length=200, pattern=NAME_RE.pattern)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
Format = Annotated[ReportFormat, Query(description="html, md, json or pdf")]
Start = Annotated[datetime | None, Query(description="default: the period's length before end")]
End = Annotated[datetime | None, Query(description="default: now")]
Reader = Annotated[Caller, Depends(require("report", "read"))]
Writer = Annotated[Caller, Depends(require("report", "write"))]
FILE: dict[str, Any] = {"content": {media: {} for media in MEDIA_TYPES.values()}}


def _file(content: bytes, fmt: ReportFormat, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type=MEDIA_TYPES[fmt], headers=headers)


def _on_demand(svc: ServicesDep, caller: Caller, project: str, request: ReportCreate) -> Response:
    generated = service.generate(
        svc.db, settings=svc.settings, signer=svc.signer, project=project, request=request,
        actor=caller.principal, clock=svc.clock,
    )  # fmt: skip
    return _file(generated.content, generated.format, generated.filename)


@router.get(
    "/projects/{project}/models/{name}/versions/{version}/report",
    response_class=Response, responses={200: FILE},
)  # fmt: skip
def model_report(
    project: ProjectName, name: ModelName, version: Version, caller: Reader, svc: ServicesDep,
    format: Format = ReportFormat.html, period_start: Start = None, period_end: End = None,
) -> Response:  # fmt: skip
    """A model version's card and technical documentation, signed (not stored)."""
    request = ReportCreate(kind=ReportKind.model, model=name, version=version, format=format,
                           period_start=period_start, period_end=period_end)  # fmt: skip
    return _on_demand(svc, caller, project, request)


@router.get("/projects/{project}/report", response_class=Response, responses={200: FILE})
def project_report(
    project: ProjectName, caller: Reader, svc: ServicesDep,
    format: Format = ReportFormat.html, period_start: Start = None, period_end: End = None,
) -> Response:  # fmt: skip
    """The project's governance report, signed (not stored)."""
    request = ReportCreate(kind=ReportKind.project, format=format, period_start=period_start,
                           period_end=period_end)  # fmt: skip
    return _on_demand(svc, caller, project, request)


@router.post("/projects/{project}/reports", response_model=StoredReport, status_code=201)
def store_report(
    project: ProjectName, body: ReportCreate, caller: Writer, svc: ServicesDep
) -> StoredReport:
    """Generate, sign and store a report (audited); download it by its id."""
    generated = service.generate(
        svc.db, settings=svc.settings, signer=svc.signer, project=project, request=body,
        actor=caller.principal, clock=svc.clock, store=True,
    )  # fmt: skip
    assert generated.stored is not None
    return generated.stored


@router.get("/projects/{project}/reports", response_model=list[StoredReport])
def list_reports(
    project: ProjectName,
    caller: Reader,
    svc: ServicesDep,
    kind: ReportKind | None = None,
    model: Annotated[str | None, Query(max_length=200)] = None,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    origin: ReportOrigin | None = None,
    limit: Limit = 100,
) -> list[StoredReport]:
    """Stored reports, newest first, filtered by kind, model, version or origin."""
    return service.list_reports(svc.db, project=project, kind=kind, model=model,
                                version=version, origin=origin, limit=limit)  # fmt: skip


@router.get(
    "/projects/{project}/reports/{report_id}", response_class=Response, responses={200: FILE}
)
def download_report(
    project: ProjectName, report_id: UUID, caller: Reader, svc: ServicesDep
) -> Response:
    """A stored report's signed file, as it was stored."""
    stored, content = service.read_report(
        svc.db, settings=svc.settings, project=project, report_id=report_id
    )
    return _file(content, stored.format, stored.filename)
