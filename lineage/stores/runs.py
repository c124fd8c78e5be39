"""Runs of jobs and the jobs themselves; never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineage.models import EdgeRow, NodeRow
from lineage.schemas import Job, Node, NodeKind, Run, RunReport, RunState
from lineage.stores.nodes import to_node
from lineage.stores.rows import GraphCache, NodeRows


class RunStore(Protocol):
    """Runs of jobs (OpenLineage's Run and Job): their state as reported so far, their edges.

    A run is a node of kind ``run`` under its job node, with the job's namespace and name and
    the OpenLineage run id as its version (create both through ``NodeStore.ensure``). Reports
    of its state fold into it in whatever order they arrive (see ``RunReport.applied_to``).
    A run's inputs are the sources of the edges into it, its outputs the targets of the edges
    out of it. Nothing here commits.
    """

    def find(self, project: str, run_id: str) -> Node | None:
        """A run node by its run id (OpenLineage ``runId``) or by its node id."""
        ...

    def merge_report(self, run: uuid.UUID, report: RunReport, at: datetime) -> None:
        """Fold one report into the state of a run found or made in this transaction."""
        ...

    def run(self, run: uuid.UUID) -> Run:
        """The run (by node id) with its inputs and outputs; raises LookupError if missing."""
        ...

    def list_jobs(self, project: str, *, after: str = "", limit: int = 100) -> list[Job]:
        """Jobs of a project by name, in pages keyed by name."""
        ...


class SqlRunStore:
    """RunStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session, cache: GraphCache | None = None) -> None:
        self.session = session
        self.rows = NodeRows(session, cache if cache is not None else GraphCache())

    def find(self, project: str, run_id: str) -> Node | None:
        """A run node by its run id (OpenLineage ``runId``) or by its node id."""
        stmt = select(NodeRow).where(
            NodeRow.project == project,
            NodeRow.kind == str(NodeKind.run),
            NodeRow.version == run_id,
        )
        row = self.session.scalars(stmt).first()
        if row is None:
            try:
                row = self.rows.by_id(uuid.UUID(run_id))
            except ValueError:
                return None
        if row is None or row.project != project or row.kind != NodeKind.run:
            return None
        return to_node(row)

    def _row(self, run: uuid.UUID) -> NodeRow:
        row = self.rows.by_id(run)
        if row is None or row.kind != NodeKind.run:
            raise LookupError(f"run {run} not found")
        return row

    def merge_report(self, run: uuid.UUID, report: RunReport, at: datetime) -> None:
        """Fold one report into the state of a run found or made in this transaction."""
        row = self._row(run)
        row.attrs = report.applied_to(row.attrs or {})
        row.updated_at = at

    def run(self, run: uuid.UUID) -> Run:
        """The run (by node id) with its inputs and outputs; raises LookupError if missing."""
        row = self._row(run)
        a = row.attrs or {}
        ins = select(EdgeRow.src_id).where(EdgeRow.dst_id == row.id)
        outs = select(EdgeRow.dst_id).where(EdgeRow.src_id == row.id)
        return Run(
            id=row.id,
            project=row.project,
            job_namespace=row.namespace,
            job=row.name,
            run_id=row.version,
            state=RunState(a.get("state", RunState.other)),
            started_at=a.get("started_at"),
            ended_at=a.get("ended_at"),
            parameters=a.get("parameters", {}),
            code_version=a.get("code_version"),
            facets=a.get("facets", {}),
            inputs=list(self.session.scalars(ins)),
            outputs=list(self.session.scalars(outs)),
        )

    def list_jobs(self, project: str, *, after: str = "", limit: int = 100) -> list[Job]:
        """Jobs of a project by name, in pages keyed by name."""
        return [
            Job(
                id=r.id,
                project=project,
                namespace=r.namespace,
                name=r.name,
                created_at=r.created_at,
                facets=(r.attrs or {}).get("facets", {}),
            )
            for r in self.rows.page(project, NodeKind.job, after=after, limit=limit)
        ]
