"""OpenLineage in and out: ingest RunEvent/JobEvent/DatasetEvent into the graph; export it back.

Authorisation: ``POST /api/v1/lineage`` carries no project in its path; the project is the job's
namespace (or the dataset's, for a DatasetEvent), mapped through ``namespace_map`` when one is
configured. ``ingest_event`` therefore checks ``(lineage, write)`` against that project through
``governance.access.authorization.authorize``, the same decision every route makes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from governance.access.enforcer import PolicyEngine
from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput
from governance.core.principal import Principal
from lineage import olrestore
from lineage.olrestore import Flush
from lineage.olroute import Routing, authorize_restores, route
from lineage.olschema import EDGE_FACET, IO_FACET, NODE_FACET, validate_event
from lineage.schemas import (
    TERMINAL_STATES,
    EdgeKind,
    IngestResult,
    Node,
    NodeKind,
    RawEvent,
    RunReport,
    RunState,
)
from lineage.stores import LineageStores, batch_stores
from lineage.stores.events import EventKey

_WALL = SystemClock()


def fingerprint(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an event: equal events, equal fingerprints."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


PARENT_EDGE = EdgeKind.parent
"""Kind of the edge from a parent run (or job) to its child, from the ParentRunFacet."""


def ingest_event(
    db: Database,
    *,
    payload: Any,
    actor: Principal,
    policy: PolicyEngine,
    project: str | None = None,
    routing: Routing = Routing(),
    clock: Clock = _WALL,
) -> IngestResult:
    """Validate, authorise and apply one OpenLineage event; a retried event changes nothing."""
    kind = validate_event(payload)
    target = route(db, payload, actor=actor, policy=policy, override=project, routing=routing)
    authorize_restores(db, payload, actor=actor, policy=policy, project=target)
    return apply_event(db, payload=payload, kind=kind, project=target, actor=actor, clock=clock)


def ingest_events(
    db: Database,
    *,
    payloads: Sequence[Any],
    actor: Principal,
    policy: PolicyEngine,
    project: str | None = None,
    routing: Routing = Routing(),
    clock: Clock = _WALL,
) -> list[IngestResult]:
    """Validate and authorise a batch of events, then apply them all in one transaction."""
    batch: list[tuple[dict[str, Any], str, str]] = []
    for index, payload in enumerate(payloads):
        try:
            kind = validate_event(payload)
        except InvalidInput as exc:
            field = f"[{index}].{exc.extra.get('field', '')}".rstrip(".")
            raise InvalidInput(f"[{index}].{exc.detail}", field=field) from exc
        target = route(db, payload, actor=actor, policy=policy, override=project, routing=routing)
        batch.append((payload, kind, target))
    for payload, _, target in batch:
        authorize_restores(db, payload, actor=actor, policy=policy, project=target)
    return apply_events(db, events=batch, actor=actor, clock=clock)


def apply_event(
    db: Database,
    *,
    payload: dict[str, Any],
    kind: str,
    project: str,
    actor: Principal | str,
    clock: Clock = _WALL,
) -> IngestResult:
    """Apply an already validated and authorised event in one transaction with its audit entry."""
    return apply_events(db, events=[(payload, kind, project)], actor=actor, clock=clock)[0]


def apply_events(
    db: Database,
    *,
    events: Sequence[tuple[dict[str, Any], str, str]],
    actor: Principal | str,
    clock: Clock = _WALL,
) -> list[IngestResult]:
    """Apply validated, authorised (payload, kind, project) events in one audited transaction."""
    digests = [fingerprint(payload) for payload, _, _ in events]
    results: list[IngestResult] = []
    applied: dict[str, list[str]] = {}
    try:
        with db.transaction() as session:
            with batch_stores(session) as stores:
                keys = [(p, d) for (_, _, p), d in zip(events, digests, strict=True)]
                seen = stores.events.seen(keys)
                _prefetch(stores, events)
                flush: Flush = session.flush
                _apply_all(stores, events, digests, seen, results, applied, clock, flush)
            for project, targets in applied.items():
                record_audit(
                    session,
                    actor=actor,
                    action="lineage.ingest",
                    project=project,
                    target=targets[0] if len(targets) == 1 else f"events:{len(targets)}",
                    details={"events": len(targets), "targets": sorted(set(targets))[:100]},
                )
    except IntegrityError as exc:
        # Another writer created the same node or edge at the same moment: nothing was
        # written here, and the client's retry will find the other writer's rows.
        raise Conflict("a concurrent ingest touched the same assets; retry") from exc
    return results


def _apply_all(
    stores: LineageStores,
    events: Sequence[tuple[dict[str, Any], str, str]],
    digests: list[str],
    seen: set[EventKey],
    results: list[IngestResult],
    applied: dict[str, list[str]],
    clock: Clock,
    flush: Flush,
) -> None:
    for (payload, kind, project), digest in zip(events, digests, strict=True):
        if (project, digest) in seen:
            results.append(IngestResult(project=project, kind=kind, duplicate=True))
            continue
        seen.add((project, digest))
        at = to_utc(datetime.fromisoformat(payload["eventTime"]))
        _keep(stores, payload, kind, project, digest, at, clock)
        apply = _APPLIERS[kind]
        run_id, edges, target = apply(_Step(stores, project, at, clock.now(), flush), payload)
        applied.setdefault(project, []).append(target)
        results.append(IngestResult(project=project, kind=kind, run=run_id, edges=edges))


def _prefetch(stores: LineageStores, events: Sequence[tuple[dict[str, Any], str, str]]) -> None:
    keys: dict[tuple[str, NodeKind], set[tuple[str, str, str]]] = {}
    for payload, _, project in events:
        job, run = payload.get("job"), payload.get("run")
        if job:
            keys.setdefault((project, NodeKind.job), set()).add((job["namespace"], job["name"], ""))
            if run:
                runs = keys.setdefault((project, NodeKind.run), set())
                runs.add((job["namespace"], job["name"], run["runId"]))
        datasets = [*(payload.get("inputs") or []), *(payload.get("outputs") or [])]
        if payload.get("dataset"):
            datasets.append(payload["dataset"])
        found = keys.setdefault((project, NodeKind.dataset), set())
        found.update((d["namespace"], d["name"], "") for d in datasets)
    for (project, kind), wanted in keys.items():
        stores.nodes.prefetch(project, kind, wanted)


def _keep(
    stores: LineageStores,
    payload: dict[str, Any],
    kind: str,
    project: str,
    digest: str,
    at: datetime,
    clock: Clock,
) -> None:
    run = payload.get("run") or {}
    stores.events.keep(
        RawEvent(
            project=project,
            fingerprint=digest,
            kind=kind,
            event_type=payload.get("eventType"),
            run_id=run.get("runId"),
            event_time=at,
            received_at=clock.now(),
            payload=payload,
        )
    )


def _facets(old: dict[str, Any], new: dict[str, Any] | None) -> dict[str, Any]:
    merged = dict(old)
    for name, facet in (new or {}).items():
        if isinstance(facet, dict) and facet.get("_deleted") is True:
            merged.pop(name, None)
        else:
            merged[name] = facet
    return merged


def _merge_facets(stores: LineageStores, node: Node, facets: Any, now: datetime) -> None:
    old = node.attrs.get("facets", {})
    merged = _facets(old, facets)
    if merged != old:
        stores.nodes.replace_facets(node.id, merged, now)


@dataclass(frozen=True, slots=True)
class _Step:
    """What applying one event works with: the stores, its project, its time, the clock's."""

    stores: LineageStores
    project: str
    at: datetime
    now: datetime
    flush: Flush


def _dataset(step: _Step, ds: dict[str, Any]) -> Node:
    stores, project, now = step.stores, step.project, step.now
    facets = ds.get("facets") or {}
    mark = olrestore.mark_of(facets)
    if mark is not None:
        return olrestore.restore_asset(stores, project, ds, mark, now, step.flush)
    node, _ = stores.nodes.ensure(
        project=project, kind=NodeKind.dataset, namespace=ds["namespace"], name=ds["name"], at=now
    )
    _merge_facets(stores, node, facets, now)
    version = (facets.get("version") or {}).get("datasetVersion")
    if not isinstance(version, str) or not version:
        return node
    row, _ = stores.nodes.ensure(
        project=project,
        kind=NodeKind.dataset_version,
        namespace=ds["namespace"],
        name=ds["name"],
        version=version[:128],
        parent=node.id,
        attrs={"facets": facets},
        at=now,
    )
    return row


def _run(step: _Step, job: Node, part: dict[str, Any], payload: dict[str, Any]) -> Node:
    """The run node, restored verbatim from a Steward mark when new, else folded a report into."""
    stores, facets = step.stores, dict(part.get("facets") or {})
    key = {"namespace": job.namespace, "name": job.name, "version": part["runId"]}
    mark = olrestore.mark_of(facets)
    found = stores.nodes.find(step.project, NodeKind.run, **key)
    io = _io_facets(found, payload)
    if found is None and mark is not None:
        attrs = olrestore.node_attrs(mark, facets)
        if io:
            attrs["facets"] = {**attrs.get("facets", {}), **io}
        at = olrestore.created_at(mark, step.at)
        return stores.nodes.add(
            project=step.project, kind=NodeKind.run, parent=job.id, attrs=attrs, at=at, **key
        )
    run, _ = stores.nodes.ensure(
        project=step.project, kind=NodeKind.run, parent=job.id, at=step.at, **key
    )
    facets.pop(NODE_FACET, None)
    state = RunState(payload.get("eventType") or RunState.other)
    report = RunReport(
        state=state,
        started_at=step.at if state in (RunState.start, RunState.running) else None,
        ended_at=step.at if state in TERMINAL_STATES else None,
        facets={**facets, **io} or None,
    )
    stores.runs.merge_report(run.id, report, step.now)
    return run


def _io_facets(run: Node | None, payload: dict[str, Any]) -> dict[str, Any]:
    """The run's input and output facets so far, with this event's: kept as one run facet."""
    kept = dict((run.attrs.get("facets") or {}).get(IO_FACET) or {}) if run else {}
    changed = False
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for ds in payload.get(side) or []:
            facets = {k: v for k, v in (ds.get(extra) or {}).items() if k != EDGE_FACET}
            if facets:
                bag = kept.setdefault(side, {}).setdefault(ds["namespace"], {})
                bag[ds["name"]] = {**bag.get(ds["name"], {}), **facets}
                changed = True
    return {IO_FACET: kept} if changed else {}


def _edge_time(step: _Step, ds: dict[str, Any], extra: str) -> datetime:
    facet = (ds.get(extra) or {}).get(EDGE_FACET)
    if isinstance(facet, dict):
        return olrestore.created_at({"createdAt": facet.get("validFrom")}, step.at)
    return step.at


def _run_event(step: _Step, payload: dict[str, Any]) -> tuple[uuid.UUID | None, int, str]:
    job_part, run_part = payload["job"], payload["run"]
    job = _job(step, job_part)
    run = _run(step, job, run_part, payload)
    edges = _link_parent(step, run, job, run_part.get("facets") or {})
    for ds in payload.get("inputs") or []:
        node = _dataset(step, ds)
        at = _edge_time(step, ds, "inputFacets")
        edges += _link(step, node.id, run.id, EdgeKind.consumed, at)
    for ds in payload.get("outputs") or []:
        node = _dataset(step, ds)
        edges += _link(
            step, run.id, node.id, EdgeKind.produced, _edge_time(step, ds, "outputFacets")
        )
        _columns(step, node, ds, run.id, payload.get("inputs") or [])
    return run.id, edges, f"run:{job.namespace}/{job.name}@{run_part['runId']}"


def _link_parent(step: _Step, run: Node, job: Node, facets: dict[str, Any]) -> int:
    """Link the parent run (and job) a ParentRunFacet names, made here if not yet reported.

    The parent is looked for in the child's project only: a facet naming another project's run
    links to a node of this project with that identity, never across projects.
    """
    parent = facets.get("parent")
    if not isinstance(parent, dict):
        return 0
    part = {"namespace": parent["job"]["namespace"], "name": parent["job"]["name"]}
    pjob = _job(step, part)
    prun, _ = step.stores.nodes.ensure(
        project=step.project,
        kind=NodeKind.run,
        version=str(parent["run"]["runId"]),
        parent=pjob.id,
        at=step.at,
        **part,
    )
    edges = 0
    if prun.id != run.id:
        edges += _link(step, prun.id, run.id, PARENT_EDGE, step.at)
    if pjob.id != job.id:
        edges += _link(step, pjob.id, job.id, PARENT_EDGE, step.at)
    return edges


def _link(step: _Step, src: uuid.UUID, dst: uuid.UUID, kind: EdgeKind, at: datetime) -> int:
    return int(step.stores.edges.link(project=step.project, src=src, dst=dst, kind=kind, at=at))


def _columns(
    step: _Step, out: Node, ds: dict[str, Any], run_id: uuid.UUID, inputs: list[dict[str, Any]]
) -> None:
    fields = ((ds.get("facets") or {}).get("columnLineage") or {}).get("fields") or {}
    known = {(i["namespace"], i["name"]): i for i in inputs}
    for out_field, spec in fields.items():
        for src in spec.get("inputFields", []):
            ref = known.get((src["namespace"], src["name"]), src)
            node = _dataset(step, ref)
            step.stores.edges.link_columns(
                project=step.project,
                src=node.id,
                src_field=src["field"],
                dst=out.id,
                dst_field=out_field,
                run_id=run_id,
                transformations=list(src.get("transformations") or []),
                at=step.now,
            )


def _job(step: _Step, part: dict[str, Any]) -> Node:
    stores, key = step.stores, {"namespace": part["namespace"], "name": part["name"]}
    facets = dict(part.get("facets") or {})
    mark = olrestore.mark_of(facets)
    found = stores.nodes.find(step.project, NodeKind.job, **key)
    if found is None and mark is not None:
        at = olrestore.created_at(mark, step.now)
        attrs = olrestore.node_attrs(mark, facets)
        return stores.nodes.add(project=step.project, kind=NodeKind.job, attrs=attrs, at=at, **key)
    job, _ = stores.nodes.ensure(project=step.project, kind=NodeKind.job, at=step.now, **key)
    facets.pop(NODE_FACET, None)
    _merge_facets(stores, job, facets, step.now)
    return job


def _job_event(step: _Step, payload: dict[str, Any]) -> tuple[uuid.UUID | None, int, str]:
    job = _job(step, payload["job"])
    edges = 0
    for ds in payload.get("inputs") or []:
        at = _edge_time(step, ds, "inputFacets")
        edges += _link(step, _dataset(step, ds).id, job.id, EdgeKind.consumed, at)
    for ds in payload.get("outputs") or []:
        at = _edge_time(step, ds, "outputFacets")
        edges += _link(step, job.id, _dataset(step, ds).id, EdgeKind.produced, at)
    return None, edges, f"job:{job.namespace}/{job.name}"


def _dataset_event(step: _Step, payload: dict[str, Any]) -> tuple[uuid.UUID | None, int, str]:
    node = _dataset(step, payload["dataset"])
    return None, 0, f"dataset:{node.namespace}/{node.name}"


_APPLIERS = {"RunEvent": _run_event, "JobEvent": _job_event, "DatasetEvent": _dataset_event}
