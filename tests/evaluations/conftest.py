"""Fixtures of the evaluation-run tests: settings allowing the built-in step and the fake LLM."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from steward.api.deps import Services
from tests.builders import World
from tests.conftest import make_settings
from tests.evaluations.scenario import llm_server, scenario
from tests.llm.fakellm import FakeLLM


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings whose pipelines may run the evaluation step and whose guard allows 127.0.0.1."""
    return make_settings(
        tmp_path / "home", db_url, pipeline_modules=["retrain.evaluation.step"],
        webhook_allowlist=["127.0.0.1"], pipeline_step_timeout_seconds=300,
    )  # fmt: skip


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    """The fake OpenAI-compatible server of the scenario."""
    with llm_server() as server:
        yield server


@pytest.fixture
def setup(client: TestClient, services: Services, world: World, llm: FakeLLM) -> World:
    """The scenario's dataset, prompts and connections in project 'alpha'."""
    return scenario(client, services, world, llm)
