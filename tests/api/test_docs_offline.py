"""The docs pages load every script and style from the server itself: they work offline."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from steward.api.routes import iter_api_routes

EXPECTED_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class _Assets(HTMLParser):
    """Collect the ``src`` of scripts and the ``href`` of links of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        found = dict(attrs).get(wanted) if wanted else None
        if found is not None:
            self.urls.append(found)


def _assets(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/api/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/api/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_docs_pages_load_every_asset_from_the_server(
    client: TestClient, page: str, expected: set[str]
) -> None:
    r = client.get(page)  # no credentials: documentation, like health
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/api/openapi.json" in r.text
    urls = _assets(r.text)
    assert {u.rsplit("/", 1)[-1] for u in urls} == expected
    for url in urls:
        assert url.startswith("/api/docs/static/"), url  # a local path, no CDN, no web fonts
        asset = client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert EXPECTED_TYPES[suffix] in asset.headers["content-type"], url
        assert len(asset.content) > 1000


def test_docs_are_not_in_the_schema_nor_api_routes(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert not [p for p in paths if "docs" in p or "redoc" in p]
    routes = [r.path for r in iter_api_routes(client.app.routes)]  # type: ignore[attr-defined]
    assert not [p for p in routes if p.startswith(("/api/docs", "/api/redoc"))]
    assert client.get("/api/docs/static/no-such-file.js").status_code == 404
