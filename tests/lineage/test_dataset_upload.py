"""A dataset version's bytes uploaded to Steward, through the real HTTP app.

The bytes land as a 0600 file under ``<dataset root>/<project>/uploads``, hashed by Steward as
they arrive, and the version is registered exactly as one named by location (same answer, same
audit entry); a hash mismatch, an oversized or unreadable body, another project or a version
holding other bytes is refused with nothing left behind, and a monitor run reads what was
uploaded.
"""

from __future__ import annotations

import hashlib
import io
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.errors import InvalidInput, TooLarge
from governance.core.settings import Settings
from lineage import service
from lineage.schemas import EndpointCreate
from monitors.runs.adapters import LineageReferenceLoader
from monitors.runs.schemas import RunStatus
from monitors.runs.service import run_now
from monitors.runs.sources import (
    MemoryAlertSink,
    NoLineage,
    ProfileCache,
    RunEnvironment,
    TableWindowReader,
)
from monitors.specs.schemas import MonitorSpec, Reference, Schedule, Target
from monitors.specs.service import create_monitor
from tests.builders import OPERATOR, World
from tests.conftest import make_settings
from tests.lineage.conftest import ACTOR
from tests.monitors.runs.synthetic import reference_table, traffic

DATASETS = "/api/v1/projects/alpha/datasets"
PARQUET = {"Content-Type": "application/vnd.apache.parquet"}
BODY_LIMIT = 64 * 1024
START = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """The test settings with a small upload limit, so that an oversized upload is cheap."""
    return make_settings(tmp_path / "home", db_url, max_ingest_body_bytes=BODY_LIMIT)


def _parquet(table: pa.Table | None = None) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table if table is not None else pa.table({"x": [1.0, 2.0, 3.0]}), sink)
    return sink.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _put(
    client: TestClient,
    world: World,
    data: Any,
    *,
    name: str = "train",
    version: str = "v1",
    role: str = "data-scientist",
    project: str = "alpha",
    headers: dict[str, str] | None = None,
    **params: str,
) -> Any:
    url = f"/api/v1/projects/{project}/datasets/{name}/versions/{version}/file"
    sent = {**world.headers(role), **(PARQUET if headers is None else headers)}
    return client.put(url, content=data, params=params, headers=sent)


def _uploads(settings: Settings, project: str = "alpha") -> Path:
    return settings.dataset_roots[0] / project / "uploads"


def _stored(settings: Settings, project: str = "alpha") -> list[str]:
    """Every file under the project's dataset folder but the uploads lock."""
    folder = settings.dataset_roots[0] / project
    if not folder.exists():
        return []
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != ".lock"
    )


def _registrations(db: Database) -> list[Any]:
    flt = AuditFilter(action="dataset.register")
    return list(list_audit(db, flt=flt, cursor=None, limit=50).items)


def _assert_nothing_stored(
    client: TestClient, world: World, settings: Settings, db: Database
) -> None:
    assert _stored(settings) == []
    assert client.get(DATASETS, headers=world.headers("viewer")).json() == []
    assert _registrations(db) == []


def test_an_upload_is_stored_0600_and_registered_like_a_location(
    client: TestClient, world: World, settings: Settings, db: Database
) -> None:
    data = _parquet()
    r = _put(client, world, data, sha256=_sha(data), description="uploaded")
    assert r.status_code == 201, r.text
    got = r.json()
    stored = _uploads(settings) / f"{_sha(data)}.parquet"
    assert got["uri"] == stored.resolve().as_uri() and got["version"] == "v1"
    assert got["sha256"] == _sha(data) and got["row_count"] == 3
    assert [c["name"] for c in got["columns"]] == ["x"]
    assert stored.read_bytes() == data
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    for folder in (settings.dataset_roots[0], stored.parent.parent, stored.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert _stored(settings) == [f"uploads/{_sha(data)}.parquet"]  # no temporary file remains
    # The same bytes named by location: the same answer and the same audit entry, field by field.
    located = settings.dataset_roots[0] / "alpha" / "copy.parquet"
    located.write_bytes(data)
    body = {"name": "copy", "uri": str(located), "version": "v1", "sha256": _sha(data)}
    by_location = client.post(DATASETS, json=body, headers=world.headers("data-scientist"))
    assert by_location.status_code == 201, by_location.text
    other = by_location.json()
    assert set(other) == set(got)
    same = {"sha256", "columns", "row_count", "version", "namespace", "project"}
    assert {k: other[k] for k in same} == {k: got[k] for k in same}
    first, second = _registrations(db)
    assert (first.action, first.project, first.details) == (
        second.action,
        second.project,
        second.details,
    )
    assert first.target == "dataset:alpha/train@v1" and first.actor == second.actor


def test_the_same_upload_again_is_the_same_version_and_other_bytes_are_a_conflict(
    client: TestClient, world: World, settings: Settings
) -> None:
    data = _parquet()
    first = _put(client, world, data)
    assert first.status_code == 201, first.text
    again = _put(client, world, data)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = _parquet(pa.table({"x": [9.0]}))
    clash = _put(client, world, other)
    assert clash.status_code == 409 and clash.json()["code"] == "conflict", clash.text
    assert _stored(settings) == [f"uploads/{_sha(data)}.parquet"]
    # Another version with the same bytes shares the stored file.
    second = _put(client, world, data, version="v2")
    assert second.status_code == 201 and second.json()["uri"] == first.json()["uri"]


def test_a_declared_hash_that_differs_is_422_and_leaves_nothing(
    client: TestClient, world: World, settings: Settings, db: Database
) -> None:
    r = _put(client, world, _parquet(), sha256="f" * 64)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input", r.text
    assert "sha256" in r.json()["detail"]
    _assert_nothing_stored(client, world, settings, db)


@pytest.mark.parametrize(
    ("content_type", "body", "words"),
    [
        ("application/vnd.apache.parquet", b"PAR1 not really parquet PAR1", "not a readable"),
        ("application/x-parquet", b"", "empty"),
        ("application/zip", b"PK\x03\x04", "unsupported media type"),
    ],
    ids=["garbage parquet", "empty", "zip"],
)
def test_an_unusable_body_is_422_and_leaves_nothing(
    client: TestClient,
    world: World,
    settings: Settings,
    db: Database,
    content_type: str,
    body: bytes,
    words: str,
) -> None:
    r = _put(client, world, body, headers={"Content-Type": content_type})
    assert r.status_code == 422 and r.json()["code"] == "invalid_input", r.text
    assert words in r.json()["detail"]
    _assert_nothing_stored(client, world, settings, db)


def _chunks(size: int) -> Iterator[bytes]:
    for _ in range(size // 4096):
        yield b"\x01" * 4096


def test_an_oversized_upload_is_413_and_leaves_nothing(
    client: TestClient, world: World, settings: Settings, db: Database
) -> None:
    octets = {"Content-Type": "application/octet-stream"}
    declared = _put(client, world, b"\x01" * (BODY_LIMIT + 1), headers=octets)
    assert declared.status_code == 413 and declared.json()["code"] == "payload_too_large"
    chunked = _put(client, world, _chunks(2 * BODY_LIMIT), headers=octets)  # no Content-Length
    assert chunked.status_code == 413 and chunked.json()["code"] == "payload_too_large"
    _assert_nothing_stored(client, world, settings, db)


def test_the_service_bounds_the_bytes_it_takes_in_process_too(
    db: Database, settings: Settings
) -> None:
    with pytest.raises(TooLarge):
        service.upload_dataset_version(
            db, project="alpha", name="big", version="v1", chunks=_chunks(64 * 1024),
            media_type="application/octet-stream", roots=settings.dataset_roots,
            max_bytes=10_000, actor=ACTOR,
        )  # fmt: skip
    assert _stored(settings) == []


def test_a_csv_upload_is_read_for_its_schema(
    client: TestClient, world: World, settings: Settings
) -> None:
    data = b"age,income\n31,>50K\n45,<=50K\n"
    r = _put(client, world, data, headers={"Content-Type": "text/csv; charset=utf-8"})
    assert r.status_code == 201, r.text
    assert r.json()["row_count"] == 2 and [c["name"] for c in r.json()["columns"]] == [
        "age",
        "income",
    ]
    assert _stored(settings) == [f"uploads/{_sha(data)}.csv"]


def test_another_projects_upload_is_404_and_a_viewer_403_with_nothing_written(
    client: TestClient, world: World, settings: Settings, db: Database
) -> None:
    data = _parquet()
    theirs = _put(client, world, data, project="beta")
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found", theirs.text
    outsider = {"Authorization": f"Bearer {world.outsider_token}", **PARQUET}
    url = f"{DATASETS}/train/versions/v1/file"
    r = client.put(url, content=data, headers=outsider)
    assert r.status_code == 404 and r.json()["code"] == "not_found", r.text
    viewer = _put(client, world, data, role="viewer")
    assert viewer.status_code == 403 and viewer.json()["code"] == "permission_denied"
    assert _stored(settings, "beta") == []
    _assert_nothing_stored(client, world, settings, db)


def test_a_link_planted_as_the_uploads_folder_is_not_followed(
    client: TestClient, world: World, settings: Settings, db: Database
) -> None:
    theirs = settings.dataset_roots[0] / "beta"
    theirs.mkdir(parents=True)
    (settings.dataset_roots[0] / "alpha").mkdir()
    _uploads(settings).symlink_to(theirs)
    r = _put(client, world, _parquet())
    assert r.status_code == 422 and r.json()["code"] == "invalid_input", r.text
    assert list(theirs.iterdir()) == []
    assert _registrations(db) == []


def test_a_monitor_run_reads_the_uploaded_reference(
    client: TestClient, world: World, settings: Settings, db: Database
) -> None:
    r = _put(client, world, _parquet(reference_table()))
    assert r.status_code == 201 and r.json()["row_count"] == 2000, r.text
    service.create_endpoint(db, project="alpha", data=EndpointCreate(name="scorer"), actor=ACTOR)
    spec = MonitorSpec(
        name="drift",
        target=Target(name="scorer"),
        reference=Reference(dataset="train"),
        schedule=Schedule(interval=HOUR, start=START),
    )
    create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)
    env = RunEnvironment(
        windows=TableWindowReader({"scorer": traffic(START, windows=6)}),
        references=LineageReferenceLoader(db, settings),
        alerts=MemoryAlertSink(),
        lineage=NoLineage(),
        profiles=ProfileCache(),
    )
    report = run_now(
        db, project="alpha", name="drift", env=env, window_end=START + 2 * HOUR,
        clock=ManualClock(START + 6 * HOUR),
    )  # fmt: skip
    assert report.run.status is RunStatus.succeeded, report.run.error
    assert report.run.reference_rows == 2000


def test_an_unreadable_upload_in_process_names_no_server_path(
    db: Database, settings: Settings
) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.upload_dataset_version(
            db, project="alpha", name="train", chunks=[b"nope"], media_type="application/x-parquet",
            roots=settings.dataset_roots, actor=ACTOR,
        )  # fmt: skip
    assert str(settings.home) not in caught.value.detail and ".tmp-" not in caught.value.detail
    assert _stored(settings) == []
