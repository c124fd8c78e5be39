"""Who sees which catalogue entries: a table of principals by entries, through REST."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.catalog.conftest import CATALOG, Org, ok

ALL = {"alpha", "beta-org", "beta-secret", "external"}
ORG_WIDE = {"beta-org", "external"}
# Organisation entries: every principal holding a role in some project. Project entries:
# readers of models in the publishing project (an app developer holds a role in 'alpha' but
# may not read its models).
SEES: dict[str, set[str]] = {
    "admin": ALL,
    "viewer": ORG_WIDE | {"alpha"},
    "ml-engineer": ORG_WIDE | {"alpha"},
    "app-developer": ORG_WIDE,
    "outsider": ORG_WIDE | {"beta-secret"},
    "gina": ORG_WIDE,
    "loner": set(),
}


@pytest.mark.parametrize("who", sorted(SEES))
def test_each_principal_lists_and_reads_exactly_what_it_may_see(
    org: Org, client: TestClient, who: str
) -> None:
    headers = org.headers[who]
    labels = {v: k for k, v in org.entries.items()}
    listed = ok(client.get(CATALOG, headers=headers))["items"]
    assert {labels[h["entry"]["id"]] for h in listed} == SEES[who]
    for label, entry in org.entries.items():
        resp = client.get(f"{CATALOG}/{entry}", headers=headers)
        if label in SEES[who]:
            assert ok(resp)["id"] == entry
        else:  # never 403: an invisible entry looks exactly like a missing one
            assert resp.status_code == 404, (who, label, resp.text)
            missing = client.get(f"{CATALOG}/{uuid.uuid4()}", headers=headers)
            blank = {"detail": "", "request_id": ""}
            assert resp.json() | blank == missing.json() | blank


def test_search_never_reveals_invisible_entries(org: Org, client: TestClient) -> None:
    # 'secret' is beta's project-only model: its name is in the text, yet alpha finds nothing.
    resp = ok(client.get(CATALOG, params={"q": "secret"}, headers=org.headers["viewer"]))
    assert resp["items"] == []
    resp = ok(client.get(CATALOG, params={"q": "secret"}, headers=org.headers["outsider"]))
    assert [h["entry"]["id"] for h in resp["items"]] == [org.entries["beta-secret"]]


def test_browsing_needs_a_credential(client: TestClient) -> None:
    assert client.get(CATALOG).status_code == 401
