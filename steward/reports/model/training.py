"""Sections ``training_data`` (the run that produced the version, its input dataset versions and
their upstream lineage) and ``evaluation`` (every metric recorded for the version)."""

from __future__ import annotations

from typing import Any

from governance.core.errors import NotFound
from lineage import service as lineage
from lineage.graph import Direction
from lineage.query import get_node, walk
from lineage.schemas import DatasetVersion, Node, NodeKind
from steward.reports.blocks import (
    Block,
    Cell,
    Graph,
    GraphEdge,
    GraphNode,
    Section,
    Source,
    Table,
)
from steward.reports.document import ReportContext
from steward.reports.model.common import cell, section, src, when
from steward.reports.model.records import ModelRecords

UPSTREAM_DEPTH = 10


def training_section(ctx: ReportContext, records: ModelRecords) -> Section:
    """Section ``training_data``: producing run, input dataset versions, upstream graph."""
    blocks: list[Block] = []
    missing: list[str] = []
    run = records.lineage_run
    if run is None:
        missing.append("no lineage run is linked to the version")
    else:
        blocks.append(
            Table(
                caption="The run that produced the version",
                columns=["job", "run id", "state", "started", "ended"],
                rows=[
                    [
                        f"{run.job_namespace}/{run.job}",
                        run.run_id,
                        str(run.state),
                        when(run.started_at),
                        when(run.ended_at),
                    ]
                ],
                sources=[src("lineage_node", run.id)],
            )
        )
    datasets = _datasets(ctx, records)
    if datasets:
        blocks.append(_dataset_table(datasets))
    else:
        missing.append("no input dataset version is recorded")
    blocks.append(_graph(ctx, records))
    return section("training_data", "Training data and lineage", blocks, missing=missing)


def _datasets(ctx: ReportContext, records: ModelRecords) -> list[DatasetVersion]:
    """The dataset versions the producing run read, or the version is derived from."""
    ids = set(records.lineage_run.inputs) if records.lineage_run else set()
    graph = walk(
        ctx.db,
        project=ctx.project,
        node_id=records.version.id,
        direction=Direction.upstream,
        depth=1,
        history=True,
    )
    ids |= {n.id for n in graph.nodes if n.kind is NodeKind.dataset_version}
    found: dict[str, DatasetVersion] = {}
    for node_id in ids:
        node = get_node(ctx.db, project=ctx.project, node_id=node_id)
        if node.kind is NodeKind.dataset_version:
            version = _dataset_version(ctx, node)
            if version is not None:
                found[str(version.id)] = version
    return sorted(found.values(), key=lambda d: (d.name, d.version, str(d.id)))


def _dataset_version(ctx: ReportContext, node: Node) -> DatasetVersion | None:
    try:
        return lineage.get_dataset_version(
            ctx.db,
            project=ctx.project,
            name=node.name,
            version=node.version,
            namespace=node.namespace,
        )
    except NotFound:
        return None


def _dataset_table(datasets: list[DatasetVersion]) -> Table:
    rows: list[list[Cell]] = [
        [d.name, d.version, d.sha256, d.row_count, len(d.columns) or None, when(d.created_at)]
        for d in datasets
    ]
    return Table(
        caption="Input dataset versions",
        columns=["dataset", "version", "sha256", "rows", "columns", "registered"],
        rows=rows,
        sources=[src("dataset_version", d.id) for d in datasets],
    )


def _graph(ctx: ReportContext, records: ModelRecords) -> Graph:
    """Everything upstream of the version (every edge that ever existed)."""
    root = records.version.id
    graph = walk(
        ctx.db,
        project=ctx.project,
        node_id=root,
        direction=Direction.upstream,
        depth=UPSTREAM_DEPTH,
        history=True,
    )
    nodes = [
        GraphNode(id=str(n.id), kind=str(n.kind), label=_label(n), focus=n.id == root)
        for n in sorted(graph.nodes, key=lambda n: str(n.id))
    ]
    edges = sorted(
        {(str(e.src), str(e.dst), str(e.kind)) for e in graph.edges},
    )
    return Graph(
        title="Upstream lineage of the version",
        nodes=nodes,
        edges=[GraphEdge(source=s, target=t, label=k) for s, t, k in edges],
    )


def _label(node: Node) -> str:
    if node.kind is NodeKind.run:
        return f"run {node.name} {node.version[:8]}".strip()
    return f"{node.name}@{node.version[:16]}" if node.version else node.name


def evaluation_section(ctx: ReportContext, records: ModelRecords) -> Section:
    """Section ``evaluation``: registry, pipeline and gate metrics of the version, each sourced."""
    del ctx
    rows: list[list[Cell]] = []
    sources: list[Source | None] = []

    def add(origin: str, values: dict[str, Any], source: Source) -> None:
        for metric in sorted(values):
            rows.append([origin, metric, cell(values[metric])])
            sources.append(source)

    mv = records.version
    add("registered with the version", mv.metrics, src("model_version", mv.id))
    for run in records.pipeline_runs:
        for name, out in sorted(run.outputs.items()):
            if isinstance(out, dict) and out.get("kind") == "metrics":
                add(
                    f"pipeline {run.pipeline} output {name}",
                    out.get("values", {}),
                    src("pipeline_run", run.id),
                )
    for gate in records.gates:
        role = "challenger" if gate.challenger.version == mv.version else "champion"
        scores = (gate.details.get("scores") or {}).get(role) or {}
        holdout = (gate.details.get("holdout") or {}).get("rows")
        add(f"gate holdout ({holdout} rows) as {role}", scores, src("gate_decision", gate.id))
    if not rows:
        return section("evaluation", "Evaluation", [], missing=["no metrics are recorded"])
    table = Table(
        caption="Metrics recorded for the version",
        columns=["source", "metric", "value"],
        rows=rows,
        sources=sources,
    )
    return section("evaluation", "Evaluation", [table], missing=[])
