"""``GET /metrics``: Prometheus text format, series limited to what the scrape token may read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from steward import metrics
from steward.api.deps import Caller, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(tags=["metrics"], responses=ERROR_RESPONSES)


@router.get("/metrics", response_class=PlainTextResponse)
def scrape(
    caller: Annotated[Caller, Depends(require("metrics", "read", scope="self"))],
    svc: ServicesDep,
    request: Request,
) -> Response:
    """Series of every project where the token's principal holds ``metrics:read`` (else none)."""
    # Process series (this process's HTTP requests, build info, the daemon leader) come along
    # when there is at least one such project (the docstring is the published description).
    name = caller.principal.name
    projects = {
        p for p in svc.policy.projects(name) if svc.policy.enforce(name, p, "metrics", "read")
    }
    http = getattr(request.app.state, "http_metrics", None)
    capture = None if svc.scorer is None else svc.scorer.capture.stats
    body = metrics.exposition(svc.db, projects=projects, http=http, capture=capture)
    return Response(body, media_type=metrics.CONTENT_TYPE)
