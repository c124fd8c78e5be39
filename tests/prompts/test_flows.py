"""Flow definitions: schema, references and cycles are checked before a version is stored."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import World
from tests.prompts.support import flow, push, url


def _bad(**change: Any) -> dict[str, Any]:
    return flow(**change)


def _cycle() -> dict[str, Any]:
    document = flow()
    nodes = copy.deepcopy(document["nodes"])
    nodes[0]["inputs"]["previous"] = "${answer.output}"
    return {**document, "nodes": nodes}


def _dangling() -> dict[str, Any]:
    document = flow()
    nodes = copy.deepcopy(document["nodes"])
    nodes[1]["inputs"]["chat"] = "${nowhere.output}"
    return {**document, "nodes": nodes}


INVALID = {
    "no nodes": _bad(nodes=[]),
    "no outputs": {k: v for k, v in flow().items() if k != "outputs"},
    "unknown node type": _bad(nodes=[{"name": "x", "type": "shell", "source": {}}]),
    "llm without model": _bad(nodes=[{"name": "answer", "type": "llm", "source": {"tool": "a:b"}}]),
    "python tool not a reference": _bad(
        nodes=[{"name": "answer", "type": "python", "source": {"tool": "import os"}}]
    ),
    "output not a reference": _bad(outputs={"answer": "answer.output"}),
    "unknown flow input": _bad(outputs={"answer": "${inputs.nothing}"}),
    "extra top-level key": _bad(run="rm -rf /"),
    "cycle": _cycle(),
    "dangling node": _dangling(),
    "duplicate names": _bad(nodes=[flow()["nodes"][1], flow()["nodes"][1]]),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_flows_are_refused(case: str, world: World, client: TestClient) -> None:
    resp = client.post(url(), json={"name": "rag", "kind": "flow", "flow": INVALID[case]},
                       headers=world.headers("owner"))  # fmt: skip
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "prompt_flow_invalid"


def test_a_valid_flow_is_stored_with_its_inputs_as_variables(
    world: World, client: TestClient
) -> None:
    version = push(client, world, {"name": "rag", "kind": "flow", "flow": flow(), "model": "gpt"})
    assert (version["kind"], version["variables"], version["messages"]) == (
        "flow",
        ["question"],
        [],
    )
    assert version["flow"] == flow()
    same = client.post(url(), json={"name": "rag", "kind": "flow", "flow": flow(), "model": "gpt"},
                       headers=world.headers("owner"))  # fmt: skip
    assert same.status_code == 200 and same.json()["version"] == 1


def test_a_flow_and_a_prompt_need_their_own_content(world: World, client: TestClient) -> None:
    h = world.headers("owner")
    assert client.post(url(), json={"name": "rag", "kind": "flow"}, headers=h).status_code == 422
    both = {"name": "rag", "kind": "flow", "flow": flow(),
            "messages": [{"role": "user", "content": "x"}]}  # fmt: skip
    assert client.post(url(), json=both, headers=h).status_code == 422
