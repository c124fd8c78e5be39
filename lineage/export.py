"""The graph as OpenLineage events: one RunEvent per run and one JobEvent per job."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.core.clock import isoformat
from governance.core.db import Database
from lineage.models import EdgeRow, NodeRow
from lineage.olschema import SPEC_ID
from lineage.schemas import EdgeKind, NodeKind
from lineage.store import SqlLineageStore

PRODUCER = "https://github.com/steward-mlops/steward/tree/main/lineage"
_RUN_NS = uuid.UUID("6f0d2f7e-5b35-4d59-8d5a-6c7f3f1f2a10")
_VERSION_FACET = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet"
)


def export_events(db: Database, *, project: str) -> Iterator[dict[str, Any]]:
    """The project's graph as OpenLineage events: one RunEvent per run, then JobEvents."""
    with db.read() as session:
        store = SqlLineageStore(session)
        runs = list(session.scalars(_of_kind(project, NodeKind.run)))
        for run in runs:
            yield _export_run(session, store, run)
        for job in session.scalars(_of_kind(project, NodeKind.job)):
            yield _export_job(session, store, job)


def _of_kind(project: str, kind: NodeKind) -> Any:
    return (
        select(NodeRow)
        .where(NodeRow.project == project, NodeRow.kind == str(kind))
        .order_by(NodeRow.created_at, NodeRow.id)
    )


def _run_uuid(run: NodeRow) -> str:
    try:
        return str(uuid.UUID(run.version))
    except ValueError:
        return str(uuid.uuid5(_RUN_NS, f"{run.project}:{run.namespace}/{run.name}@{run.version}"))


def as_facets(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Facets as the spec wants them: objects carrying ``_producer`` and ``_schemaURL``."""
    out: dict[str, Any] = {}
    for name, value in (values or {}).items():
        facet = dict(value) if isinstance(value, Mapping) else {"value": value}
        facet.setdefault("_producer", PRODUCER)
        facet.setdefault("_schemaURL", f"{PRODUCER}#/facets/{name}")
        out[name] = facet
    return out


def _ol_dataset(node: NodeRow) -> dict[str, Any]:
    facets = as_facets(node.attrs.get("facets"))
    if node.kind == NodeKind.dataset_version:
        facets["version"] = {
            "_producer": PRODUCER,
            "_schemaURL": _VERSION_FACET,
            "datasetVersion": node.version,
        }
    name = node.name
    if node.kind in (NodeKind.model_version, NodeKind.endpoint, NodeKind.model):
        # Steward assets that OpenLineage has no word for travel as datasets of their own kind.
        name = f"{node.kind}/{node.name}" + (f"@{node.version}" if node.version else "")
    return {"namespace": node.namespace, "name": name, "facets": facets}


def _neighbours(session: Session, node_id: uuid.UUID, *, incoming: bool) -> list[NodeRow]:
    col, other = (EdgeRow.dst_id, EdgeRow.src_id) if incoming else (EdgeRow.src_id, EdgeRow.dst_id)
    stmt = (
        select(NodeRow)
        .join(EdgeRow, other == NodeRow.id)
        .where(col == node_id, EdgeRow.kind != str(EdgeKind.deployed))
        .order_by(NodeRow.namespace, NodeRow.name, NodeRow.version)
    )
    return list(session.scalars(stmt).unique())


def _export_run(session: Session, store: SqlLineageStore, run: NodeRow) -> dict[str, Any]:
    a = run.attrs or {}
    job = store.node_by_id(run.parent_id) if run.parent_id else None
    when = a.get("ended_at") or a.get("started_at") or isoformat(run.created_at)
    return {
        "eventType": a.get("state", "OTHER"),
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": f"{SPEC_ID}#/$defs/RunEvent",
        "run": {"runId": _run_uuid(run), "facets": as_facets(a.get("facets"))},
        "job": {
            "namespace": run.namespace,
            "name": run.name,
            "facets": as_facets(job.attrs.get("facets") if job else None),
        },
        "inputs": [_ol_dataset(n) for n in _neighbours(session, run.id, incoming=True)],
        "outputs": [_ol_dataset(n) for n in _neighbours(session, run.id, incoming=False)],
    }


def _export_job(session: Session, store: SqlLineageStore, job: NodeRow) -> dict[str, Any]:
    return {
        "eventTime": isoformat(job.updated_at),
        "producer": PRODUCER,
        "schemaURL": f"{SPEC_ID}#/$defs/JobEvent",
        "job": {
            "namespace": job.namespace,
            "name": job.name,
            "facets": as_facets(job.attrs.get("facets")),
        },
        "inputs": [_ol_dataset(n) for n in _neighbours(session, job.id, incoming=True)],
        "outputs": [_ol_dataset(n) for n in _neighbours(session, job.id, incoming=False)],
    }
