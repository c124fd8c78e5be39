"""The graph as OpenLineage events that rebuild it: assets, then jobs, then runs (parents first).

Every dataset, job and run carries a ``steward`` facet (``lineage/spec/StewardFacets.json``)
naming the node behind it with its stored attributes; a model version lists what it was derived
from, an endpoint its deployments; each input and output carries when its edge began and the
run's input and output facets. ``lineage.openlineage`` reads them back (``lineage.olrestore``),
so that an export ingested into an empty Steward yields the same graph. Other consumers see
plain OpenLineage events (Steward's assets travel as datasets named ``kind/name@version``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from governance.core.clock import isoformat
from governance.core.db import Database
from lineage.olrestore import REGISTRY_KINDS
from lineage.olschema import EDGE_FACET, FACETS_ID, IO_FACET, NODE_FACET, SPEC_ID
from lineage.schemas import EdgeKind, Node, NodeKind, NodeRecord
from lineage.stores import LineageStores, sql_stores

PRODUCER = "https://github.com/steward-mlops/steward/tree/main/lineage"
_RUN_NS = uuid.UUID("6f0d2f7e-5b35-4d59-8d5a-6c7f3f1f2a10")
_VERSION_FACET = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet"
)
_ASSETS = (
    NodeKind.dataset,
    NodeKind.dataset_version,
    NodeKind.model,
    NodeKind.model_version,
    NodeKind.endpoint,
)
_PROCESSES = frozenset({NodeKind.job, NodeKind.run})


def export_events(db: Database, *, project: str) -> Iterator[dict[str, Any]]:
    """The project's graph as OpenLineage events: assets, jobs, then runs (parents first)."""
    with db.read() as session:
        stores = sql_stores(session)
        for kind in _ASSETS:
            for record in _ordered(stores.nodes.records(project, kind)):
                yield _asset_event(stores, record)
        for job in _ordered(stores.nodes.records(project, NodeKind.job)):
            yield _export_job(stores, job)
        runs = _ordered(stores.nodes.records(project, NodeKind.run))
        for run in _parents_first(stores, runs):
            yield _export_run(stores, run.node, run.parent)


def _ordered(records: list[NodeRecord]) -> list[NodeRecord]:
    # By creation, then natural key: the same graph exports the same events, whatever its ids.
    return sorted(
        records, key=lambda r: (r.node.created_at, r.node.namespace, r.node.name, r.node.version)
    )


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


def _mark(node: Node, facets: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """The Steward node facet: identity and attributes (facets too, unless the event's are)."""
    attrs = {k: v for k, v in node.attrs.items() if k not in ("facets", "inputs", "outputs")}
    if facets != stored:
        attrs["facets"] = stored
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"{FACETS_ID}#/$defs/StewardNodeFacet",
        "kind": str(node.kind),
        "name": node.name,
        "version": node.version,
        "attrs": attrs,
        "createdAt": isoformat(node.created_at),
    }


def _ol_dataset(node: Node) -> dict[str, Any]:
    stored = dict(node.attrs.get("facets") or {})
    facets = as_facets(stored)
    if node.kind == NodeKind.dataset_version and "version" not in facets:
        facets["version"] = {
            "_producer": PRODUCER,
            "_schemaURL": _VERSION_FACET,
            "datasetVersion": node.version,
        }
    name = node.name
    if node.kind in REGISTRY_KINDS:
        # Steward assets that OpenLineage has no word for travel as datasets of their own kind.
        name = f"{node.kind}/{node.name}" + (f"@{node.version}" if node.version else "")
    facets[NODE_FACET] = _mark(node, facets, stored)
    return {"namespace": node.namespace, "name": name, "facets": facets}


def _ref(node: Node, at: str) -> dict[str, Any]:
    return {
        "kind": str(node.kind),
        "namespace": node.namespace,
        "name": node.name,
        "version": node.version,
        "validFrom": at,
    }


def _asset_event(stores: LineageStores, record: NodeRecord) -> dict[str, Any]:
    node = record.node
    dataset = _ol_dataset(node)
    mark = dataset["facets"][NODE_FACET]
    sources = [
        _ref(src, isoformat(e.valid_from))
        for e in stores.edges.edges_of(node.id, incoming=True)
        if e.kind == EdgeKind.derived_from and (src := stores.nodes.find_by_id(e.src)) is not None
    ]
    if sources:
        mark["derivedFrom"] = sources
    if node.kind == NodeKind.endpoint:
        mark["deployments"] = [
            {
                "model": d.model,
                "version": str(d.version),
                "startedAt": isoformat(d.started_at),
                "endedAt": isoformat(d.ended_at) if d.ended_at else None,
                "actor": d.actor,
                "note": d.note,
            }
            for d in stores.endpoints.deployments(node.id)
        ]
    return {
        "eventTime": isoformat(record.updated_at),
        "producer": PRODUCER,
        "schemaURL": f"{SPEC_ID}#/$defs/DatasetEvent",
        "dataset": dataset,
    }


def _parents_first(stores: LineageStores, runs: list[NodeRecord]) -> list[NodeRecord]:
    """Runs ordered so that a parent run comes before its children (then oldest first)."""
    ids = {r.node.id for r in runs}
    parent: dict[uuid.UUID, uuid.UUID] = {}
    for r in runs:
        for e in stores.edges.edges_of(r.node.id, incoming=True):
            if e.src in ids and e.src != r.node.id:
                parent[r.node.id] = e.src

    def depth(node_id: uuid.UUID) -> int:
        seen = {node_id}
        while node_id in parent and parent[node_id] not in seen:
            node_id = parent[node_id]
            seen.add(node_id)
        return len(seen)

    return sorted(runs, key=lambda r: depth(r.node.id))


def _io(
    stores: LineageStores, node: Node, *, incoming: bool, kept: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """A run's or job's inputs (or outputs) with when each edge began and their facets."""
    extra = "inputFacets" if incoming else "outputFacets"
    out = []
    for e in stores.edges.edges_of(node.id, incoming=incoming):
        other = stores.nodes.find_by_id(e.src if incoming else e.dst)
        if other is None or other.kind in _PROCESSES or e.kind == EdgeKind.deployed:
            continue
        ds = _ol_dataset(other)
        facets = dict(kept.get(ds["namespace"], {}).get(ds["name"], {}))
        facets[EDGE_FACET] = {
            "_producer": PRODUCER,
            "_schemaURL": f"{FACETS_ID}#/$defs/StewardEdgeFacet",
            "validFrom": isoformat(e.valid_from),
        }
        out.append({**ds, extra: facets})
    return sorted(out, key=lambda d: (d["namespace"], d["name"]))


def _process(node: Node) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenLineage facets of a job or run, and its kept input and output facets."""
    stored = dict(node.attrs.get("facets") or {})
    kept = stored.pop(IO_FACET, {})
    facets = as_facets(stored)
    facets[NODE_FACET] = _mark(node, facets, stored)
    return facets, kept


def _export_run(stores: LineageStores, run: Node, job_id: uuid.UUID | None) -> dict[str, Any]:
    a = run.attrs
    job = stores.nodes.find_by_id(job_id) if job_id else None
    when = a.get("ended_at") or a.get("started_at") or isoformat(run.created_at)
    facets, kept = _process(run)
    return {
        "eventType": a.get("state", "OTHER"),
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": f"{SPEC_ID}#/$defs/RunEvent",
        "run": {"runId": _run_uuid(run), "facets": facets},
        "job": {
            "namespace": run.namespace,
            "name": run.name,
            "facets": _process(job)[0] if job else {},
        },
        "inputs": _io(stores, run, incoming=True, kept=kept.get("inputs", {})),
        "outputs": _io(stores, run, incoming=False, kept=kept.get("outputs", {})),
    }


def _export_job(stores: LineageStores, job: NodeRecord) -> dict[str, Any]:
    node = job.node
    return {
        "eventTime": isoformat(job.updated_at),
        "producer": PRODUCER,
        "schemaURL": f"{SPEC_ID}#/$defs/JobEvent",
        "job": {"namespace": node.namespace, "name": node.name, "facets": _process(node)[0]},
        "inputs": _io(stores, node, incoming=True, kept={}),
        "outputs": _io(stores, node, incoming=False, kept={}),
    }
