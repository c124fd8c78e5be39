"""Liveness and readiness: the only route without authentication."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter
from pydantic import BaseModel

from steward.api.deps import ServicesDep
from steward.migrations import current_revision

router = APIRouter(prefix="/api/v1", tags=["health"])


class Health(BaseModel):
    """Service status."""

    status: str
    version: str
    schema_revision: str | None


def _version() -> str:
    try:
        return version("steward")
    except PackageNotFoundError:
        return "unknown"


@router.get("/health", response_model=Health)
def health(svc: ServicesDep) -> Health:
    """Report that the service is up and which schema it runs on."""
    return Health(status="ok", version=_version(), schema_revision=current_revision(svc.db))
