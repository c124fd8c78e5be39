"""``GET /metrics``: Prometheus text format, series limited to what the scrape token may read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response

from steward import metrics
from steward.api.deps import Caller, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(tags=["metrics"], responses=ERROR_RESPONSES)


@router.get("/metrics", response_class=PlainTextResponse)
def scrape(
    caller: Annotated[Caller, Depends(require("metrics", "read", scope="self"))],
    svc: ServicesDep,
) -> Response:
    """Series of every project where the token's principal holds ``metrics:read`` (else none)."""
    name = caller.principal.name
    projects = {
        p for p in svc.policy.projects(name) if svc.policy.enforce(name, p, "metrics", "read")
    }
    body = metrics.exposition(svc.db, projects=projects)
    return Response(body, media_type=metrics.CONTENT_TYPE)
