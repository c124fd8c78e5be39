"""Property-based API tests: every operation of the app, as the owner and with no credentials.

schemathesis generates requests from the app's own OpenAPI document (so routes added by any
package are covered as soon as they are mounted) and checks each response: no 5xx, a documented
status code, a documented content type and headers, and a body that conforms to the schema.
The app is built once per module; hypothesis is derandomized and bounded so the run is repeatable.
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

from governance.core.settings import Settings
from steward.api.app import build_services, create_app
from tests.builders import build_world

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)
EXAMPLES = {"owner": 12, "anonymous": 4}

# FastAPI emits OpenAPI 3.1, which schemathesis 3.x supports behind this switch.
schemathesis.experimental.OPEN_API_3_1.enable()
# "uuid" is not a JSON Schema format hypothesis-jsonschema knows: without this, every
# generated id is a random string and the request never gets past validation.
schemathesis.openapi.format("uuid", st.uuids().map(str))


@pytest.fixture(scope="module")
def api(
    database_factory: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One real app (and its world of principals) for the whole module."""
    home: Path = tmp_path_factory.mktemp("schemathesis")
    url = database_factory.new(home)
    settings_ = Settings(
        home=home,
        database_url=url,
        checkpoint_every=64,
        rate_limit_per_minute=1_000_000,
        rate_limit_burst=1_000_000,
        policy_reload_seconds=0,
    )
    svc = build_services(settings_)
    world = build_world(svc)
    app = create_app(services=svc, seal_in_background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield {"app": app, "world": world, "client": client}
    svc.db.dispose()
    database_factory.drop(url)


@pytest.fixture(scope="module")
def api_schema(api: dict[str, Any]) -> Any:
    """The app's OpenAPI document, as served, for schemathesis."""
    return schemathesis.from_dict(api["app"].openapi(), app=api["app"])


schema = schemathesis.from_pytest_fixture("api_schema")


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


@schema.parametrize()
@settings(
    max_examples=EXAMPLES["owner"],
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_as_owner(case: Any, api: dict[str, Any]) -> None:
    """As the platform owner: no 5xx and every response as documented."""
    headers = {"Authorization": f"Bearer {api['world'].admin_token}"}
    for variant in _variants(case):
        _check(variant, api["client"], headers)


@schema.parametrize()
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
