"""``steward lineage show|history|export|ingest``: the asset graph from the command line.

Local by default; with a server configured the commands call its API as the token's principal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

import typer

from governance.access.service import get_project
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound
from governance.core.settings import Settings
from lineage import olroute, openlineage, query, service
from lineage.export import export_events
from lineage.graph import Direction
from lineage.olschema import validate_event
from lineage.render import Format, render
from lineage.schemas import Deployment, Graph, IngestResult, Node, NodeKind
from steward.cli.client import is_remote, remote, remote_lines
from steward.cli.context import authorized, console, database, settings
from steward.cli.output import emit, machine, output_format, print_data, table

BATCH = 1000  # events per request: the API's limit

_VERSIONED = {"dataset": NodeKind.dataset_version, "model": NodeKind.model_version}

lineage_app = typer.Typer(
    name="lineage", help="The lineage graph and the model registry.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the ``lineage`` group to ``app``."""
    app.add_typer(lineage_app)


def parse_node(spec: str) -> tuple[NodeKind, str, str]:
    """``kind:name[@version]`` (e.g. ``dataset:train@3f2a``, ``model:churn@2``, ``endpoint:e``)."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise InvalidInput("node must be kind:name[@version], e.g. model:churn@2")
    name, _, version = rest.partition("@")
    if kind not in {k.value for k in NodeKind}:
        raise InvalidInput(f"unknown node kind {kind!r}")
    if version and kind in _VERSIONED:
        return _VERSIONED[kind], name, version
    if kind == NodeKind.run:
        return NodeKind.run, name, version
    return NodeKind(kind), name, version


def _resolve(db: Database, project: str, spec: str) -> Node:
    try:
        found = query.get_node(db, project=project, node_id=UUID(spec))
    except ValueError:
        kind, name, version = parse_node(spec)
        node = query.find_node(db, project=project, kind=kind, name=name, version=version)
        if node is None:
            raise NotFound(f"{spec} not found in project {project!r}") from None
        return node
    return found


@lineage_app.command("show")
def show(
    node: str = typer.Argument(..., help="kind:name[@version] or a node id"),
    project: str = typer.Option(..., "--project", "-p", help="project the node belongs to"),
    direction: str = typer.Option("upstream", help="upstream, downstream or impact"),
    depth: int = typer.Option(10, help="hops to walk"),
    at: datetime = typer.Option(None, help="as of this time (default: now)"),
    history: bool = typer.Option(False, help="every edge that ever existed"),
    format: Format = typer.Option(Format.dot, help="dot, mermaid or json"),
    output: Path = typer.Option(None, "-o", help="file to write (default: stdout)"),
    kind: list[NodeKind] = typer.Option(
        [], "--kind", help="show only nodes of this kind (repeatable; the node itself always)"
    ),
) -> None:
    """Print a node's upstream, downstream or impact subgraph."""
    if direction not in ("impact", Direction.upstream, Direction.downstream):
        raise InvalidInput("direction must be upstream, downstream or impact")
    walk = {"depth": depth, "at": at, "history": history, "kinds": kind}
    graph = (
        _remote_graph(project, node, direction, walk)
        if is_remote()
        else _local_graph(project, node, direction, walk)
    )
    if output is None and machine():
        print_data(graph, output_format())
        return
    text = render(graph, format)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text)
    done = {"file": str(output), "nodes": len(graph.nodes), "edges": len(graph.edges)}
    emit(done, lambda: f"wrote {len(graph.nodes)} nodes, {len(graph.edges)} edges to {output}")


def _local_graph(project: str, node: str, direction: str, walk: dict[str, Any]) -> Graph:
    db = database()
    authorized(db, project=project, obj="lineage", act="read")
    root = _resolve(db, project, node)
    if direction == "impact":
        return query.impact(db, project=project, node_id=root.id, at=walk["at"],
                            history=walk["history"], kinds=walk["kinds"])  # fmt: skip
    return query.walk(db, project=project, node_id=root.id, direction=Direction(direction),
                      **walk)  # fmt: skip


def _remote_graph(project: str, node: str, direction: str, walk: dict[str, Any]) -> Graph:
    base = f"/projects/{quote(project, safe='')}/lineage/nodes"
    try:
        root = Node.model_validate(remote("GET", f"{base}/{UUID(node)}"))
    except ValueError:
        kind, name, version = parse_node(node)
        found = remote("GET", base, params={"kind": kind.value, "name": name, "version": version})
        if not found:
            raise NotFound(f"{node} not found in project {project!r}") from None
        root = Node.model_validate(found[0])
    params: dict[str, Any] = {
        "at": walk["at"],
        "history": walk["history"],
        "kinds": [k.value for k in walk["kinds"]],
    }
    if direction != "impact":
        params["depth"] = walk["depth"]
    return Graph.model_validate(remote("GET", f"{base}/{root.id}/{direction}", params=params))


@lineage_app.command("history")
def history(
    endpoint: str = typer.Argument(..., help="endpoint name"),
    project: str = typer.Option(..., "--project", "-p"),
) -> None:
    """An endpoint's production history: which model version served when."""
    if is_remote():
        path = f"/projects/{quote(project, safe='')}/endpoints/{quote(endpoint, safe='')}"
        found = [Deployment.model_validate(d) for d in remote("GET", f"{path}/deployments")]
    else:
        db = database()
        authorized(db, project=project, obj="endpoint", act="read")
        found = service.list_deployments(db, project=project, endpoint=endpoint)

    def human() -> Any:
        shown = table("model", "version", "from", "until", "by")
        for d in found:
            until = d.ended_at.isoformat() if d.ended_at else "now"
            shown.add_row(d.model, str(d.version), d.started_at.isoformat(), until, d.actor)
        return shown

    emit(found, human)


@lineage_app.command("export")
def export(
    project: str = typer.Option(..., "--project", "-p"),
    output: Path = typer.Option(None, "-o", help="file to write (default: stdout)"),
) -> None:
    """Export the project's graph as OpenLineage events (one JSON document per line)."""
    lines: Iterable[str]
    if is_remote():
        lines = remote_lines(f"/projects/{quote(project, safe='')}/lineage/export")
    else:
        db = database()
        authorized(db, project=project, obj="lineage", act="read")
        lines = (json.dumps(e, sort_keys=True) + "\n" for e in export_events(db, project=project))
    if output is None and machine():
        print_data([json.loads(line) for line in lines if line.strip()], output_format())
        return
    if output is None:
        sys.stdout.writelines(lines)
        return
    with output.open("w") as fh:
        fh.writelines(lines)
    console.print(f"wrote {output}")


@lineage_app.command("ingest")
def ingest(
    file: Path = typer.Argument(..., help="OpenLineage events, one JSON document per line"),
    project: str = typer.Option(None, "--project", "-p", help="default: each job's namespace"),
) -> None:
    """Load OpenLineage events from a file (e.g. an export or a backlog)."""
    events = list(_events(file))
    if is_remote():
        results = _ingest_remote(events, project)
    else:
        results = _ingest_local(events, project)
    duplicates = sum(r.duplicate for r in results)
    data = {"applied": len(results) - duplicates, "duplicates": duplicates, "results": results}
    emit(data, lambda: f"applied {len(results) - duplicates} events ({duplicates} already known)")


def _events(file: Path) -> Iterable[tuple[dict[str, Any], str]]:
    """Each event of the file with its kind, or the line number that is not an event."""
    with file.open() as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                payload = json.loads(line)
                yield payload, validate_event(payload)
            except (ValueError, InvalidInput) as exc:
                raise InvalidInput(f"line {number}: {exc}") from exc


def _ingest_remote(
    events: list[tuple[dict[str, Any], str]], project: str | None
) -> list[IngestResult]:
    results: list[IngestResult] = []
    for start in range(0, len(events), BATCH):
        batch = [payload for payload, _ in events[start : start + BATCH]]
        found = remote("POST", "/lineage/batch", batch, params={"project": project})
        results.extend(IngestResult.model_validate(r) for r in found)
    return results


def _ingest_local(
    events: list[tuple[dict[str, Any], str]], project: str | None
) -> list[IngestResult]:
    """Apply events as the local operator, into existing projects only (routed as the API routes
    them: the namespace map, then the namespace, then the default project)."""
    db, config = database(), settings()
    results = []
    for payload, kind in events:
        target = _local_target(db, config, payload, project)
        actor = authorized(db, project=target, obj="lineage", act="write")
        get_project(db, name=target)  # the operator may write anywhere, but not invent projects
        results.append(
            openlineage.apply_event(db, payload=payload, kind=kind, project=target, actor=actor)
        )
    return results


def _local_target(
    db: Database, config: Settings, payload: dict[str, Any], project: str | None
) -> str:
    mapping = config.lineage_namespace_map
    target = olroute.project_of(payload, override=project, namespace_map=mapping)
    unmapped = not project and olroute.namespace_of(payload) not in mapping
    if unmapped and config.lineage_default_project:
        try:
            get_project(db, name=target)
        except NotFound:
            return config.lineage_default_project
    return target
