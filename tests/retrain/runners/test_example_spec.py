"""The example's pipeline.yaml is a valid spec whose arguments the step functions take."""

from __future__ import annotations

import importlib
import inspect

import pytest

from retrain.pipelines.spec import parse_spec, validate_spec
from tests.retrain.runners.conftest import EXAMPLE


def test_the_spec_validates_and_matches_the_step_signatures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = parse_spec((EXAMPLE / "pipeline.yaml").read_bytes())
    ordered = validate_spec(spec, allowed_modules=["steward.demo.pipeline"])
    assert [s.name for s in ordered] == ["prepare", "train", "evaluate"]
    for step in spec.steps:
        module, name = step.function.split(":")
        parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
        assert next(iter(parameters)) == "ctx"
        assert set(step.inputs) <= set(parameters), step.name
        required = {n for n, p in parameters.items() if p.default is p.empty} - {"ctx"}
        assert required <= set(step.inputs), step.name
