"""Liveness and readiness: the only route without authentication."""

from __future__ import annotations

import functools
import logging
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Response
from pydantic import BaseModel

from steward.api.deps import ServicesDep
from steward.api.errors import DATABASE_DOWN, RETRY_AFTER_SECONDS
from steward.migrations import current_revision

log = logging.getLogger("steward.api")
router = APIRouter(prefix="/api/v1", tags=["health"])


class Health(BaseModel):
    """Service status."""

    status: str  # "ok" or "degraded"
    version: str
    schema_revision: str | None
    database: str = "up"  # or "down"
    # "failing" while the last checkpoint write, or a witness, failed (retried; details in log).
    audit: str = "ok"


@functools.cache  # the installed version does not change while the process runs
def _version() -> str:
    try:
        return version("steward")
    except PackageNotFoundError:
        return "unknown"


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency (the database) is down"}},
)
def health(svc: ServicesDep, response: Response) -> Health:
    """Report that the service is up and which schema it runs on."""
    try:
        revision = current_revision(svc.db)
    except DATABASE_DOWN as exc:
        # Anyone may call this route: the reason goes to the log, never into the answer.
        log.warning("health: database unavailable: %s", getattr(exc, "orig", None) or exc)
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return Health(status="degraded", version=_version(), schema_revision=None, database="down")
    audit = "failing" if _audit_failing(svc) else "ok"
    return Health(
        status="ok" if audit == "ok" else "degraded",
        version=_version(),
        schema_revision=revision,
        audit=audit,
    )


def _audit_failing(svc: ServicesDep) -> bool:
    sealer_error = svc.sealer is not None and svc.sealer.snapshot().last_error is not None
    witness_error = svc.witnesses is not None and any(
        w.last_error is not None for w in svc.witnesses.status()
    )
    return sealer_error or witness_error
