"""One seeded server and one headless Chromium per test module (the system browser)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from governance.core.clock import ManualClock
from steward.api.app import build_services, create_app
from steward.api.deps import Services
from tests.builders import World
from tests.conftest import DatabaseFactory, make_settings, serve
from tests.console.seed import T0, Seeded, seed
from tests.retrain.pipelines.inline import InlineRunner

ISSUER = "https://idp.example.test/realms/steward"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


@dataclass(frozen=True, kw_only=True)
class Live:
    """The running, seeded server and who is who in it."""

    url: str
    world: World
    services: Services
    seeded: Seeded
    oidc_token: str  # a JWT from the configured OIDC provider, for the viewer


@pytest.fixture(scope="module")
def live(
    database_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """The real app, seeded through its API (see ``tests/console/seed.py``), on a manual clock."""
    home = tmp_path_factory.mktemp("console") / "home"
    url = database_factory.new(home, world=True)
    assert database_factory.world is not None
    key = ec.generate_private_key(ec.SECP256R1())
    jwks = {"keys": [{**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1"}]}
    (home / "jwks.json").write_text(json.dumps(jwks))
    settings = make_settings(
        home, url, pipeline_modules=["tests.retrain.approvals"], oidc_issuer=ISSUER,
        oidc_audience="steward-api", oidc_jwks_file=home / "jwks.json",
    )  # fmt: skip
    clock = ManualClock(T0)
    services = build_services(settings, clock=clock)
    app = create_app(services=services, seal_in_background=False, pipeline_runner=InlineRunner())
    base, srv, thread = serve(app)
    world = database_factory.world
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            seeded = seed(http, world, services, clock)
        claims = {"sub": world.principals["viewer"].name, "iss": ISSUER, "aud": "steward-api",
                  "iat": int(time.time()), "exp": int(time.time()) + 3600}  # fmt: skip
        oidc = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})
        yield Live(url=base, world=world, services=services, seeded=seeded, oidc_token=oidc)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        services.db.dispose()
        database_factory.drop(url)


def launch_chromium(playwright: Any) -> Any:
    """The system Chromium, headless (Playwright never downloads a browser here)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "the system chromium is not installed (apt-get install chromium)"
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    return playwright.chromium.launch(executable_path=path, headless=True, args=args)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        yield chromium
        chromium.close()


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``$STEWARD_TEST_ARTIFACTS`` if set, else the test's tmp dir."""
    folder = Path(os.environ.get("STEWARD_TEST_ARTIFACTS") or tmp_path) / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
