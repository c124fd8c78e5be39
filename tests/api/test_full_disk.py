"""A full disk is a 507 with the request id, and leaves no partial or pending file behind.

The data directory of the app is a real, small tmpfs mounted for each test (the tests run as
root, as CI does). A batch that does not fit is refused whole: no temporary, pending or published
file remains, the database records no batch, and a batch that fits is stored afterwards. The
same holds for a dataset upload that does not fit.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from governance.core.db import Database
from governance.core.settings import Settings
from monitors.capture.models import CaptureBatchRow
from monitors.capture.service import ingest_counts
from steward.api.deps import Services
from tests.builders import World
from tests.conftest import make_settings
from tests.monitors.capture.conftest import T0, arrow_stream, bulk_table, deploy_endpoint

SIZE = 256 * 1024
ARROW = {"Content-Type": "application/vnd.apache.arrow.stream"}
URL = "/api/v1/projects/alpha/endpoints/income-api/inferences"


def _mount_tmpfs(folder: Path) -> None:
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            "these tests mount a small tmpfs as a full disk and must run as root (CI does): "
            f"mount failed: {done.stderr.strip()}"
        )


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A real tmpfs of SIZE bytes, unmounted after the test."""
    folder = tmp_path / "disk"
    folder.mkdir()
    _mount_tmpfs(folder)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def settings(tmp_path: Path, db_url: str, disk: Path) -> Settings:
    """The test settings with the data directory (and the dataset root) on the small disk."""
    return make_settings(tmp_path / "home", db_url, data_dir=disk / "data")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _batches(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(CaptureBatchRow)) or 0)


def _assert_507(response: Any) -> None:
    assert response.status_code == 507, response.text
    body = response.json()
    assert body["code"] == "insufficient_storage", body
    assert body["request_id"] == response.headers["x-request-id"]
    assert "/" not in body["detail"]  # no server path


def test_a_batch_that_does_not_fit_is_507_and_leaves_nothing(
    client: TestClient, world: World, services: Services, disk: Path
) -> None:
    deploy_endpoint(services)
    headers = {**world.headers("app-developer"), **ARROW}
    big = arrow_stream(bulk_table(200_000))
    _assert_507(client.post(URL, content=big, headers=headers))
    assert _files(disk) == []
    assert _batches(services.db) == 0
    assert all(c.batches == 0 for c in ingest_counts(services.db))
    # The space of the refused batch is free again: a batch that fits is stored.
    small = client.post(URL, content=arrow_stream(bulk_table(50)), headers=headers)
    assert small.status_code == 201, small.text
    assert [Path(f).name.startswith("part-") for f in _files(disk)] == [True]
    assert _batches(services.db) == 1


def test_a_batch_over_several_days_is_refused_whole(
    client: TestClient, world: World, services: Services, disk: Path
) -> None:
    deploy_endpoint(services)
    # Day one is small and fits; day two does not: day one's staged file must go too.
    first = bulk_table(10, prefix="a")
    second = bulk_table(200_000, at=T0 + timedelta(days=1), prefix="b")
    body = arrow_stream(pa.concat_tables([first, second]))
    headers = {**world.headers("app-developer"), **ARROW}
    _assert_507(client.post(URL, content=body, headers=headers))
    assert _files(disk) == []
    assert _batches(services.db) == 0


def test_a_dataset_upload_that_does_not_fit_is_507_and_leaves_nothing(
    client: TestClient, world: World, settings: Settings, db: Database, disk: Path
) -> None:
    url = "/api/v1/projects/alpha/datasets/train/versions/v1/file"
    headers = {**world.headers("data-scientist"), "Content-Type": "application/octet-stream"}
    r = client.put(url, content=bytes(range(256)) * (2 * SIZE // 256), headers=headers)
    _assert_507(r)
    assert [f for f in _files(disk) if not f.endswith("/.lock")] == []
    datasets = client.get("/api/v1/projects/alpha/datasets", headers=world.headers("viewer"))
    assert datasets.json() == []
    fits = client.put(url, content=b"small enough", headers=headers)
    assert fits.status_code == 201, fits.text
