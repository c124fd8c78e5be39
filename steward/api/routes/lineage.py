"""OpenLineage ingest (``POST /api/v1/lineage``) and graph queries under a project.

``POST /api/v1/lineage`` has no project in its path (it is the path the OpenLineage HTTP
transport posts to): the route only authenticates, and ``lineage.openlineage.ingest_event``
checks ``(lineage, write)`` in the project named by the event's job namespace (or the
``project`` query parameter, or ``svc.namespace_map``, or else the configured default project),
with the same 404-then-403 answers and denial audit as ``require``; an unmapped namespace's 404
says how to map it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from lineage import olroute, openlineage, query
from lineage.export import export_events
from lineage.graph import MAX_DEPTH, Direction
from lineage.render import Format, render
from lineage.runs import list_job_runs
from lineage.schemas import (
    NAME_RE,
    ColumnEdge,
    Graph,
    IngestResult,
    Node,
    NodeKind,
    PathResult,
    RunPage,
    UtcDateTime,
)
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["lineage"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
NodeId = Annotated[UUID, Path()]
Depth = Annotated[int, Query(ge=0, le=MAX_DEPTH, description="hops to walk")]
At = Annotated[UtcDateTime | None, Query(description="as of this time (default: now)")]
History = Annotated[bool, Query(description="every edge that ever existed, ignoring time")]
Kinds = Annotated[
    list[NodeKind] | None,
    Query(description="show only nodes of these kinds (repeatable; the root is always shown)"),
]
Reader = Annotated[Caller, Depends(require("lineage", "read"))]
NameQuery = Annotated[str | None, Query(max_length=200, pattern=NAME_RE.pattern)]
TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}}, "description": "the rendered graph"}
}
NDJSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/x-ndjson": {}}, "description": "one event per line"}
}


def _routing(svc: ServicesDep) -> olroute.Routing:
    return olroute.Routing(
        namespace_map=svc.namespace_map, default_project=svc.settings.lineage_default_project
    )


@router.post("/lineage", response_model=IngestResult, status_code=201)
def ingest(
    payload: Annotated[dict[str, Any], Body()],
    caller: Annotated[Caller, Depends(require("lineage", "write", scope="self"))],
    svc: ServicesDep,
    project: Annotated[str | None, Query(max_length=64, pattern=NAME_RE.pattern)] = None,
) -> IngestResult:
    """Accept one OpenLineage RunEvent, JobEvent or DatasetEvent (spec 2-0-x)."""
    return openlineage.ingest_event(
        svc.db,
        payload=payload,
        actor=caller.principal,
        policy=svc.policy,
        project=project,
        routing=_routing(svc),
        clock=svc.clock,
    )


@router.post("/lineage/batch", response_model=list[IngestResult], status_code=201)
def ingest_batch(
    payloads: Annotated[list[dict[str, Any]], Body(max_length=1000)],
    caller: Annotated[Caller, Depends(require("lineage", "write", scope="self"))],
    svc: ServicesDep,
    project: Annotated[str | None, Query(max_length=64, pattern=NAME_RE.pattern)] = None,
) -> list[IngestResult]:
    """Accept up to 1000 OpenLineage events at once, applied together or not at all."""
    return openlineage.ingest_events(
        svc.db,
        payloads=payloads,
        actor=caller.principal,
        policy=svc.policy,
        project=project,
        routing=_routing(svc),
        clock=svc.clock,
    )


@router.get("/projects/{project}/lineage/nodes", response_model=list[Node])
def list_nodes(
    project: ProjectName,
    caller: Reader,
    svc: ServicesDep,
    kind: NodeKind = NodeKind.dataset,
    name: NameQuery = None,
    version: Annotated[str, Query(max_length=128, pattern=r"^[^\x00]*$")] = "",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[Node]:
    """Nodes of one kind by name (or the one called ``name``)."""
    if name is not None:
        found = query.find_node(svc.db, project=project, kind=kind, name=name, version=version)
        return [found] if found else []
    after = (cursor or "").replace("\x00", "")
    return query.list_nodes(svc.db, project=project, kind=kind, after=after, limit=limit)


@router.get("/projects/{project}/lineage/nodes/{node_id}", response_model=Node)
def get_node(project: ProjectName, node_id: NodeId, caller: Reader, svc: ServicesDep) -> Node:
    """One node."""
    return query.get_node(svc.db, project=project, node_id=node_id)


def _walk(
    svc: ServicesDep,
    project: str,
    node_id: UUID,
    direction: Direction,
    depth: int,
    at: datetime | None,
    history: bool,
    kinds: list[NodeKind] | None = None,
) -> Graph:
    return query.walk(
        svc.db,
        project=project,
        node_id=node_id,
        direction=direction,
        depth=depth,
        at=at,
        history=history,
        kinds=kinds,
        clock=svc.clock,
    )


@router.get("/projects/{project}/lineage/nodes/{node_id}/upstream", response_model=Graph)
def upstream(
    project: ProjectName,
    node_id: NodeId,
    caller: Reader,
    svc: ServicesDep,
    depth: Depth = 10,
    at: At = None,
    history: History = False,
    kinds: Kinds = None,
) -> Graph:
    """Everything the node was derived from, up to ``depth`` hops."""
    return _walk(svc, project, node_id, Direction.upstream, depth, at, history, kinds)


@router.get("/projects/{project}/lineage/nodes/{node_id}/downstream", response_model=Graph)
def downstream(
    project: ProjectName,
    node_id: NodeId,
    caller: Reader,
    svc: ServicesDep,
    depth: Depth = 10,
    at: At = None,
    history: History = False,
    kinds: Kinds = None,
) -> Graph:
    """Everything derived from the node, up to ``depth`` hops."""
    return _walk(svc, project, node_id, Direction.downstream, depth, at, history, kinds)


@router.get("/projects/{project}/lineage/nodes/{node_id}/impact", response_model=Graph)
def impact(
    project: ProjectName,
    node_id: NodeId,
    caller: Reader,
    svc: ServicesDep,
    at: At = None,
    history: History = False,
    kinds: Kinds = None,
) -> Graph:
    """Every model version and endpoint downstream of the node."""
    return query.impact(
        svc.db,
        project=project,
        node_id=node_id,
        at=at,
        history=history,
        kinds=kinds,
        clock=svc.clock,
    )


@router.get("/projects/{project}/lineage/nodes/{node_id}/runs", response_model=RunPage)
def job_runs(
    project: ProjectName,
    node_id: NodeId,
    caller: Reader,
    svc: ServicesDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> RunPage:
    """The runs of a job node (e.g. a monitor's), newest first: the job's history."""
    return list_job_runs(svc.db, project=project, job=node_id, cursor=cursor, limit=limit)


@router.get("/projects/{project}/lineage/nodes/{node_id}/columns", response_model=list[ColumnEdge])
def columns(
    project: ProjectName,
    node_id: NodeId,
    caller: Reader,
    svc: ServicesDep,
    field: Annotated[str | None, Query(max_length=512, pattern=r"^[^\x00]+$")] = None,
    depth: Depth = 10,
) -> list[ColumnEdge]:
    """Column lineage into a dataset (all direct edges, or one field's sources transitively)."""
    return query.column_lineage(svc.db, project=project, node_id=node_id, field=field, depth=depth)


@router.get(
    "/projects/{project}/lineage/nodes/{node_id}/render",
    response_class=PlainTextResponse,
    responses=TEXT,
)
def render_graph(
    project: ProjectName,
    node_id: NodeId,
    caller: Reader,
    svc: ServicesDep,
    direction: Direction = Direction.upstream,
    depth: Depth = 10,
    at: At = None,
    history: History = False,
    format: Format = Format.dot,
    kinds: Kinds = None,
) -> PlainTextResponse:
    """The upstream or downstream subgraph as Graphviz DOT, Mermaid or JSON text."""
    graph = _walk(svc, project, node_id, direction, depth, at, history, kinds)
    return PlainTextResponse(render(graph, format))


@router.get("/projects/{project}/lineage/path", response_model=PathResult)
def path(
    project: ProjectName,
    caller: Reader,
    svc: ServicesDep,
    src: Annotated[UUID, Query()],
    dst: Annotated[UUID, Query()],
    depth: Depth = 20,
    at: At = None,
    history: History = False,
) -> PathResult:
    """A shortest path from ``src`` downstream to ``dst``."""
    return query.path(
        svc.db,
        project=project,
        src=src,
        dst=dst,
        depth=depth,
        at=at,
        history=history,
        clock=svc.clock,
    )


def _lines(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    for event in events:
        yield json.dumps(event, sort_keys=True) + "\n"


@router.get(
    "/projects/{project}/lineage/export", response_class=StreamingResponse, responses=NDJSON
)
def export(project: ProjectName, caller: Reader, svc: ServicesDep) -> StreamingResponse:
    """The project's graph as OpenLineage events, one JSON document per line."""
    events = list(export_events(svc.db, project=project))
    return StreamingResponse(_lines(iter(events)), media_type="application/x-ndjson")
