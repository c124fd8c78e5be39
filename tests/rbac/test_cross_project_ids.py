"""An object of another project is a 404 through a project the caller can see, never a leak."""

from __future__ import annotations

from fastapi.testclient import TestClient

from monitors.alerts.schemas import Breach
from monitors.alerts.service import raise_or_update_alert
from steward.api.deps import Services
from tests.builders import World


def test_alert_of_another_project_is_not_found(
    client: TestClient, services: Services, world: World
) -> None:
    with services.db.transaction() as session:
        outcome = raise_or_update_alert(
            session, project="beta", breach=Breach(monitor="m", signal="data_drift", value=0.9)
        )
    alert_id = outcome.alert.id
    beta = {"Authorization": f"Bearer {world.outsider_token}"}
    assert client.get(f"/api/v1/projects/beta/alerts/{alert_id}", headers=beta).status_code == 200
    owner = world.headers("owner")  # owner of alpha only
    for method, suffix in [("GET", ""), ("POST", "/acknowledge"), ("POST", "/resolve"),
                           ("GET", "/deliveries")]:  # fmt: skip
        r = client.request(method, f"/api/v1/projects/alpha/alerts/{alert_id}{suffix}",
                           headers=owner, json={} if method == "POST" else None)  # fmt: skip
        assert r.status_code == 404, (method, suffix, r.text)
    assert (
        client.get(f"/api/v1/projects/beta/alerts/{alert_id}", headers=beta).json()["state"]
        == "open"
    ), "a request through another project must not change the alert"


def test_model_and_dataset_names_are_per_project(client: TestClient, world: World) -> None:
    beta = {"Authorization": f"Bearer {world.outsider_token}"}
    r = client.post("/api/v1/projects/beta/endpoints", json={"name": "secret-ep"}, headers=beta)
    assert r.status_code in (200, 201), r.text
    owner = world.headers("owner")
    assert (
        client.get("/api/v1/projects/alpha/endpoints/secret-ep", headers=owner).status_code == 404
    )
    listed = client.get("/api/v1/projects/alpha/endpoints", headers=owner).json()
    assert "secret-ep" not in str(listed)
