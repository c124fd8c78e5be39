"""Route modules; ``all_routers`` lists, in order, every router ``create_app`` mounts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute

from steward.api.routes import (
    alerts,
    approvals,
    audit,
    catalog,
    console,
    datasets,
    endpoints,
    evaluations,
    gates,
    health,
    identity,
    inference,
    lineage,
    llm_connections,
    llm_reports,
    metrics,
    models,
    monitors,
    pipelines,
    projects,
    prompts,
    reports,
    rollouts,
    runs,
    scoring,
    traces,
    triggers,
)

# Mounting order is the order of paths in the OpenAPI document and the order in which routes
# are matched, one after the other; a new route module is added here explicitly. Scoring is
# first: it is the hot path, and matching a hundred routes before it cost half a millisecond.
ROUTE_MODULES = (
    scoring,
    alerts,
    approvals,
    audit,
    catalog,
    datasets,
    endpoints,
    evaluations,
    gates,
    health,
    identity,
    inference,
    lineage,
    llm_connections,
    llm_reports,
    metrics,
    models,
    monitors,
    pipelines,
    projects,
    prompts,
    reports,
    rollouts,
    runs,
    traces,
    triggers,
    console,
)


def all_routers() -> list[APIRouter]:
    """The routers of every route module, in mounting order."""
    return [module.router for module in ROUTE_MODULES]


def iter_api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute of an app, through included routers (for docs and permission checks)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # FastAPI >= 0.160 wraps included routers
            found.extend(iter_api_routes(route.original_router.routes))
    return found
