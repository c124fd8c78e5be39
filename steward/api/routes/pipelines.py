"""Routes of retrain's pipelines."""

from __future__ import annotations

from fastapi import APIRouter

from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["pipelines"], responses=ERROR_RESPONSES)
