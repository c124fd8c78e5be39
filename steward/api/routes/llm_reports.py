"""The report of an LLM endpoint: prompt versions, judge scores and usage per window."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from lineage.schemas import NAME_RE
from steward.api.deps import Caller, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES
from steward.reports.llm_render import render_html, render_json
from steward.reports.llm_report import build_llm_report

router = APIRouter(prefix="/api/v1", tags=["reports"], responses=ERROR_RESPONSES)
DEFAULT_PERIOD = timedelta(days=30)


class LlmReportFormat(StrEnum):
    """The formats of the LLM endpoint report."""

    html = "html"
    json = "json"


MEDIA = {LlmReportFormat.html: "text/html; charset=utf-8", LlmReportFormat.json: "application/json"}
ProjectName = Annotated[str, Path(max_length=64)]
EndpointName = Annotated[str, Path(max_length=200, pattern=NAME_RE.pattern)]
Format = Annotated[LlmReportFormat, Query(description="html or json")]
Start = Annotated[datetime | None, Query(description="default: 30 days before end")]
End = Annotated[datetime | None, Query(description="default: now")]
Reader = Annotated[Caller, Depends(require("report", "read"))]
FILE: dict[str, Any] = {"content": {media.split(";")[0]: {} for media in MEDIA.values()}}


@router.get(
    "/projects/{project}/endpoints/{endpoint}/report",
    response_class=Response, responses={200: FILE},
)  # fmt: skip
def llm_endpoint_report(
    project: ProjectName, endpoint: EndpointName, caller: Reader, svc: ServicesDep,
    format: Format = LlmReportFormat.html, period_start: Start = None, period_end: End = None,
) -> Response:  # fmt: skip
    """An LLM endpoint's windows: prompt versions, judge scores, tokens, latency, alerts."""
    end = period_end or svc.clock.now()
    start = period_start or end - DEFAULT_PERIOD
    report = build_llm_report(
        svc.db, project=project, endpoint=endpoint, start=start, end=end, clock=svc.clock
    )
    content = render_html(report) if format is LlmReportFormat.html else render_json(report)
    return Response(content, media_type=MEDIA[format])
