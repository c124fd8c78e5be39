"""Model cards over REST: read, partial edits, audit trail, validation, roles and projects."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.core.db import Database
from lineage import service
from steward.api.deps import Services
from tests.builders import World
from tests.lineage.test_registry import model_create

CARD = "/api/v1/projects/{p}/models/{m}/card"


def _register(world: World, client: TestClient, project: str = "alpha", n: int = 0) -> None:
    body = model_create(n).model_dump(mode="json")
    headers = world.headers("owner") if project == "alpha" else _outsider(world)
    resp = client.post(f"/api/v1/projects/{project}/models/churn/versions", json=body,
                       headers=headers)  # fmt: skip
    assert resp.status_code == 201, resp.text


def _outsider(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.outsider_token}"}


def _card_audit(services: Services) -> list[dict[str, object]]:
    flt = AuditFilter(action="model.card.update", project="alpha")
    return [e.model_dump() for e in list_audit(services.db, flt=flt, cursor=None, limit=50).items]


def test_a_new_model_has_an_empty_card(world: World, client: TestClient) -> None:
    _register(world, client)
    resp = client.get(CARD.format(p="alpha", m="churn"), headers=world.headers("viewer"))
    assert resp.status_code == 200
    empty = {"intended_use": "", "limitations": "", "out_of_scope_uses": ""}
    assert resp.json() == {"owners": [], **empty, "updated_by": None, "updated_at": None}


def test_patch_changes_only_the_given_fields_and_is_audited(
    world: World, client: TestClient, services: Services
) -> None:
    _register(world, client)
    url = CARD.format(p="alpha", m="churn")
    first = {"owners": ["alice", "Risk team"], "intended_use": "Score churn risk monthly."}
    resp = client.patch(url, json=first, headers=world.headers("ml-engineer"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["owners"] == ["alice", "Risk team"]
    assert resp.json()["updated_by"] == "user:ml-engineer-user"
    second = {"limitations": "Not calibrated for new customers.", "owners": ["alice"]}
    resp = client.patch(url, json=second, headers=world.headers("owner"))
    card = client.get(url, headers=world.headers("auditor")).json()
    assert card["intended_use"] == "Score churn risk monthly."  # kept: not in the second patch
    assert card["limitations"] == "Not calibrated for new customers."
    assert card["owners"] == ["alice"] and card["out_of_scope_uses"] == ""
    assert card["updated_by"] == "user:owner-user"
    assert service.model_card(services.db, project="alpha", name="churn").owners == ["alice"]
    entries = _card_audit(services)
    assert [(e["actor"], e["target"]) for e in entries] == [
        ("user:ml-engineer-user", "model:churn"), ("user:owner-user", "model:churn")]  # fmt: skip
    last = entries[-1]["details"]
    assert last == {
        "fields": ["limitations", "owners"],
        "before": {"limitations": "", "owners": ["alice", "Risk team"]},
        "after": {"limitations": "Not calibrated for new customers.", "owners": ["alice"]},
    }


def test_a_patch_that_changes_nothing_writes_nothing(
    world: World, client: TestClient, services: Services
) -> None:
    _register(world, client)
    url = CARD.format(p="alpha", m="churn")
    client.patch(url, json={"intended_use": "x"}, headers=world.headers("owner"))
    again = client.patch(url, json={"intended_use": "x"}, headers=world.headers("ml-engineer"))
    assert again.status_code == 200 and again.json()["updated_by"] == "user:owner-user"
    assert len(_card_audit(services)) == 1


def test_invalid_bodies_are_refused(world: World, client: TestClient) -> None:
    _register(world, client)
    url = CARD.format(p="alpha", m="churn")
    for body in (
        {"owner": ["alice"]},  # unknown field
        {"owners": None},  # null instead of leaving it out
        {"owners": ["alice", "alice"]},
        {"owners": [""]},
        {"owners": [f"o{i}" for i in range(51)]},
        {"limitations": "x" * 20_001},
        {"intended_use": 3},
    ):
        resp = client.patch(url, json=body, headers=world.headers("owner"))
        assert resp.status_code == 422, body
    assert client.get(url, headers=world.headers("owner")).json()["updated_at"] is None


def test_a_viewer_reads_but_cannot_edit(
    world: World, client: TestClient, services: Services
) -> None:
    _register(world, client)
    url = CARD.format(p="alpha", m="churn")
    resp = client.patch(url, json={"limitations": "x"}, headers=world.headers("viewer"))
    assert resp.status_code == 403
    assert resp.json()["code"] == "permission_denied"
    assert _card_audit(services) == []
    assert client.get(url, headers=world.headers("viewer")).json()["limitations"] == ""


def test_other_projects_and_unknown_models_are_404(
    world: World, client: TestClient, services: Services, db: Database
) -> None:
    _register(world, client)
    _register(world, client, project="beta")
    beta = CARD.format(p="beta", m="churn")
    assert client.get(beta, headers=world.headers("owner")).status_code == 404
    resp = client.patch(beta, json={"limitations": "x"}, headers=world.headers("ml-engineer"))
    assert resp.status_code == 404
    missing = CARD.format(p="alpha", m="nope")
    resp = client.patch(missing, json={"limitations": "x"}, headers=world.headers("owner"))
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    # beta's card is its own row: writing alpha's leaves it empty.
    client.patch(CARD.format(p="alpha", m="churn"), json={"limitations": "a"},
                 headers=world.headers("owner"))  # fmt: skip
    assert client.get(beta, headers=_outsider(world)).json()["limitations"] == ""
    with db.read() as session:
        rows = session.execute(text("SELECT project FROM lineage_model_cards")).scalars().all()
    assert rows == ["alpha"]
