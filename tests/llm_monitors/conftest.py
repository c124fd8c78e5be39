"""Fixtures of the LLM monitor tests: settings whose URL guard lets the judge be on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.core.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings allowing the local fake judge server (the SSRF guard refuses loopback else)."""
    return make_settings(tmp_path / "home", db_url, webhook_allowlist=["127.0.0.1"])
