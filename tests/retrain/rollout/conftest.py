"""Rollout tests: a small rollback limit and the loopback allowed for webhooks."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from governance.core.settings import Settings
from steward.demo.data import load_adult
from tests.conftest import make_settings

MIN_REQUESTS = 5


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Roll back after 5 requests of which half failed; webhooks may post to 127.0.0.1."""
    return make_settings(
        tmp_path / "home", db_url, rollback_min_requests=MIN_REQUESTS, rollback_error_rate=0.5,
        webhook_allowlist=["127.0.0.1"],
    )  # fmt: skip


@pytest.fixture(scope="session")
def adult() -> pa.Table:
    return load_adult().slice(0, 3000)
