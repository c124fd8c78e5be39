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
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from governance.access.authorization import authorize
from governance.access.enforcer import PolicyEngine
from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput
from governance.core.principal import Principal
from lineage.olschema import validate_event
from lineage.schemas import EdgeKind, IngestResult, Node, NodeKind, RawEvent, RunReport, RunState
from lineage.stores import LineageStores, batch_stores
from lineage.stores.events import EventKey

_WALL = SystemClock()


def fingerprint(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an event: equal events, equal fingerprints."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def project_of(
    payload: Mapping[str, Any], *, override: str | None, namespace_map: Mapping[str, str]
) -> str:
    """The project an event belongs to: explicit, mapped from its namespace, or the namespace."""
    if override:
        return override
    part = payload.get("job") or payload.get("dataset") or {}
    namespace = str(part.get("namespace", ""))
    return namespace_map.get(namespace, namespace)


def ingest_event(
    db: Database,
    *,
    payload: Any,
    actor: Principal,
    policy: PolicyEngine,
    project: str | None = None,
    namespace_map: Mapping[str, str] | None = None,
    clock: Clock = _WALL,
) -> IngestResult:
    """Validate, authorise and apply one OpenLineage event; a retried event changes nothing."""
    kind = validate_event(payload)
    target = project_of(payload, override=project, namespace_map=namespace_map or {})
    authorize(actor, target, "lineage", "write", db=db, policy=policy)
    return apply_event(db, payload=payload, kind=kind, project=target, actor=actor, clock=clock)


def ingest_events(
    db: Database,
    *,
    payloads: Sequence[Any],
    actor: Principal,
    policy: PolicyEngine,
    project: str | None = None,
    namespace_map: Mapping[str, str] | None = None,
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
        target = project_of(payload, override=project, namespace_map=namespace_map or {})
        batch.append((payload, kind, target))
    for target in sorted({t for _, _, t in batch}):
        authorize(actor, target, "lineage", "write", db=db, policy=policy)
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
                _apply_all(stores, events, digests, seen, results, applied, clock)
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
) -> None:
    for (payload, kind, project), digest in zip(events, digests, strict=True):
        if (project, digest) in seen:
            results.append(IngestResult(project=project, kind=kind, duplicate=True))
            continue
        seen.add((project, digest))
        at = to_utc(datetime.fromisoformat(payload["eventTime"]))
        _keep(stores, payload, kind, project, digest, at, clock)
        run_id, edges, target = _APPLIERS[kind](stores, payload, project, at, clock.now())
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


def _dataset(stores: LineageStores, project: str, ds: dict[str, Any], now: datetime) -> Node:
    facets = ds.get("facets") or {}
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


def _run_event(
    stores: LineageStores, payload: dict[str, Any], project: str, at: datetime, now: datetime
) -> tuple[uuid.UUID | None, int, str]:
    job_part, run_part = payload["job"], payload["run"]
    ns, name, run_id = job_part["namespace"], job_part["name"], run_part["runId"]
    job = _job(stores, project, job_part, now)
    run, _ = stores.nodes.ensure(
        project=project,
        kind=NodeKind.run,
        namespace=ns,
        name=name,
        version=run_id,
        parent=job.id,
        at=at,
    )
    state = RunState(payload.get("eventType") or RunState.other)
    report = RunReport(
        state=state,
        started_at=at if state in (RunState.start, RunState.running) else None,
        ended_at=at if state in (RunState.complete, RunState.fail, RunState.abort) else None,
        facets=run_part.get("facets"),
    )
    stores.runs.merge_report(run.id, report, now)
    edges = 0
    for ds in payload.get("inputs") or []:
        node = _dataset(stores, project, ds, now)
        edges += _link(stores, project, node.id, run.id, EdgeKind.consumed, at)
    for ds in payload.get("outputs") or []:
        node = _dataset(stores, project, ds, now)
        edges += _link(stores, project, run.id, node.id, EdgeKind.produced, at)
        _columns(stores, project, node, ds, run.id, payload.get("inputs") or [], now)
    return run.id, edges, f"run:{ns}/{name}@{run_id}"


def _link(
    stores: LineageStores,
    project: str,
    src: uuid.UUID,
    dst: uuid.UUID,
    kind: EdgeKind,
    at: datetime,
) -> int:
    return int(stores.edges.link(project=project, src=src, dst=dst, kind=kind, at=at))


def _columns(
    stores: LineageStores,
    project: str,
    out: Node,
    ds: dict[str, Any],
    run_id: uuid.UUID,
    inputs: list[dict[str, Any]],
    now: datetime,
) -> None:
    fields = ((ds.get("facets") or {}).get("columnLineage") or {}).get("fields") or {}
    known = {(i["namespace"], i["name"]): i for i in inputs}
    for out_field, spec in fields.items():
        for src in spec.get("inputFields", []):
            ref = known.get((src["namespace"], src["name"]), src)
            node = _dataset(stores, project, ref, now)
            stores.edges.link_columns(
                project=project,
                src=node.id,
                src_field=src["field"],
                dst=out.id,
                dst_field=out_field,
                run_id=run_id,
                transformations=list(src.get("transformations") or []),
                at=now,
            )


def _job(stores: LineageStores, project: str, part: dict[str, Any], now: datetime) -> Node:
    job, _ = stores.nodes.ensure(
        project=project, kind=NodeKind.job, namespace=part["namespace"], name=part["name"], at=now
    )
    _merge_facets(stores, job, part.get("facets"), now)
    return job


def _job_event(
    stores: LineageStores, payload: dict[str, Any], project: str, at: datetime, now: datetime
) -> tuple[uuid.UUID | None, int, str]:
    job = _job(stores, project, payload["job"], now)
    edges = 0
    for ds in payload.get("inputs") or []:
        edges += _link(
            stores, project, _dataset(stores, project, ds, now).id, job.id, EdgeKind.consumed, at
        )
    for ds in payload.get("outputs") or []:
        edges += _link(
            stores, project, job.id, _dataset(stores, project, ds, now).id, EdgeKind.produced, at
        )
    return None, edges, f"job:{job.namespace}/{job.name}"


def _dataset_event(
    stores: LineageStores, payload: dict[str, Any], project: str, at: datetime, now: datetime
) -> tuple[uuid.UUID | None, int, str]:
    node = _dataset(stores, project, payload["dataset"], now)
    return None, 0, f"dataset:{node.namespace}/{node.name}"


_APPLIERS = {"RunEvent": _run_event, "JobEvent": _job_event, "DatasetEvent": _dataset_event}
