"""Dataset files are read only under the project's prefix of a dataset root, and say nothing else.

Registration over the real HTTP app refuses every location outside ``<root>/<project>`` (another
project's data, system files, links and ``..`` leading out) with the same 422 as a missing or
unreadable file, hashes what it accepts itself, and writes nothing when it refuses; a monitor
run re-checks the location, so a row edited in the database cannot make it read outside.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.errors import InvalidInput
from governance.core.paths import REFUSED, Unconfined, confine
from governance.core.settings import Settings
from lineage import service
from lineage.models import NodeRow
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
from tests.lineage.conftest import ACTOR
from tests.monitors.runs.synthetic import reference_table, traffic

URL = "/api/v1/projects/alpha/datasets"
START = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _parquet(path: Path, table: pa.Table | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table if table is not None else pa.table({"x": [1.0, 2.0, 3.0]}), path)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _post(client: TestClient, world: World, uri: str, sha256: str, **extra: Any) -> Any:
    body = {"name": "train", "uri": uri, "sha256": sha256, **extra}
    return client.post(URL, json=body, headers=world.headers("data-scientist"))


@pytest.fixture
def prefix(settings: Settings) -> Path:
    """Project alpha's folder under the first dataset root."""
    folder = settings.dataset_roots[0] / "alpha"
    folder.mkdir(parents=True)
    return folder


def _outside_locations(settings: Settings, prefix: Path) -> dict[str, tuple[str, str]]:
    """Name -> (uri as a caller sends it, the sha256 of what it names when it exists)."""
    assert settings.data_dir is not None
    captured = _parquet(
        settings.data_dir / "inferences/project=beta/endpoint=api/day=2026-03-01/part-0.parquet"
    )
    theirs = _parquet(settings.dataset_roots[0] / "beta" / "train.parquet")
    locked = _parquet(prefix / "locked.parquet")
    locked_sha = _sha(locked)
    locked.chmod(0)
    (prefix / "escape.parquet").symlink_to(theirs)
    linked = prefix / "linked"
    linked.mkdir()
    _parquet(linked / "part-0.parquet")
    (linked / "part-1.parquet").symlink_to(theirs)
    zeros = "0" * 64
    return {
        "captured inferences of beta": (captured.as_uri(), _sha(captured)),
        "beta's dataset": (str(theirs), _sha(theirs)),
        "/etc/passwd": ("/etc/passwd", _sha(Path("/etc/passwd"))),
        "file URI of /etc/passwd": ("file:///etc/passwd", _sha(Path("/etc/passwd"))),
        "chmod 000 inside the prefix": (locked.as_uri(), locked_sha),
        "missing inside the prefix": ((prefix / "missing.parquet").as_uri(), zeros),
        "link inside the prefix to beta": (str(prefix / "escape.parquet"), _sha(theirs)),
        "folder holding a link outside": (str(linked), zeros),
        "absolute path through ..": (f"{prefix}/../beta/train.parquet", _sha(theirs)),
        "relative path through ..": ("../beta/train.parquet", _sha(theirs)),
        "encoded NUL": (f"{prefix.as_uri()}/x%00.parquet", zeros),
        "another host": (f"file://elsewhere{theirs}", _sha(theirs)),
        "s3": ("s3://bucket/alpha/train.parquet", zeros),
        "https": ("https://example.com/alpha/train.parquet", zeros),
        "the root itself": (str(settings.dataset_roots[0]), zeros),
    }


def test_every_refusal_is_one_identical_422_and_writes_nothing(
    client: TestClient, world: World, settings: Settings, prefix: Path, db: Database
) -> None:
    bodies = {}
    for name, (uri, sha) in _outside_locations(settings, prefix).items():
        r = _post(client, world, uri, sha)
        assert r.status_code == 422, (name, r.text)
        bodies[name] = r.content.replace(r.json()["request_id"].encode(), b"")
    assert len(set(bodies.values())) == 1, bodies
    body = next(iter(bodies.values()))
    assert b"invalid_input" in body and REFUSED.encode() in body
    assert str(settings.home).encode() not in body
    assert client.get(URL, headers=world.headers("viewer")).json() == []
    page = list_audit(db, flt=AuditFilter(action="dataset.register"), cursor=None, limit=10)
    assert page.items == []


def test_a_file_inside_the_prefix_is_hashed_and_inspected_by_steward(
    client: TestClient, world: World, prefix: Path
) -> None:
    data = _parquet(prefix / "train.parquet")
    sha = _sha(data)
    r = _post(client, world, "train.parquet", sha, row_count=None, columns=[])
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["sha256"] == sha and got["uri"] == data.resolve().as_uri()
    assert got["row_count"] == 3 and [c["name"] for c in got["columns"]] == ["x"]
    again = _post(client, world, data.as_uri(), sha)
    assert again.status_code == 201 and again.json()["id"] == got["id"]


def test_a_declared_hash_that_differs_is_refused_and_writes_nothing(
    client: TestClient, world: World, prefix: Path, db: Database
) -> None:
    data = _parquet(prefix / "train.parquet")
    r = _post(client, world, str(data), "f" * 64)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input", r.text
    assert "sha256" in r.json()["detail"]
    assert client.get(URL, headers=world.headers("viewer")).json() == []
    page = list_audit(db, flt=AuditFilter(action="dataset.register"), cursor=None, limit=10)
    assert page.items == []


def test_registering_a_path_in_process_is_confined_too(
    db: Database, settings: Settings, prefix: Path, clock: ManualClock
) -> None:
    assert settings.data_dir is not None
    outside = _parquet(settings.data_dir / "elsewhere.parquet")
    with pytest.raises(InvalidInput) as caught:
        service.register_dataset_version(
            db,
            project="alpha",
            name="train",
            path=outside,
            roots=settings.dataset_roots,
            actor=ACTOR,
            clock=clock,
        )
    assert caught.value.detail == REFUSED


@pytest.mark.parametrize(
    "project",
    ["", ".", "..", "alpha/../beta", "alpha\x00"],
    ids=["empty", "dot", "dots", "slash", "nul"],
)
def test_a_project_name_that_is_not_one_folder_has_no_prefix(
    settings: Settings, prefix: Path, project: str
) -> None:
    data = _parquet(prefix / "train.parquet")
    with pytest.raises(Unconfined):
        confine(data, roots=settings.dataset_roots, project=project)


def test_a_run_never_reads_a_location_edited_outside_in_the_database(
    client: TestClient, world: World, settings: Settings, prefix: Path, db: Database
) -> None:
    data = _parquet(prefix / "reference.parquet", reference_table())
    r = _post(client, world, str(data), _sha(data))
    assert r.status_code == 201, r.text
    spec = MonitorSpec(
        name="drift",
        target=Target(name="scorer"),
        reference=Reference(dataset="train"),
        schedule=Schedule(interval=HOUR, start=START),
    )
    service.create_endpoint(db, project="alpha", data=EndpointCreate(name="scorer"), actor=ACTOR)
    create_monitor(db, project="alpha", spec=spec, actor=OPERATOR)
    run = _runner(db, settings)
    first = run(START + 2 * HOUR)
    assert first.status is RunStatus.succeeded and first.reference_rows == 2000, first.error
    theirs = _parquet(settings.dataset_roots[0] / "beta" / "secret.parquet", reference_table())
    _set_uri(db, r.json()["id"], theirs.as_uri())
    report = run(START + 3 * HOUR)
    assert report.status is RunStatus.failed
    assert report.error is not None and REFUSED in report.error and str(theirs) not in report.error


def _runner(db: Database, settings: Settings) -> Callable[[Any], Any]:
    env = RunEnvironment(
        windows=TableWindowReader({"scorer": traffic(START, windows=6)}),
        references=LineageReferenceLoader(db, settings),
        alerts=MemoryAlertSink(),
        lineage=NoLineage(),
        profiles=ProfileCache(),
    )

    def run(window_end: Any) -> Any:
        clock = ManualClock(START + 6 * HOUR)
        report = run_now(
            db, project="alpha", name="drift", env=env, window_end=window_end, clock=clock
        )
        return report.run

    return run


def _set_uri(db: Database, node_id: str, uri: str) -> None:
    """Point a dataset version elsewhere behind Steward's back, as a hand-written UPDATE would."""
    table, key = NodeRow.__table__, uuid.UUID(node_id)
    with db.engine.begin() as conn:
        attrs = conn.execute(select(table.c.attrs).where(table.c.id == key)).scalar_one()
        conn.execute(update(table).where(table.c.id == key).values(attrs={**attrs, "uri": uri}))


def test_a_file_whose_mode_grants_no_reading_is_refused_even_to_root(
    settings: Settings, prefix: Path
) -> None:
    locked = _parquet(prefix / "locked.parquet")
    assert confine(locked, roots=settings.dataset_roots, project="alpha") == locked.resolve()
    locked.chmod(0)
    with pytest.raises(Unconfined):
        confine(locked, roots=settings.dataset_roots, project="alpha")
