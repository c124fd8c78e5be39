"""A small organisation for catalogue tests: models published from 'alpha' and 'beta', an
external model, and principals with different reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from governance.access import service
from governance.access.schemas import ProjectCreate
from steward.api.deps import Services
from tests.builders import OPERATOR, World, make_principal, make_token
from tests.lineage.test_registry import model_create

CATALOG = "/api/v1/catalog"


def bearer(token: str) -> dict[str, str]:
    """Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def ok(resp: Any, status: int = 200) -> Any:
    """The JSON of a response that must have ``status``."""
    assert resp.status_code == status, resp.text
    return resp.json()


def register(client: TestClient, headers: dict[str, str], project: str, model: str,
             n: int, **kw: object) -> dict[str, Any]:  # fmt: skip
    """Register the next version of ``model`` in ``project`` over REST."""
    body = model_create(n, **kw).model_dump(mode="json")
    url = f"/api/v1/projects/{project}/models/{model}/versions"
    return ok(client.post(url, json=body, headers=headers), 201)  # type: ignore[no-any-return]


def publish(client: TestClient, headers: dict[str, str], project: str,
            **body: object) -> dict[str, Any]:  # fmt: skip
    """Publish over REST; the entry."""
    url = f"/api/v1/projects/{project}/catalog"
    return ok(client.post(url, json=body, headers=headers), 201)  # type: ignore[no-any-return]


@dataclass(kw_only=True)
class Org:
    """Entries by label, headers by principal label."""

    entries: dict[str, str] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


def _people(services: Services, world: World) -> dict[str, dict[str, str]]:
    make_principal(services, "gina")  # a member of 'gamma' only
    service.create_project(services.db, data=ProjectCreate(name="gamma"), actor=OPERATOR)
    service.grant_role(services.db, project="gamma", principal="gina", role="ml-engineer",
                       actor=OPERATOR)  # fmt: skip
    make_principal(services, "loner")  # holds no role anywhere
    service.sync_policy(services.db, services.policy)
    return {
        "admin": bearer(world.admin_token),
        "viewer": world.headers("viewer"),
        "app-developer": world.headers("app-developer"),
        "ml-engineer": world.headers("ml-engineer"),
        "outsider": bearer(world.outsider_token),
        "gina": bearer(make_token(services, "gina")),
        "loner": bearer(make_token(services, "loner")),
    }


@pytest.fixture
def org(services: Services, world: World, client: TestClient) -> Org:
    """Four entries: alpha's (project), beta's public and secret ones, an external model."""
    people = _people(services, world)
    owner, outsider = world.headers("owner"), people["outsider"]
    register(client, owner, "alpha", "churn", 1, metrics={"auc": 0.91})
    card = {"intended_use": "Predicts customer churn for retention campaigns.",
            "limitations": "Trained on European retail customers only."}  # fmt: skip
    ok(client.patch("/api/v1/projects/alpha/models/churn/card", json=card, headers=owner))
    register(client, outsider, "beta", "fraud", 2, metrics={"f1": 0.8})
    register(client, outsider, "beta", "secret", 3)
    entries = {
        "alpha": publish(client, owner, "alpha", model="churn", licence="Apache-2.0",
                         tags=["tabular", "churn"])["id"],
        "beta-org": publish(client, outsider, "beta", model="fraud", licence="MIT",
                            visibility="organisation", tags=["tabular"],
                            description="Card-present fraud scoring")["id"],
        "beta-secret": publish(client, outsider, "beta", model="secret",
                               licence="proprietary")["id"],
    }  # fmt: skip
    external = {
        "name": "gpt-4o-mini", "licence": "proprietary", "tags": ["llm"],
        "description": "Hosted chat model behind an OpenAI-compatible API",
        "intended_use": "Summarising support tickets; drafting replies for human review.",
        "evaluations": [{"metric": "mmlu", "value": 0.82, "dataset": "MMLU"}],
        "versions": [{"version": "2024-07-18"}],
        "provider": {"api": "openai-compatible"},
    }  # fmt: skip
    entries["external"] = ok(
        client.post(f"{CATALOG}/external", json=external, headers=people["admin"]), 201
    )["id"]
    return Org(entries=entries, headers=people)
