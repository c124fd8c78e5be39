"""Publishing, external entries, use in a project (lineage, audit, licences), withdrawal."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from steward.api.deps import Services
from tests.builders import World
from tests.catalog.conftest import CATALOG, Org, ok, publish, register

P = "/api/v1/projects"


def _use(client: TestClient, headers: dict[str, str], project: str, entry: str,
         **body: object) -> Any:  # fmt: skip
    return client.post(f"{P}/{project}/catalog/{entry}/use", json=body, headers=headers)


def _audit(services: Services, action: str, project: str | None) -> list[Any]:
    flt = AuditFilter(action=action, project=project)
    return list(list_audit(services.db, flt=flt, cursor=None, limit=100).items)


def test_publish_requires_catalog_publish(org: Org, client: TestClient, world: World) -> None:
    register(client, world.headers("owner"), "alpha", "uplift", 5)
    body = {"model": "uplift", "licence": "MIT"}
    for role in ("data-scientist", "viewer", "app-developer", "auditor"):
        resp = client.post(f"{P}/alpha/catalog", json=body, headers=world.headers(role))
        assert resp.status_code == 403, role
    entry = publish(client, world.headers("ml-engineer"), "alpha", **body)
    assert entry["created_by"] == "user:ml-engineer-user"
    again = client.post(f"{P}/alpha/catalog", json=body, headers=world.headers("owner"))
    assert again.status_code == 409 and again.json()["code"] == "catalog_entry_exists"
    unknown = client.post(f"{P}/alpha/catalog", json={"model": "nope", "licence": "MIT"},
                          headers=world.headers("owner"))  # fmt: skip
    assert unknown.status_code == 404
    bad = client.post(f"{P}/alpha/catalog", json={"model": "uplift"},
                      headers=world.headers("owner"))  # fmt: skip
    assert bad.status_code == 422  # a licence is required


def test_the_entry_keeps_the_card_and_metrics_as_published(
    org: Org, client: TestClient, world: World, services: Services
) -> None:
    url = f"{CATALOG}/{org.entries['alpha']}"
    entry = ok(client.get(url, headers=org.headers["viewer"]))
    assert entry["card"]["limitations"] == "Trained on European retail customers only."
    assert entry["intended_use"].startswith("Predicts customer churn")
    assert entry["evaluations"] == [{"metric": "auc", "value": 0.91, "dataset": "", "version": "1"}]
    assert [v["version"] for v in entry["versions"]] == ["1"]
    # the project edits its card afterwards: the entry still shows the card as published
    ok(client.patch(f"{P}/alpha/models/churn/card", json={"limitations": "none"},
                    headers=world.headers("owner")))  # fmt: skip
    assert ok(client.get(url, headers=org.headers["viewer"]))["card"] == entry["card"]
    [audit] = _audit(services, "catalog.publish", "alpha")
    assert audit.target == f"catalog:{org.entries['alpha']}"


def test_use_links_the_same_artifact_with_lineage_and_audits_both_projects(
    org: Org, client: TestClient, world: World, services: Services
) -> None:
    entry = org.entries["beta-org"]
    data_scientist = world.headers("data-scientist")
    link = ok(_use(client, data_scientist, "alpha", entry, model="fraud-scoring"), 201)
    assert (link["project"], link["model"], link["version"]) == ("alpha", "fraud-scoring", 1)
    used = ok(client.get(f"{P}/alpha/models/fraud-scoring/versions/1", headers=data_scientist))
    source = ok(client.get(f"{P}/beta/models/fraud/versions/1", headers=org.headers["outsider"]))
    assert used["sha256"] == source["sha256"] and used["flavor"] == source["flavor"]
    assert used["tags"] == {"catalog_entry": entry, "catalog_version": "1"}
    upstream = ok(client.get(f"{P}/alpha/lineage/nodes/{used['id']}/upstream",
                             headers=data_scientist))  # fmt: skip
    assert source["id"] in str(upstream)
    [here] = _audit(services, "catalog.use", "alpha")
    [there] = _audit(services, "catalog.used", "beta")
    assert here.target == "model:fraud-scoring@1" and there.details["used_in"] == "alpha"
    # a second use adds the next version of the same model; a stranger's model name is refused
    assert (
        ok(_use(client, data_scientist, "alpha", entry, model="fraud-scoring"), 201)["version"] == 2
    )
    register(client, world.headers("owner"), "alpha", "mine", 7)
    clash = _use(client, data_scientist, "alpha", entry, model="mine")
    assert clash.status_code == 409 and clash.json()["code"] == "catalog_model_exists"


def test_using_an_external_model_registers_an_external_version(
    org: Org, client: TestClient, world: World, services: Services
) -> None:
    link = ok(_use(client, world.headers("owner"), "alpha", org.entries["external"]), 201)
    assert (link["model"], link["entry_version"]) == ("gpt-4o-mini", "2024-07-18")
    version = ok(client.get(f"{P}/alpha/models/gpt-4o-mini/versions/1",
                            headers=world.headers("viewer")))  # fmt: skip
    assert (version["flavor"], version["sha256"], version["artifact_uri"]) == ("external", "", "")
    artifact = client.get(f"{P}/alpha/models/gpt-4o-mini/versions/1/artifact",
                          headers=world.headers("viewer"))  # fmt: skip
    assert artifact.status_code == 404
    [there] = _audit(services, "catalog.used", None)
    assert there.details["used_in"] == "alpha"


def test_use_needs_catalog_use_and_a_visible_entry(
    org: Org, client: TestClient, world: World
) -> None:
    for role in ("viewer", "auditor", "app-developer"):
        resp = _use(client, world.headers(role), "alpha", org.entries["external"])
        assert resp.status_code == 403, role
    # beta's project-only entry, by id, from alpha: unknown
    resp = _use(client, world.headers("owner"), "alpha", org.entries["beta-secret"])
    assert resp.status_code == 404
    assert _use(client, world.headers("owner"), "alpha", str(uuid.uuid4())).status_code == 404
    # alpha's project entry into beta, by beta's owner who cannot see it
    resp = _use(client, org.headers["outsider"], "beta", org.entries["alpha"])
    assert resp.status_code == 404
    wrong = _use(client, world.headers("owner"), "alpha", org.entries["external"], version="v9")
    assert wrong.status_code == 404


def test_a_licence_rule_refuses(org: Org, client: TestClient, world: World,
                                services: Services) -> None:  # fmt: skip
    owner = world.headers("owner")
    rule = {"refused": ["non-commercial", "proprietary"]}
    url = f"{P}/alpha/catalog/licence-rule"
    assert client.put(url, json=rule, headers=world.headers("ml-engineer")).status_code == 403
    ok(client.put(url, json=rule, headers=owner))
    assert ok(client.get(url, headers=world.headers("viewer")))["refused"] == rule["refused"]
    refused = _use(client, owner, "alpha", org.entries["external"])
    assert refused.status_code == 422 and refused.json()["code"] == "catalog_licence_refused"
    register(client, org.headers["outsider"], "beta", "nc", 11)
    nc = publish(client, org.headers["outsider"], "beta", model="nc", licence="CC-BY-NC-4.0",
                 visibility="organisation")  # fmt: skip
    refused = _use(client, owner, "alpha", nc["id"])
    assert refused.json()["code"] == "catalog_licence_refused"
    ok(client.put(url, json={"allowed": ["MIT"]}, headers=owner))
    ok(_use(client, owner, "alpha", org.entries["beta-org"]), 201)  # MIT
    assert _use(client, owner, "alpha", nc["id"]).status_code == 422
    assert len(_audit(services, "catalog.licence_rule", "alpha")) == 2
    assert _audit(services, "catalog.use", "alpha")[0].details["name"] == "beta/fraud"


def test_withdrawn_entries_leave_search_but_earlier_uses_stay(
    org: Org, client: TestClient, world: World, services: Services
) -> None:
    entry, owner = org.entries["beta-org"], world.headers("owner")
    link = ok(_use(client, owner, "alpha", entry), 201)
    # only beta's publishers withdraw it by their project's route; alpha's owner sees it but
    # cannot withdraw it through alpha
    wrong = client.post(f"{P}/alpha/catalog/{entry}/withdraw", json={}, headers=owner)
    assert wrong.status_code == 404
    done = ok(client.post(f"{P}/beta/catalog/{entry}/withdraw", json={"reason": "superseded"},
                          headers=org.headers["outsider"]))  # fmt: skip
    assert done["withdrawn"] and done["withdrawn_reason"] == "superseded"
    assert done["history"][-1]["action"] == "withdraw"
    assert entry not in str(ok(client.get(CATALOG, params={"q": "fraud"}, headers=owner)))
    again = _use(client, owner, "alpha", entry)
    assert again.status_code == 409 and again.json()["code"] == "catalog_entry_withdrawn"
    ok(client.get(f"{P}/alpha/models/{link['model']}/versions/1", headers=owner))
    links = ok(client.get(f"{CATALOG}/{entry}/links", headers=owner))
    assert [x["id"] for x in links] == [link["id"]]
    assert ok(client.get(f"{CATALOG}/{entry}", headers=owner))["withdrawn"]
    [audit] = _audit(services, "catalog.withdraw", "beta")
    assert audit.details == {"reason": "superseded"}
    # the name is free again: beta may publish the model anew
    publish(client, org.headers["outsider"], "beta", model="fraud", licence="MIT")


def test_external_entries_are_managed_by_installation_admins(
    org: Org, client: TestClient, world: World, services: Services
) -> None:
    body = {"name": "llama-3-8b", "licence": "Llama-3-Community"}
    for who in ("outsider", "gina", "ml-engineer"):
        resp = client.post(f"{CATALOG}/external", json=body, headers=org.headers[who])
        assert resp.status_code == 403, who
    url = f"{CATALOG}/{org.entries['external']}"
    changed = ok(client.patch(url, json={"tags": ["llm", "chat"]}, headers=org.headers["admin"]))
    assert changed["tags"] == ["llm", "chat"] and changed["history"][-1]["fields"] == ["tags"]
    assert _found_ids(client, org, tag="chat") == [org.entries["external"]]
    published = client.patch(f"{CATALOG}/{org.entries['alpha']}", json={"tags": []},
                             headers=org.headers["admin"])  # fmt: skip
    assert published.status_code == 409 and published.json()["code"] == "catalog_entry_published"
    dup = client.post(f"{CATALOG}/external", json={"name": "gpt-4o-mini", "licence": "x"},
                      headers=org.headers["admin"])  # fmt: skip
    assert dup.status_code == 409
    extra = client.post(f"{CATALOG}/external", json=body | {"owner": "me"},
                        headers=org.headers["admin"])  # fmt: skip
    assert extra.status_code == 422
    ok(client.post(f"{url}/withdraw", json={}, headers=org.headers["admin"]))
    assert org.entries["external"] not in _found_ids(client, org)
    assert len(_audit(services, "catalog.external.update", None)) == 1


def _found_ids(client: TestClient, org: Org, **params: str | int) -> list[str]:
    page = ok(client.get(CATALOG, params=params, headers=org.headers["viewer"]))
    return [h["entry"]["id"] for h in page["items"]]


def test_oversized_bodies_are_refused(org: Org, client: TestClient) -> None:
    body = {"name": "big", "licence": "MIT", "description": "x" * 30_000}
    resp = client.post(f"{CATALOG}/external", json=body, headers=org.headers["admin"])
    assert resp.status_code == 422
    huge = {"name": "big", "licence": "MIT", "card": {"x": "y" * 20_000_000}}
    resp = client.post(f"{CATALOG}/external", json=huge, headers=org.headers["admin"])
    assert resp.status_code == 413
