"""Fixtures of the SDK tests: the real app over uvicorn, able to run the test pipeline's steps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from governance.core.settings import Settings
from steward.api.app import create_app
from steward.api.deps import Services
from steward.client import RetryPolicy, Steward
from tests.builders import World
from tests.conftest import make_settings
from tests.retrain.pipelines.inline import InlineRunner

FAST = RetryPolicy(attempts=3, backoff=0.01, max_wait=0.05)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings whose pipelines may run the pipeline tests' steps."""
    return make_settings(tmp_path / "home", db_url, pipeline_modules=["tests.retrain.pipelines"])


@pytest.fixture
def app(services: Services) -> FastAPI:
    """The real application; its pipeline worker runs steps in process."""
    return create_app(services=services, seal_in_background=False, pipeline_runner=InlineRunner())


def sdk(server: str, token: str, project: str | None = "alpha", **kw: object) -> Steward:
    """An SDK client of ``server`` with ``token``, retrying fast."""
    return Steward(server, token, project=project, **{"retry": FAST, **kw})  # type: ignore[arg-type]


@pytest.fixture
def steward(server: str, world: World) -> Iterator[Steward]:
    """The SDK as the ml-engineer of project 'alpha', over real HTTP."""
    with sdk(server, world.tokens["ml-engineer"]) as client:
        yield client


@pytest.fixture
def admin(server: str, world: World) -> Iterator[Steward]:
    """The SDK as the admin (owner of 'alpha' and '_system')."""
    with sdk(server, world.admin_token) as client:
        yield client
