"""Rendering: exact variables, the sandbox, size caps, and the render route for apps."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from governance.core.errors import InvalidInput, TooLarge
from lineage import prompts
from lineage.prompts.schemas import PromptMessage, Role
from lineage.prompts.template import declared_variables, render_messages
from steward.api.deps import Services
from tests.builders import World
from tests.prompts.support import chat, push, url

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ product.__init__.__globals__ }}",
    "{{ product|attr('__class__') }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ [].append(1) }}",
]


def test_render_fills_the_declared_variables(
    world: World, client: TestClient, services: Services
) -> None:
    push(client, world, chat())
    body = {"variables": {"product": "Steward", "question": "What is drift?"}}
    resp = client.post(url(rest="/qa/render"), json=body, headers=world.headers("viewer"))
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["messages"] == [
        {"role": "system", "content": "You answer about Steward."},
        {"role": "user", "content": "What is drift?"},
    ]
    assert (out["version"], out["model"], out["model_parameters"]["temperature"]) == (
        1, "gpt-4o-mini", 0.2)  # fmt: skip
    version = prompts.get_prompt_version(services.db, project="alpha", ref="qa@1")
    rendered = prompts.render_prompt(version, body["variables"])
    assert rendered[0] == PromptMessage(role=Role.system, content="You answer about Steward.")


def test_missing_and_unknown_variables_are_refused(world: World, client: TestClient) -> None:
    push(client, world, chat())
    render = url(rest="/qa/render")
    missing = client.post(
        render, json={"variables": {"product": "S"}}, headers=world.headers("owner")
    )
    assert (missing.status_code, missing.json()["code"]) == (422, "prompt_variable_missing")
    assert missing.json()["detail"] == "missing variables: question"
    extra = {"product": "S", "question": "q", "secret": "x"}
    unknown = client.post(render, json={"variables": extra}, headers=world.headers("owner"))
    assert (unknown.status_code, unknown.json()["code"]) == (422, "prompt_variable_unknown")
    assert unknown.json()["detail"] == "unknown variables: secret"
    ref = client.post(render, json={"ref": "7", "variables": {}}, headers=world.headers("owner"))
    assert ref.status_code == 404


@pytest.mark.parametrize("template", ESCAPES)
def test_sandbox_escapes_are_refused(template: str) -> None:
    messages = [PromptMessage(role=Role.user, content=template)]
    with pytest.raises(InvalidInput) as caught:
        render_messages(messages, {"product": "x"})
    assert caught.value.code == "prompt_template_unsafe"


def test_a_sandbox_escape_through_the_api_is_refused(world: World, client: TestClient) -> None:
    push(client, world, chat(name="evil", system="{{ ''.__class__.__mro__ }} {{ product }}"))
    resp = client.post(url(rest="/evil/render"),
                       json={"variables": {"product": "x", "question": "y"}},
                       headers=world.headers("owner"))  # fmt: skip
    assert (resp.status_code, resp.json()["code"]) == (422, "prompt_template_unsafe")
    assert "object" not in resp.text  # nothing of the class hierarchy leaks


def test_runaway_templates_stop_at_the_caps() -> None:
    loop = [PromptMessage(role=Role.user,
                          content="{% for i in range(99999) %}{% for j in range(99999) %}xxxxxxxx"
                                  "{% endfor %}{% endfor %}")]  # fmt: skip
    with pytest.raises(TooLarge):
        render_messages(loop, {})
    endless = "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"
    recursion = [PromptMessage(role=Role.user, content=endless)]
    with pytest.raises(InvalidInput) as caught:
        render_messages(recursion, {})
    assert caught.value.code == "prompt_render_failed"


def test_declared_variables_skip_what_the_template_sets() -> None:
    messages = [
        PromptMessage(role=Role.system, content="{% set tone = 'dry' %}{{ tone }} {{ a }}"),
        PromptMessage(role=Role.user, content="{% for d in docs %}{{ d }}{% endfor %}{{ b.c }}"),
    ]
    assert declared_variables(messages) == ["a", "b", "docs"]


def test_a_flow_has_no_messages_to_render(world: World, client: TestClient) -> None:
    from tests.prompts.support import flow

    push(client, world, {"name": "rag", "kind": "flow", "flow": flow()})
    resp = client.post(url(rest="/rag/render"), json={"variables": {"question": "q"}},
                       headers=world.headers("owner"))  # fmt: skip
    assert (resp.status_code, resp.json()["code"]) == (422, "prompt_not_renderable")
