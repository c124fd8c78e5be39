"""Fixtures of the pipeline tests: settings allowing the test steps, an app running them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI

from governance.core.settings import Settings
from lineage import service as lineage
from steward.api.app import create_app
from steward.api.deps import Services
from tests.builders import OPERATOR
from tests.conftest import make_settings
from tests.retrain.pipelines.inline import InlineRunner


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings whose pipelines may run the test steps and the example."""
    modules = ["tests.retrain.pipelines", "steward.demo.pipeline"]
    return make_settings(
        tmp_path / "home", db_url, pipeline_modules=modules, pipeline_step_timeout_seconds=120
    )


@pytest.fixture
def runner() -> InlineRunner:
    """The runner the app's worker executes steps on."""
    return InlineRunner()


@pytest.fixture
def app(services: Services, runner: InlineRunner) -> FastAPI:
    """The real application, its pipeline worker on ``runner``."""
    return create_app(services=services, seal_in_background=False, pipeline_runner=runner)


def table(rows: int = 200, seed: int = 0) -> pa.Table:
    """Seeded rows: two features and a label they predict."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    label = ((x1 + 0.5 * x2 + rng.normal(scale=0.3, size=rows)) > 0).astype(np.int64)
    return pa.table({"x1": x1, "x2": x2, "label": label})


def register_dataset(services: Services, project: str, name: str, data: pa.Table) -> str:
    """Upload ``data`` as a version of dataset ``name``; its version."""
    path = Path(services.settings.home) / f"{name}.parquet"
    pq.write_table(data, path)
    found = lineage.upload_dataset_version(
        services.db, project=project, name=name, chunks=[path.read_bytes()],
        media_type="application/vnd.apache.parquet", roots=services.settings.dataset_roots,
        actor=OPERATOR,
    )  # fmt: skip
    return found.version


@pytest.fixture
def training(services: Services, world: object) -> Iterator[str]:
    """Dataset 'train-data' in 'alpha' (and another in 'beta' with the same name)."""
    version = register_dataset(services, "alpha", "train-data", table())
    register_dataset(services, "beta", "secret-data", table(50, seed=9))
    yield version
