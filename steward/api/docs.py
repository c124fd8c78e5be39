"""Swagger UI and ReDoc from the installed ``fastapi-offline`` assets: no CDN, works offline."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/api/docs"
REDOC_URL = "/api/redoc"
STATIC_URL = "/api/docs/static"
# The fastapi-offline wheel ships swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and
# favicon.png as package data of ``fastapi_offline/static``.
ASSETS = ("fastapi_offline", "static")


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


async def swagger_ui(request: Request) -> HTMLResponse:
    """The Swagger UI page, its scripts and styles from the local assets."""
    app: FastAPI = request.app
    root = _root(request)
    redirect = app.swagger_ui_oauth2_redirect_url
    return get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        oauth2_redirect_url=f"{root}{redirect}" if redirect else None,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters=app.swagger_ui_parameters,
    )


async def swagger_ui_redirect(request: Request) -> HTMLResponse:
    """The page Swagger UI's OAuth2 flows return to."""
    return get_swagger_ui_oauth2_redirect_html()


async def redoc(request: Request) -> HTMLResponse:
    """The ReDoc page, its script from the local assets and no web fonts."""
    app: FastAPI = request.app
    root = _root(request)
    return get_redoc_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        with_google_fonts=False,
    )


def install_docs(app: FastAPI) -> None:
    """Serve the docs pages and their assets (unauthenticated, like health; not in the schema)."""
    # Plain Starlette routes, as FastAPI adds its own docs pages: they are documentation, not API
    # routes, so the permission table (which enumerates APIRoutes) has nothing to list for them.
    app.mount(STATIC_URL, StaticFiles(packages=[ASSETS]), name="docs-static")
    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    if app.swagger_ui_oauth2_redirect_url:
        redirect = app.swagger_ui_oauth2_redirect_url
        app.add_route(redirect, swagger_ui_redirect, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
