"""Helpers of the prompt tests: bodies, URLs, audit entries."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from steward.api.deps import Services
from tests.builders import World

BASE = "/api/v1/projects/{p}/prompts"


def chat(
    name: str = "qa", system: str = "You answer about {{ product }}.", **kw: Any
) -> dict[str, Any]:
    """The body of a chat-template version."""
    return {
        "name": name,
        "description": "question answering",
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "{{ question }}"},
        ],
        "model": "gpt-4o-mini",
        "model_parameters": {"temperature": 0.2, "max_tokens": 256},
        **kw,
    }


def flow(**overrides: Any) -> dict[str, Any]:
    """A valid flow document: a prompt node feeding an llm node."""
    document: dict[str, Any] = {
        "inputs": {"question": {"type": "string"}},
        "nodes": [
            {"name": "ask", "type": "prompt", "source": {"prompt": "qa@production"},
             "inputs": {"question": "${inputs.question}"}},
            {"name": "answer", "type": "llm", "source": {"model": "gpt-4o-mini"},
             "inputs": {"chat": "${ask.output}"}},
        ],
        "outputs": {"answer": "${answer.output}"},
    }  # fmt: skip
    return {**document, **overrides}


def url(project: str = "alpha", rest: str = "") -> str:
    """A prompt route of ``project``."""
    return BASE.format(p=project) + rest


def push(client: TestClient, world: World, body: dict[str, Any], role: str = "owner") -> Any:
    """Post a version; its JSON (any status but 2xx fails)."""
    resp = client.post(url(), json=body, headers=world.headers(role))
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


def audit(services: Services, action: str) -> list[dict[str, Any]]:
    """Audit entries of ``action`` in project alpha, oldest first."""
    flt = AuditFilter(action=action, project="alpha")
    return [e.model_dump() for e in list_audit(services.db, flt=flt, cursor=None, limit=50).items]
