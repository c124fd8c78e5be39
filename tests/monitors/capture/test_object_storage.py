"""The capture store on an S3-compatible server (moto) behaves as it does on a local folder.

Ingest, publication, recovery, retention and the capture -> monitor path run against a bucket;
a monitor run over S3-stored traffic gives the same outcomes as over the same traffic on disk.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from governance.core.errors import Conflict, InvalidInput, InvalidState
from governance.core.paths import Unconfined
from governance.core.principal import Principal
from lineage import service as lineage
from lineage.objectdata import dataset_location, read_dataset_table
from lineage.schemas import DatasetVersion
from lineage.storage import Location, open_location
from lineage.upload import PARQUET_TYPES
from monitors.capture import service
from monitors.capture.files import ParquetCaptureStore
from monitors.capture.schemas import CaptureKind
from monitors.capture.source import LineageSchemaSource
from steward.api.app import build_services, create_app
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.conftest import DatabaseFactory, make_settings
from tests.monitors.capture.conftest import T0, bulk_table, json_body, records
from tests.monitors.runs.traffic import (
    AGE_SEX,
    age_sex_day,
    age_sex_reference,
    apply_yaml,
    deploy,
    register_reference,
    run_day,
    send,
)

if TYPE_CHECKING:  # the module is a plugin: imported by pytest, assertions rewritten
    from tests.objectstore import S3Bucket

pytest_plugins = ["tests.objectstore"]  # the s3 fixtures

APP = Principal(id=None, name="app-developer-user")
MONITOR = """
name: drift
target: {name: scorer}
reference: {dataset: ref}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - {kind: data_drift, name: drift}
  - {kind: prediction_drift, name: pd}
  - {kind: data_quality, name: quality}
"""


@pytest.fixture
def s3_files(s3: S3Bucket) -> ParquetCaptureStore:
    """A capture store in a fresh bucket."""
    return ParquetCaptureStore(s3.uri)


def _ingest(services: Services, files: ParquetCaptureStore, body: bytes) -> Any:
    return service.ingest_inferences(
        services.db, files=files, schemas=LineageSchemaSource(), project="alpha",
        endpoint="income-api", body=body, content_type="application/json", actor=APP,
    )  # fmt: skip


def _rows(n: int) -> pa.Table:
    table = bulk_table(n)
    return table.set_column(1, "timestamp", table.column(1).cast(pa.timestamp("us", tz="UTC")))


def _window(files: ParquetCaptureStore) -> Any:
    return service.read_window(
        files, project="alpha", endpoint="income-api", start=T0, end=T0 + timedelta(days=3)
    )


def test_ingest_publishes_objects_readers_list(
    services: Services, endpoint: str, s3_files: ParquetCaptureStore, s3: S3Bucket,
) -> None:  # fmt: skip
    first = _ingest(services, s3_files, json_body(records(30)))
    again = _ingest(services, s3_files, json_body(records(30)))
    _ingest(services, s3_files, json_body(records(20, at=T0 + timedelta(days=1), prefix="n")))
    assert again.duplicate and again.batch_id == first.batch_id
    assert isinstance(s3_files.filesystem, pafs.S3FileSystem)
    keys = s3.keys()
    assert len(keys) == 2 and all("/part-" in k for k in keys)
    assert keys[0].startswith(
        "steward/inferences/project=alpha/endpoint=income-api/day=2026-03-01/"
    )
    paths = s3_files.files(CaptureKind.inference, "alpha", "income-api", ["2026-03-01"])
    assert paths == [f"{s3.bucket}/{keys[0]}"]  # paths on the filesystem, not URIs
    table = _window(s3_files)
    assert table.num_rows == 50
    assert s3_files.days(CaptureKind.inference, "alpha", "income-api") == [
        "2026-03-01",
        "2026-03-02",
    ]
    assert s3_files.endpoints(CaptureKind.inference) == [("alpha", "income-api")]


def test_names_are_escaped_and_checked_on_s3(s3_files: ParquetCaptureStore) -> None:
    with pytest.raises(InvalidInput):
        s3_files.endpoint_dir(CaptureKind.inference, "alpha", "../etc")
    with pytest.raises(InvalidInput):
        s3_files.day_dir(CaptureKind.inference, "alpha", "e", "../../x")
    path = s3_files.endpoint_dir(CaptureKind.inference, "alpha", "a/b:c")
    assert path.name == "endpoint=a%2Fb%3Ac"
    assert str(path).startswith(f"{s3_files.location.base}/inferences/")
    with pytest.raises(InvalidState):
        _ = s3_files.root  # no local folder to hand out


def test_credentials_never_ride_in_the_uri(s3: S3Bucket) -> None:
    for uri in (
        f"s3://key:secret@bucket/p?endpoint_override={s3.server.endpoint}",
        "s3://bucket/p?secret_key=x&access_key=y",
        "s3:///no-bucket",
    ):
        with pytest.raises(InvalidInput):
            open_location(uri)
    assert open_location("relative/folder").local


def test_staged_batch_is_invisible_until_published_and_recovery_is_idempotent(
    services: Services, endpoint: str, s3_files: ParquetCaptureStore, s3: S3Bucket,
) -> None:  # fmt: skip
    batch = uuid.uuid4()
    days = s3_files.stage(
        CaptureKind.inference, "alpha", "income-api", batch, _rows(10), "timestamp"
    )
    assert _window(s3_files).num_rows == 0  # pending: never listed
    (pending,) = s3.keys()
    # A publish cut short between its copy and its delete: both objects exist.
    fs, folder = s3_files.filesystem, pending.rsplit("/", 1)[0]
    fs.copy_file(f"{s3.bucket}/{pending}", f"{s3.bucket}/{folder}/part-{batch.hex}.parquet")
    assert _window(s3_files).num_rows == 10
    s3_files.publish(CaptureKind.inference, "alpha", "income-api", batch, days)
    s3_files.publish(CaptureKind.inference, "alpha", "income-api", batch, days)
    assert s3.keys() == [f"{folder}/part-{batch.hex}.parquet"]
    assert _window(s3_files).num_rows == 10
    stale = uuid.uuid4()
    s3_files.stage(CaptureKind.inference, "alpha", "income-api", stale, _rows(3), "timestamp")
    assert service.recover_pending(services.db, files=s3_files, older_than=-60) == 1
    assert _window(s3_files).num_rows == 10  # an unrecorded batch is dropped, not published
    assert len(s3.keys()) == 1


def test_retention_deletes_days_on_s3(
    services: Services, endpoint: str, s3_files: ParquetCaptureStore, s3: S3Bucket,
) -> None:  # fmt: skip
    for day in range(3):
        _ingest(
            services, s3_files, json_body(records(5, at=T0 + timedelta(days=day), prefix=f"{day}"))
        )
    assert s3_files.delete_day(CaptureKind.inference, "alpha", "income-api", "2026-03-01") == 1
    assert s3_files.days(CaptureKind.inference, "alpha", "income-api") == [
        "2026-03-02",
        "2026-03-03",
    ]
    assert _window(s3_files).num_rows == 10
    assert not any("day=2026-03-01" in k for k in s3.keys())


# The capture -> monitor path: the same traffic through two deployments, one per store.


@dataclass
class Deployment:
    """A second, complete Steward (database, app, client) configured by the test."""

    services: Services
    client: TestClient
    url: str


@pytest.fixture
def s3_deployment(
    tmp_path: Path,
    database_factory: DatabaseFactory,
    s3: S3Bucket,
    world: World,
) -> Iterator[Deployment]:
    """Steward with its capture store in the bucket (its own database and home)."""
    url = database_factory.new(tmp_path / "s3home", world=True)
    settings = make_settings(tmp_path / "s3home", url, capture_uri=s3.uri)
    services = build_services(settings)
    app = create_app(services=services, seal_in_background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Deployment(services=services, client=client, url=url)
    services.db.dispose()
    database_factory.drop(url)


# What differs between two deployments whatever their stores: ids, clocks, durations.
_VOLATILE = {"id", "run_id", "lineage_ref", "started_at", "finished_at", "duration_seconds",
             "created_at", "computed_at"}  # fmt: skip


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _monitor_outcomes(client: TestClient, world: World, services: Services) -> Any:
    deploy(services, AGE_SEX)
    register_reference(client, world, services.settings, age_sex_reference(600))
    for day, shift in ((0, 0.0), (1, 0.0), (2, 15.0)):
        send(client, world, age_sex_day(day, 400, shift=shift, minutes=3))
    r = apply_yaml(client, world, MONITOR)
    assert r.status_code == 200, r.text
    runs = [run_day(client, world, "drift", day) for day in range(3)]
    r = client.get(
        "/api/v1/projects/alpha/monitors/drift/results?limit=100",
        headers=world.headers("ml-engineer"),
    )
    assert r.status_code == 200, r.text
    results = _stable(r.json()["items"])
    assert isinstance(results, list)
    return {"runs": _stable(runs), "results": sorted(results, key=repr)}


def test_monitor_runs_on_s3_equal_runs_on_disk(
    client: TestClient, world: World, services: Services, s3_deployment: Deployment,
    s3: S3Bucket,
) -> None:  # fmt: skip
    on_disk = _monitor_outcomes(client, world, services)
    on_s3 = _monitor_outcomes(s3_deployment.client, world, s3_deployment.services)
    assert on_s3 == on_disk
    drift = [run["summary"]["drift"] for run in on_s3["runs"]]
    assert [d["breached"] for d in drift] == [False, False, True]  # the shifted day, only
    assert [run["row_count"] for run in on_s3["runs"]] == [400, 400, 400]
    assert len(on_s3["results"]) >= 9  # statistics per signal, compared above
    assert sum("/part-" in k for k in s3.keys()) == 3  # one file per day
    data_dir = s3_deployment.services.settings.data_dir
    assert data_dir is not None and not (data_dir / "inferences").exists()


# Dataset versions in the object store (Settings.dataset_uri).


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _upload(services: Services, store: Location, body: bytes, **kw: Any) -> DatasetVersion:
    return lineage.upload_dataset_version(
        services.db, project="alpha", name="ref", chunks=[body], media_type=PARQUET_TYPES[0],
        roots=services.settings.dataset_roots, actor=OPERATOR, store=store, **kw,
    )  # fmt: skip


def test_a_dataset_upload_lands_in_the_bucket_once_and_reads_back(
    services: Services, world: World, s3: S3Bucket
) -> None:
    store = dataset_location(s3.uri)
    assert store is not None
    table = pa.table({"age": [31.0, 45.5, 60.0], "sex": ["F", "M", "F"]})
    body = _parquet(table)
    sha = hashlib.sha256(body).hexdigest()
    version = _upload(services, store, body)
    key = f"steward/alpha/uploads/{sha}.parquet"
    assert version.uri == f"s3://{s3.bucket}/{key}" and version.row_count == 3
    assert s3.keys() == [key]  # no staging object left behind
    roots = services.settings.dataset_roots
    assert read_dataset_table(version.uri, project="alpha", roots=roots, location=store) == table
    assert _upload(services, store, body).id == version.id
    other = _parquet(table.slice(1))
    with pytest.raises(Conflict):  # the same version with other bytes: refused, nothing kept
        _upload(services, store, other, version=version.version)
    assert s3.keys() == [key]


def test_object_locations_are_confined_to_the_projects_prefix(
    services: Services, world: World, s3: S3Bucket
) -> None:
    store = dataset_location(s3.uri)
    assert store is not None
    body = _parquet(pa.table({"x": [1, 2]}))
    for key in ("steward/alpha/raw/a.parquet", "steward/beta/raw/b.parquet", "elsewhere.parquet"):
        # the bucket holds each of them: a refusal is not mere absence
        with store.filesystem.open_output_stream(f"{s3.bucket}/{key}") as out:
            out.write(body)
    roots = services.settings.dataset_roots
    ok = f"s3://{s3.bucket}/steward/alpha/raw/a.parquet"
    assert read_dataset_table(ok, project="alpha", roots=roots, location=store).num_rows == 2
    for uri in (
        f"s3://{s3.bucket}/steward/beta/raw/b.parquet",
        f"s3://{s3.bucket}/steward/alpha/../beta/raw/b.parquet",
        f"s3://{s3.bucket}/steward/alpha//raw/a.parquet",
        f"s3://{s3.bucket}/elsewhere.parquet",
        "s3://other-bucket/steward/alpha/raw/a.parquet",
        f"{ok}?versionId=1",
        f"gs://{s3.bucket}/steward/alpha/raw/a.parquet",
        f"s3://{s3.bucket}/steward/alpha/raw/missing.parquet",
    ):
        with pytest.raises(Unconfined):
            read_dataset_table(uri, project="alpha", roots=roots, location=store)
    with pytest.raises(Unconfined):
        read_dataset_table(ok, project="alpha", roots=roots, location=None)
    version = lineage.register_dataset_version(
        services.db, project="alpha", name="raw", path=ok, roots=roots, actor=OPERATOR,
        store=store,
    )  # fmt: skip
    assert version.uri == ok and version.sha256 == hashlib.sha256(body).hexdigest()
    assert version.row_count == 2
    with pytest.raises(InvalidInput):
        dataset_location(str(services.settings.data_dir))  # local folders: dataset_roots
