"""The web console: static pages served by ``steward serve`` at ``/`` that use only the REST API.

The page is ``index.html`` at ``/``; its scripts, styles and icons are under ``/console/``. The
console routes by URL fragment (``/#/lineage``), so there is no catch-all route: an unknown
path, under ``/api`` or not, keeps the API's JSON 404.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import Response

from governance.core.errors import NotFound

ASSET_PREFIX = "/console"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Scripts only from the console's own files (no inline script, no eval). Reports are shown in a
# sandboxed frame from a blob: URL; such a document inherits this policy, and reports carry an
# inline stylesheet, hence 'unsafe-inline' for styles (never for scripts).
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "frame-src blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # revalidate every time: the ETag makes it cheap, and an upgrade is seen at once
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Asset:
    """One shipped file, held in memory."""

    body: bytes
    media_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """Every shipped file of this package (flat: package data ships no sub-folders), by name."""
    found: dict[str, Asset] = {}
    for entry in resources.files(__package__).iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if suffix in TYPES and entry.is_file():
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            found[entry.name] = Asset(body=body, media_type=TYPES[suffix], etag=etag)
    return found


def _respond(asset: Asset, request: Request) -> Response:
    headers = {**HEADERS, "ETag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def install_console(app: FastAPI) -> None:
    """Serve the console's shipped assets at ``/`` (after every API route).

    Plain Starlette routes, not API routes: the files are public (the page holds no data; every
    call it makes carries the user's token), and they are not part of the OpenAPI document.
    """
    assets = load_assets()

    async def console_page(request: Request) -> Response:
        return _respond(assets["index.html"], request)

    async def console_asset(request: Request) -> Response:
        path = str(request.path_params["path"])
        asset = assets.get(path)
        if asset is None or path == "index.html":
            raise NotFound("no such console file")
        return _respond(asset, request)

    app.add_route("/", console_page, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route(ASSET_PREFIX + "/{path:path}", console_asset, methods=["GET", "HEAD"],
                  include_in_schema=False)  # fmt: skip
