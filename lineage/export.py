"""The graph as OpenLineage events: one RunEvent per run and one JobEvent per job."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from governance.core.clock import isoformat
from governance.core.db import Database
from lineage.olschema import SPEC_ID
from lineage.schemas import Node, NodeKind, NodeRecord
from lineage.stores import LineageStores, sql_stores

PRODUCER = "https://github.com/steward-mlops/steward/tree/main/lineage"
_RUN_NS = uuid.UUID("6f0d2f7e-5b35-4d59-8d5a-6c7f3f1f2a10")
_VERSION_FACET = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet"
)


def export_events(db: Database, *, project: str) -> Iterator[dict[str, Any]]:
    """The project's graph as OpenLineage events: one RunEvent per run, then JobEvents."""
    with db.read() as session:
        stores = sql_stores(session)
        for run in stores.nodes.records(project, NodeKind.run):
            yield _export_run(stores, run.node, run.parent)
        for job in stores.nodes.records(project, NodeKind.job):
            yield _export_job(stores, job)


def _run_uuid(run: Node) -> str:
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


def _ol_dataset(node: Node) -> dict[str, Any]:
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


def _datasets(stores: LineageStores, node_id: uuid.UUID, *, incoming: bool) -> list[dict[str, Any]]:
    return [_ol_dataset(n) for n in stores.edges.flow_neighbours(node_id, incoming=incoming)]


def _export_run(stores: LineageStores, run: Node, job_id: uuid.UUID | None) -> dict[str, Any]:
    a = run.attrs
    job = stores.nodes.find_by_id(job_id) if job_id else None
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
        "inputs": _datasets(stores, run.id, incoming=True),
        "outputs": _datasets(stores, run.id, incoming=False),
    }


def _export_job(stores: LineageStores, job: NodeRecord) -> dict[str, Any]:
    node = job.node
    return {
        "eventTime": isoformat(job.updated_at),
        "producer": PRODUCER,
        "schemaURL": f"{SPEC_ID}#/$defs/JobEvent",
        "job": {
            "namespace": node.namespace,
            "name": node.name,
            "facets": as_facets(node.attrs.get("facets")),
        },
        "inputs": _datasets(stores, node.id, incoming=True),
        "outputs": _datasets(stores, node.id, incoming=False),
    }
