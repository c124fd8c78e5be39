"""The SDK needs only httpx and pydantic: it imports no server package, and works without them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.builders import World

REPO = Path(__file__).resolve().parents[2]
SERVER = ("governance", "lineage", "monitors", "retrain", "fastapi", "sqlalchemy", "torch")
HEAVY = ("numpy", "pandas", "pyarrow", "polars", "steward.api", "steward.reports")
# Makes every server or frame package unimportable, as in an environment with only the extra.
BLOCK = textwrap.dedent(
    f"""
    import sys
    from importlib.abc import MetaPathFinder

    class Block(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {SERVER + HEAVY!r} or name.startswith("steward.api"):
                raise ModuleNotFoundError(f"blocked: {{name}}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_importing_the_sdk_imports_no_server_package() -> None:
    done = _python(
        "import sys, steward.client; print(' '.join(sorted(sys.modules)))", "-X", "importtime"
    )
    assert done.returncode == 0, done.stderr
    timed = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    loaded = set(done.stdout.split()) | timed
    assert "steward.client" in loaded and "httpx" in loaded and "pydantic" in loaded
    bad = sorted(m for m in loaded if m.split(".")[0] in SERVER + HEAVY or m.startswith(HEAVY))
    assert bad == []


def test_the_smoke_script_passes_where_no_server_package_can_be_imported(
    server: str, world: World
) -> None:
    code = BLOCK + textwrap.dedent(
        f"""
        import runpy
        sys.argv = ["smoke.py", "--url", {server!r}, "--token", {world.admin_token!r},
                    "--project", "alpha"]
        runpy.run_path("tests/client/smoke.py", run_name="__main__")
        """
    )
    done = _python(code)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: dataset smoke-") and "10 rows" in done.stdout


def test_offline_verification_says_what_is_missing_without_the_server_packages() -> None:
    code = BLOCK + textwrap.dedent(
        """
        from steward.client import VerificationUnavailable, verify
        try:
            verify(b"report", key="k")
        except VerificationUnavailable as exc:
            print(exc)
        """
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "steward report verify" in done.stdout and "full steward install" in done.stdout


def test_a_frame_call_without_pyarrow_says_what_to_install(server: str, world: World) -> None:
    code = BLOCK + textwrap.dedent(
        f"""
        from steward.client import Steward
        steward = Steward({server!r}, {world.admin_token!r}, project="alpha")
        try:
            steward.log_inferences("e", object())
        except ImportError as exc:
            print(exc)
        """
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "pip install pyarrow" in done.stdout
