"""Store contracts of the asset graph, on every backend: what each store promises its services."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

import lineage.stores
from governance.audit.service import record_audit
from governance.core.db import Base, Database
from lineage.schemas import (
    ColumnSpec,
    ColumnType,
    EdgeKind,
    ModelCreate,
    NodeKind,
    RunReport,
    RunState,
    Signature,
)
from lineage.stores import LineageStores, batch_stores, sql_stores
from tests.lineage.conftest import ACTOR, T0

SIG = Signature(inputs=[ColumnSpec(name="x", type=ColumnType.float)])


def _protocols() -> list[tuple[type, type]]:
    found = []
    for info in pkgutil.iter_modules(lineage.stores.__path__):
        module = importlib.import_module(f"lineage.stores.{info.name}")
        for name, cls in vars(module).items():
            if name.endswith("Store") and getattr(cls, "_is_protocol", False):
                found.append((cls, getattr(module, f"Sql{name}")))
    return found


def _mentions_orm(hint: Any) -> bool:
    if isinstance(hint, type) and issubclass(hint, Base):
        return True
    return any(_mentions_orm(arg) for arg in typing.get_args(hint))


def _public(cls: type) -> list[str]:
    return [n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")]


def test_every_store_has_a_protocol_and_a_sql_twin() -> None:
    names = {p.__name__ for p, _ in _protocols()}
    assert names == {
        "NodeStore",
        "EdgeStore",
        "GraphStore",
        "RunStore",
        "RegistryStore",
        "EndpointStore",
        "EventStore",
    }


@pytest.mark.parametrize("protocol, impl", _protocols(), ids=lambda c: c.__name__)
def test_stores_serve_schemas_and_implement_their_protocol(protocol: type, impl: type) -> None:
    assert protocol.__doc__ and "\n" in protocol.__doc__.strip(), "a Protocol states its contract"
    for name in _public(protocol):
        hints = typing.get_type_hints(getattr(protocol, name))
        assert not _mentions_orm(hints["return"]), f"{protocol.__name__}.{name} returns a row"
        want = inspect.signature(getattr(protocol, name))
        assert inspect.signature(getattr(impl, name)) == want, f"{impl.__name__}.{name}"


@pytest.fixture
def stores(db: Database) -> Iterator[LineageStores]:
    """The stores of one write transaction (audited, so that it may commit)."""
    with db.transaction() as session:
        yield sql_stores(session)
        record_audit(session, actor=ACTOR, action="test.stores", project="alpha")


def _dataset(stores: LineageStores, name: str) -> Any:
    node, _ = stores.nodes.ensure(
        project="alpha", kind=NodeKind.dataset, namespace="s3", name=name, at=T0
    )
    return node


def test_ensure_creates_a_node_once(stores: LineageStores) -> None:
    first, created = stores.nodes.ensure(
        project="alpha", kind=NodeKind.dataset, namespace="s3", name="raw", at=T0
    )
    again, created_again = stores.nodes.ensure(
        project="alpha", kind=NodeKind.dataset, namespace="s3", name="raw", at=T0
    )
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert stores.nodes.find("alpha", NodeKind.dataset, "s3", "raw") == first
    assert stores.nodes.find_by_id(first.id, "beta") is None


def test_link_keeps_one_live_edge_from_its_earliest_report(stores: LineageStores) -> None:
    a, b = _dataset(stores, "a"), _dataset(stores, "b")
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    assert stores.edges.link(project="alpha", src=a.id, dst=b.id, kind=EdgeKind.consumed, at=later)
    assert not stores.edges.link(
        project="alpha", src=a.id, dst=b.id, kind=EdgeKind.consumed, at=earlier
    )
    [edge] = stores.edges.edges_of(b.id, incoming=True)
    assert (edge.src, edge.valid_from) == (a.id, earlier)
    with pytest.raises(ValueError, match="EndpointStore"):
        stores.edges.link(project="alpha", src=a.id, dst=b.id, kind=EdgeKind.deployed, at=T0)


def test_run_reports_fold_in_any_order(stores: LineageStores) -> None:
    job = _dataset(stores, "job")
    run, _ = stores.nodes.ensure(
        project="alpha", kind=NodeKind.run, namespace="s3", name="job", version="r1", at=T0
    )
    end = T0 + timedelta(minutes=5)
    stores.runs.merge_report(run.id, RunReport(state=RunState.complete, ended_at=end), end)
    stores.runs.merge_report(run.id, RunReport(state=RunState.start, started_at=T0), end)
    got = stores.runs.run(run.id)
    assert (got.state, got.started_at, got.ended_at) == (RunState.complete, T0, end)
    assert stores.runs.find("alpha", "r1") == stores.runs.find("alpha", str(run.id))
    assert stores.runs.find("alpha", str(job.id)) is None


def test_alias_moves_and_reports_where_it_pointed(stores: LineageStores) -> None:
    registry = stores.registry
    v1, v2 = (
        registry.add_model_version(
            project="alpha", name="m", data=ModelCreate(sha256=f"{n:064x}", signature=SIG), at=T0
        )
        for n in (1, 2)
    )
    assert (v1.version, v2.version) == (1, 2)
    assert registry.move_alias(version=v1.id, alias="champion", at=T0) is None
    assert registry.move_alias(version=v2.id, alias="champion", at=T0) == 1
    found = registry.find_model_version("alpha", "m", alias="champion")
    assert found is not None and (found.version, found.aliases) == (2, ["champion"])
    assert registry.remove_alias("alpha", "m", "champion")
    assert not registry.remove_alias("alpha", "m", "champion")


def test_a_deployment_ends_the_previous_one(stores: LineageStores) -> None:
    endpoint = stores.endpoints.add(project="alpha", name="e", description="", at=T0)
    versions = [
        stores.registry.add_model_version(
            project="alpha", name="m", data=ModelCreate(sha256=f"{n:064x}", signature=SIG), at=T0
        )
        for n in (1, 2)
    ]
    for hours, version in enumerate(versions):
        stores.endpoints.record_deployment(
            endpoint=endpoint.id,
            version=version.id,
            actor="a",
            note="",
            at=T0 + timedelta(hours=hours),
        )
    first, second = stores.endpoints.deployments(endpoint.id)
    assert first.ended_at == second.started_at == T0 + timedelta(hours=1)
    at = stores.endpoints.deployment_at(endpoint.id, T0 + timedelta(minutes=30))
    assert at is not None and at.version == 1
    now = stores.endpoints.find("alpha", "e")
    assert now is not None and now.model_version is not None and now.model_version.version == 2


@contextmanager
def _selects(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_prefetched_batch_looks_nothing_up_again(db: Database) -> None:
    with db.transaction() as session:
        with batch_stores(session) as stores:
            a = _dataset(stores, "a")
        record_audit(session, actor=ACTOR, action="test.stores", project="alpha")
    with db.transaction() as session:
        with batch_stores(session) as stores:
            stores.nodes.prefetch("alpha", NodeKind.dataset, [("s3", "a", ""), ("s3", "b", "")])
            with _selects(session) as selects:
                found, b = _dataset(stores, "a"), _dataset(stores, "b")
                for _ in range(2):
                    stores.edges.link(
                        project="alpha", src=found.id, dst=b.id, kind=EdgeKind.consumed, at=T0
                    )
            assert found.id == a.id
            assert selects == []
        record_audit(session, actor=ACTOR, action="test.stores", project="alpha")
