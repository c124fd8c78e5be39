"""Registry use cases: datasets, models, aliases, endpoints, deployments, runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.errors import Conflict, NotFound
from governance.core.settings import Settings
from lineage import service
from lineage.schemas import (
    ColumnSpec,
    ColumnType,
    EndpointCreate,
    ModelCreate,
    RunState,
    Signature,
    TaskType,
)
from tests.lineage.conftest import ACTOR

SIG = Signature(
    inputs=[
        ColumnSpec(name="age", type=ColumnType.int),
        ColumnSpec(name="income", type=ColumnType.float),
    ],
    outputs=[ColumnSpec(name="prediction", type=ColumnType.int)],
    task=TaskType.binary,
    probabilities=True,
    classes=["0", "1"],
)


def model_create(n: int = 0, **kw: object) -> ModelCreate:
    return ModelCreate(sha256=f"{n:064x}", signature=SIG, flavor="sklearn", **kw)  # type: ignore[arg-type]


def write_parquet(path: Path, rows: int = 10) -> Path:
    table = pa.table(
        {
            "age": list(range(rows)),
            "income": [float(i) for i in range(rows)],
            "name": [str(i) for i in range(rows)],
        }
    )
    pq.write_table(table, path)
    return path


def test_register_dataset_from_parquet_folder(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    roots = settings.dataset_roots
    folder = roots[0] / "alpha" / "train"
    folder.mkdir(parents=True)
    write_parquet(folder / "part-0.parquet", 10)
    write_parquet(folder / "part-1.parquet", 5)
    (folder / "_SUCCESS").write_text("")
    dv = service.register_dataset_version(
        db, project="alpha", name="train", path=folder, roots=roots, actor=ACTOR, clock=clock
    )
    assert dv.row_count == 15
    assert [(c.name, c.type) for c in dv.columns] == [
        ("age", "int"),
        ("income", "float"),
        ("name", "str"),
    ]
    assert len(dv.sha256) == 64 and dv.version == dv.sha256[:16]
    again = service.register_dataset_version(
        db, project="alpha", name="train", path=folder, roots=roots, actor=ACTOR, clock=clock
    )
    assert again.id == dv.id
    assert service.get_dataset_version(db, project="alpha", name="train").id == dv.id
    with pytest.raises(NotFound):
        service.get_dataset_version(db, project="beta", name="train")


def test_endpoint_signature_and_served_history(db: Database, clock: ManualClock) -> None:
    service.create_endpoint(
        db, project="alpha", data=EndpointCreate(name="churn"), actor=ACTOR, clock=clock
    )
    assert service.get_endpoint(db, project="alpha", name="churn").model_version is None
    assert service.find_endpoint(db, project="alpha", name="nope") is None
    with pytest.raises(Conflict):
        service.create_endpoint(
            db, project="alpha", data=EndpointCreate(name="churn"), actor=ACTOR, clock=clock
        )
    for n in (1, 2, 3):
        service.register_model_version(
            db, project="alpha", name="clf", data=model_create(n), actor=ACTOR, clock=clock
        )
    times = []
    for v in (1, 2, 3, 1):  # three redeployments and a rollback to 1
        clock.advance(timedelta(days=1))
        service.deploy(
            db, project="alpha", endpoint="churn", model="clf", version=v, actor=ACTOR, clock=clock
        )
        times.append(clock.now())
    ep = service.get_endpoint(db, project="alpha", name="churn")
    assert ep.model_version is not None and ep.model_version.version == 1
    assert ep.signature == SIG
    # Just before the first deployment nothing served; at each switch and 12 h after it, the
    # version deployed then (three redeployments, then a rollback to 1).
    probes = [(times[0] - timedelta(seconds=1), None)]
    for at, version in zip(times, [1, 2, 3, 1], strict=True):
        probes += [(at, version), (at + timedelta(hours=12), version)]
    for at, want in probes:
        dep = service.find_deployment_at(db, project="alpha", endpoint="churn", at=at)
        assert (dep.version if dep else None) == want, at
    history = service.list_deployments(db, project="alpha", endpoint="churn")
    assert [d.version for d in history] == [1, 2, 3, 1]
    assert [d.ended_at for d in history] == [*times[1:], None]


def test_alias_moves_atomically_and_is_audited(db: Database, clock: ManualClock) -> None:
    for n in (1, 2):
        service.register_model_version(
            db, project="alpha", name="clf", data=model_create(n), actor=ACTOR, clock=clock
        )
    a = service.set_alias(
        db, project="alpha", model="clf", alias="champion", version=1, actor=ACTOR, clock=clock
    )
    assert a.previous is None
    b = service.set_alias(
        db, project="alpha", model="clf", alias="champion", version=2, actor=ACTOR, clock=clock
    )
    assert b.previous == 1
    mv = service.get_model_version(db, project="alpha", model="clf", alias="champion")
    assert mv.version == 2 and mv.aliases == ["champion"]
    with pytest.raises(NotFound):
        service.set_alias(
            db, project="alpha", model="clf", alias="champion", version=9, actor=ACTOR, clock=clock
        )
    assert (
        service.get_model_version(db, project="alpha", model="clf", alias="champion").version == 2
    )


def test_record_run_inside_caller_transaction(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    service.create_endpoint(
        db, project="alpha", data=EndpointCreate(name="churn"), actor=ACTOR, clock=clock
    )
    prefix = settings.dataset_roots[0] / "alpha"
    prefix.mkdir(parents=True)
    dv = service.register_dataset_version(
        db,
        project="alpha",
        name="ref",
        path=write_parquet(prefix / "ref.parquet"),
        roots=settings.dataset_roots,
        actor=ACTOR,
        clock=clock,
    )
    with db.transaction() as session:
        ep = service.endpoint_ref(session, project="alpha", name="churn")
        ref = service.dataset_version_ref(session, project="alpha", name="ref", version=dv.version)
        run = service.record_run(
            session,
            project="alpha",
            job_namespace="steward.monitors",
            job_name="churn-drift",
            run_id="r-1",
            state=RunState.complete,
            inputs=[ep, ref],
            outputs=[],
            started_at=clock.now(),
            ended_at=clock.now(),
            facets={"drift": {"share": 0.1}},
            actor=ACTOR,
            clock=clock,
        )
    assert set(run.inputs) == {ep.id, ref.id}
    got = service.get_run(db, project="alpha", run_id="r-1")
    assert got.state == RunState.complete and got.facets["drift"]["share"] == 0.1
