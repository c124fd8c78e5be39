"""Flow definitions: a small DAG of llm, prompt and python nodes, checked against a JSON schema."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from governance.core.errors import InvalidInput

MAX_NODES = 64
_IDENT = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_REF = re.compile(r"^\$\{(inputs|[A-Za-z_][A-Za-z0-9_]{0,63})\.([A-Za-z_][A-Za-z0-9_]{0,63})\}$")
_PORT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"enum": ["string", "int", "double", "bool", "list", "object"]},
        "description": {"type": "string", "maxLength": 1000},
        "default": {},
    },
}
_SOURCES: dict[str, dict[str, Any]] = {
    # An llm node calls a model; a prompt node renders a stored prompt (name, name@3 or
    # name@alias); a python node names a tool by reference only: Steward never runs it.
    "llm": {"required": ["model"], "properties": {"model": {"type": "string", "maxLength": 200}}},
    "prompt": {
        "required": ["prompt"],
        "properties": {"prompt": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"}},
    },
    "python": {
        "required": ["tool"],
        "properties": {"tool": {"type": "string", "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"}},
    },
}
FLOW_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Steward flow definition",
    "type": "object",
    "additionalProperties": False,
    "required": ["nodes", "outputs"],
    "properties": {
        "description": {"type": "string", "maxLength": 4000},
        "inputs": {
            "type": "object",
            "propertyNames": {"pattern": _IDENT},
            "additionalProperties": _PORT,
            "maxProperties": 64,
        },
        "outputs": {
            "type": "object",
            "propertyNames": {"pattern": _IDENT},
            "additionalProperties": {"type": "string", "pattern": _REF.pattern},
            "minProperties": 1,
            "maxProperties": 64,
        },
        "nodes": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_NODES,
            "items": {
                "type": "object",
                "required": ["name", "type", "source"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": _IDENT},
                    "type": {"enum": sorted(_SOURCES)},
                    "source": {"type": "object"},
                    "inputs": {
                        "type": "object",
                        "propertyNames": {"pattern": _IDENT},
                        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                        "maxProperties": 64,
                    },
                    "parameters": {"type": "object", "maxProperties": 32},
                },
                "allOf": [
                    {
                        "if": {"properties": {"type": {"const": kind}}},
                        "then": {
                            "properties": {
                                "source": {
                                    **source,
                                    "type": "object",
                                    "additionalProperties": False,
                                }
                            }
                        },
                    }
                    for kind, source in _SOURCES.items()
                ],
            },
        },
    },
}


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(FLOW_SCHEMA)


def _invalid(detail: str, where: str = "") -> InvalidInput:
    return InvalidInput(detail, code="prompt_flow_invalid", field="flow", path=where)


def validate_flow(flow: Mapping[str, Any]) -> list[str]:
    """Check a flow document (schema, references, no cycle); return its input names, sorted."""
    errors = sorted(_validator().iter_errors(flow), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path)
        raise _invalid(f"flow/{where}: {first.message}"[:500], where)
    nodes: list[dict[str, Any]] = list(flow["nodes"])
    names = [n["name"] for n in nodes]
    if len(set(names)) != len(names):
        raise _invalid("node names must be unique", "nodes")
    inputs = set(flow.get("inputs", {}))
    deps = {n["name"]: _node_deps(n, inputs, set(names)) for n in nodes}
    for output, ref in flow["outputs"].items():
        _check_ref(ref, inputs, set(names), f"outputs/{output}")
    _check_acyclic(deps)
    return sorted(inputs)


def _node_deps(node: Mapping[str, Any], inputs: set[str], names: set[str]) -> set[str]:
    found: set[str] = set()
    for key, value in node.get("inputs", {}).items():
        if isinstance(value, str) and value.startswith("${"):
            source = _check_ref(value, inputs, names, f"nodes/{node['name']}/inputs/{key}")
            if source is not None:
                found.add(source)
    return found


def _check_ref(ref: str, inputs: set[str], names: set[str], where: str) -> str | None:
    # The node a reference reads from (None for a flow input); refuses a dangling one.
    match = _REF.fullmatch(ref)
    if match is None:
        raise _invalid(f"{where}: a reference is ${{inputs.NAME}} or ${{NODE.output}}", where)
    head, tail = match.groups()
    if head == "inputs":
        if tail not in inputs:
            raise _invalid(f"{where}: no flow input {tail!r}", where)
        return None
    if head not in names:
        raise _invalid(f"{where}: no node {head!r}", where)
    return head


def _check_acyclic(deps: Mapping[str, set[str]]) -> None:
    # Kahn's algorithm: whatever is never freed sits on a cycle.
    waiting = {name: set(d) for name, d in deps.items()}
    ready = [name for name, d in waiting.items() if not d]
    while ready:
        done = ready.pop()
        for name, d in waiting.items():
            if done in d:
                d.discard(done)
                if not d:
                    ready.append(name)
    stuck = sorted(name for name, d in waiting.items() if d)
    if stuck:
        raise _invalid(f"the flow has a cycle through {', '.join(stuck)}", "nodes")
