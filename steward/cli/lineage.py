"""``steward lineage show|history|export|ingest``: the asset graph from the command line."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from uuid import UUID

import typer
from rich.table import Table

from governance.access.service import get_project
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound
from lineage import openlineage, query, service
from lineage.export import export_events
from lineage.graph import Direction
from lineage.olschema import validate_event
from lineage.render import Format, render
from lineage.schemas import Graph, Node, NodeKind
from steward.cli.context import authorized, console, database

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
    db = database()
    authorized(db, project=project, obj="lineage", act="read")
    root = _resolve(db, project, node)
    graph: Graph
    if direction == "impact":
        graph = query.impact(
            db, project=project, node_id=root.id, at=at, history=history, kinds=kind
        )
    elif direction in (Direction.upstream, Direction.downstream):
        graph = query.walk(
            db,
            project=project,
            node_id=root.id,
            direction=Direction(direction),
            depth=depth,
            at=at,
            history=history,
            kinds=kind,
        )
    else:
        raise InvalidInput("direction must be upstream, downstream or impact")
    text = render(graph, format)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text)
    console.print(f"wrote {len(graph.nodes)} nodes, {len(graph.edges)} edges to {output}")


@lineage_app.command("history")
def history(
    endpoint: str = typer.Argument(..., help="endpoint name"),
    project: str = typer.Option(..., "--project", "-p"),
) -> None:
    """An endpoint's production history: which model version served when."""
    db = database()
    authorized(db, project=project, obj="endpoint", act="read")
    deployments = service.list_deployments(db, project=project, endpoint=endpoint)
    table = Table("model", "version", "from", "until", "by")
    for d in deployments:
        until = d.ended_at.isoformat() if d.ended_at else "now"
        table.add_row(d.model, str(d.version), d.started_at.isoformat(), until, d.actor)
    console.print(table)


@lineage_app.command("export")
def export(
    project: str = typer.Option(..., "--project", "-p"),
    output: Path = typer.Option(None, "-o", help="file to write (default: stdout)"),
) -> None:
    """Export the project's graph as OpenLineage events (one JSON document per line)."""
    db = database()
    authorized(db, project=project, obj="lineage", act="read")
    lines = (json.dumps(e, sort_keys=True) + "\n" for e in export_events(db, project=project))
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
    """Load OpenLineage events from a file, as the local operator (e.g. an export or a backlog)."""
    db = database()
    applied = duplicates = 0
    with file.open() as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                payload = json.loads(line)
                kind = validate_event(payload)
            except (ValueError, InvalidInput) as exc:
                raise InvalidInput(f"line {number}: {exc}") from exc
            target = openlineage.project_of(payload, override=project, namespace_map={})
            actor = authorized(db, project=target, obj="lineage", act="write")
            get_project(db, name=target)  # the operator may write anywhere, but not invent projects
            result = openlineage.apply_event(
                db, payload=payload, kind=kind, project=target, actor=actor
            )
            duplicates += result.duplicate
            applied += not result.duplicate
    console.print(f"applied {applied} events ({duplicates} already known)")
