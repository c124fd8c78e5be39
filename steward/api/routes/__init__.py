"""Route modules; every module here that defines ``router`` is mounted by ``create_app``."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute


def all_routers() -> list[APIRouter]:
    """Import every route module of this package and return their routers, by module name."""
    routers = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers


def iter_api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute of an app, through included routers (for docs and permission checks)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # FastAPI >= 0.160 wraps included routers
            found.extend(iter_api_routes(route.original_router.routes))
    return found
