"""Property-based API tests: every operation of the app, as the owner and with no credentials.

schemathesis generates requests from the app's own OpenAPI document (so routes added by any
package are covered as soon as they are mounted) and checks each response: no 5xx, a documented
status code, a documented content type and headers, and a body that conforms to the schema.
The app is built once per module (per worker); hypothesis is derandomized and bounded so the run
is repeatable: 8 examples per operation as the owner (each sent as generated, which finds what
the denial path does with odd project names, and again aimed at the owner's own project, so the
handlers run), 2 per operation without credentials (every one is refused before any handler
runs). Reads and writes are separate tests so that workers can share them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette_testclient import TestClient

from steward.api.app import build_services, create_app
from tests.conftest import DatabaseFactory, make_settings

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)
EXAMPLES = {"owner": 8, "anonymous": 2}
READS = ["GET"]
WRITES = ["POST", "PUT", "PATCH", "DELETE"]
pytestmark = pytest.mark.slow

# FastAPI emits OpenAPI 3.1, which schemathesis 3.x supports behind this switch.
schemathesis.experimental.OPEN_API_3_1.enable()
# "uuid" is not a JSON Schema format hypothesis-jsonschema knows: without this, every
# generated id is a random string and the request never gets past validation.
schemathesis.openapi.format("uuid", st.uuids().map(str))


@pytest.fixture(scope="module")
def api(
    database_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One real app (and its world of principals) for the whole module."""
    home: Path = tmp_path_factory.mktemp("schemathesis") / "home"
    url = database_factory.new(home, world=True)
    unlimited = make_settings(
        home, url, rate_limit_per_minute=1_000_000, rate_limit_burst=1_000_000
    )
    svc = build_services(unlimited)
    app = create_app(services=svc, seal_in_background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield {"app": app, "world": database_factory.world, "client": client}
    svc.db.dispose()
    database_factory.drop(url)


@pytest.fixture(scope="module")
def api_schema(api: dict[str, Any]) -> Any:
    """The app's OpenAPI document, as served, for schemathesis."""
    return schemathesis.from_dict(api["app"].openapi(), app=api["app"])


reads = schemathesis.from_pytest_fixture("api_schema", method=READS)
writes = schemathesis.from_pytest_fixture("api_schema", method=WRITES)
anything = schemathesis.from_pytest_fixture("api_schema")
OWNER = settings(
    max_examples=EXAMPLES["owner"],
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_the_read_and_write_tests_cover_every_operation(api: dict[str, Any]) -> None:
    """No operation falls between the method groups (an empty group would pass vacuously)."""
    methods = [m.upper() for path in api["app"].openapi()["paths"].values() for m in path]
    assert len(methods) >= 50 and methods.count("GET") >= 20
    assert set(methods) <= {*READS, *WRITES}, set(methods)


def _check(case: Any, client: TestClient, headers: dict[str, str]) -> None:
    response = case.call(session=client, headers=headers)
    case.validate_response(response, checks=CHECKS)


def _variants(case: Any) -> list[Any]:
    """The generated case, plus the same request aimed at the caller's project when it has one."""
    cases = [case]
    if "project" in (case.path_parameters or {}):
        aimed = case.partial_deepcopy()
        aimed.path_parameters = {**case.path_parameters, "project": "alpha"}
        cases.append(aimed)
    return cases


def _as_owner(case: Any, api: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {api['world'].admin_token}"}
    for variant in _variants(case):
        _check(variant, api["client"], headers)


@reads.parametrize()
@OWNER
def test_every_read_as_owner(case: Any, api: dict[str, Any]) -> None:
    """As the platform owner, every GET: no 5xx and every response as documented."""
    _as_owner(case, api)


@writes.parametrize()
@OWNER
def test_every_write_as_owner(case: Any, api: dict[str, Any]) -> None:
    """As the platform owner, every POST/PUT/PATCH/DELETE: no 5xx, responses as documented."""
    _as_owner(case, api)


@anything.parametrize()
@settings(
    max_examples=EXAMPLES["anonymous"],
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_without_credentials(case: Any, api: dict[str, Any]) -> None:
    """With no token: 401 (documented, common error body) everywhere except health."""
    response = case.call(session=api["client"])
    case.validate_response(response, checks=CHECKS)
    if case.path != "/api/v1/health":
        assert response.status_code == 401, (case.method, case.formatted_path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert set(response.json()) == {"code", "detail", "request_id"}
