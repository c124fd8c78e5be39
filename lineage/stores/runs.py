"""Runs of jobs and the jobs themselves; never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from lineage.models import EdgeRow, NodeRow
from lineage.schemas import Edge, Job, Node, NodeKind, Run, RunReport, RunState
from lineage.stores.edges import to_edge
from lineage.stores.nodes import to_node
from lineage.stores.rows import GraphCache, NodeRows

# A job whose runs are its history: its inputs and outputs are linked to the job itself.
_HISTORY = "runs_as_history"
RunCursor = tuple[datetime, uuid.UUID]
"""(started, node id) of the last run of a page: the next page starts below it."""


class RunStore(Protocol):
    """Runs of jobs (OpenLineage's Run and Job): their state as reported so far, their edges.

    A run is a node of kind ``run`` under its job node, with the job's namespace and name and
    the OpenLineage run id as its version (create both through ``NodeStore.ensure``). Reports
    of its state fold into it in whatever order they arrive (see ``RunReport.applied_to``).
    A run's inputs are the sources of the edges into it, its outputs the targets of the edges
    out of it. A job that runs over and over (a monitor) may keep its runs as history instead:
    its inputs and outputs are edges of the job node, and each run only names the ones it
    read and wrote (``name_links``), so that its runs add no edge to the graph. Nothing here
    commits.
    """

    def find(self, project: str, run_id: str) -> Node | None:
        """A run node by its run id (OpenLineage ``runId``) or by its node id."""
        ...

    def merge_report(self, run: uuid.UUID, report: RunReport, at: datetime) -> None:
        """Fold one report into the state of a run found or made in this transaction."""
        ...

    def name_links(
        self, run: uuid.UUID, inputs: Sequence[uuid.UUID], outputs: Sequence[uuid.UUID]
    ) -> None:
        """Record which nodes a run of a history-keeping job read and wrote (no edge)."""
        ...

    def keep_history(self, job: uuid.UUID) -> list[Edge]:
        """Make a job keep its runs as history; return the edges to link onto the job instead.

        The first call on a job moves what its runs' edges said into the runs (``name_links``),
        deletes those edges and returns them with the run's end replaced by the job, for the
        caller to link. Later calls return nothing. Every call locks the job row until the
        transaction ends, so that concurrent runs of one job link each input to it only once.
        """
        ...

    def run(self, run: uuid.UUID) -> Run:
        """The run (by node id) with its inputs and outputs; raises LookupError if missing."""
        ...

    def list_runs(
        self, job: uuid.UUID, *, before: RunCursor | None = None, limit: int = 100
    ) -> list[tuple[Run, RunCursor]]:
        """Runs of a job, newest first (by start), each with its cursor, in pages below one."""
        ...

    def list_jobs(self, project: str, *, after: str = "", limit: int = 100) -> list[Job]:
        """Jobs of a project by name, in pages keyed by name."""
        ...


def _ids(values: Any) -> list[uuid.UUID]:
    return [uuid.UUID(str(v)) for v in values or ()]


def _merge(edges: list[uuid.UUID], named: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys([*edges, *named]))


def _to_run(row: NodeRow, ins: list[uuid.UUID], outs: list[uuid.UUID]) -> Run:
    a = row.attrs or {}
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
        inputs=_merge(ins, _ids(a.get("inputs"))),
        outputs=_merge(outs, _ids(a.get("outputs"))),
    )


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

    def _row(self, run: uuid.UUID, kind: NodeKind = NodeKind.run) -> NodeRow:
        row = self.rows.by_id(run)
        if row is None or row.kind != kind:
            raise LookupError(f"{kind} {run} not found")
        return row

    def merge_report(self, run: uuid.UUID, report: RunReport, at: datetime) -> None:
        """Fold one report into the state of a run found or made in this transaction."""
        row = self._row(run)
        row.attrs = report.applied_to(row.attrs or {})
        row.updated_at = at

    def name_links(
        self, run: uuid.UUID, inputs: Sequence[uuid.UUID], outputs: Sequence[uuid.UUID]
    ) -> None:
        """Record which nodes a run of a history-keeping job read and wrote (no edge)."""
        row = self._row(run)
        a = row.attrs or {}
        ins = _merge(_ids(a.get("inputs")), list(inputs))
        outs = _merge(_ids(a.get("outputs")), list(outputs))
        row.attrs = {**a, "inputs": [str(i) for i in ins], "outputs": [str(o) for o in outs]}

    def keep_history(self, job: uuid.UUID) -> list[Edge]:
        """Make a job keep its runs as history; return the edges to link onto the job instead."""
        row = self._row(job, NodeKind.job)
        # Two runs that both found no edge from an input would both add one (PostgreSQL reads
        # committed rows); SQLite writers are serialised already and compile no FOR UPDATE.
        self.session.execute(select(NodeRow.id).where(NodeRow.id == job).with_for_update())
        if (row.attrs or {}).get(_HISTORY):
            return []
        row.attrs = {**(row.attrs or {}), _HISTORY: True}
        runs = select(NodeRow.id).where(NodeRow.parent_id == job, NodeRow.kind == str(NodeKind.run))
        stmt = select(EdgeRow).where(or_(EdgeRow.dst_id.in_(runs), EdgeRow.src_id.in_(runs)))
        found = list(self.session.scalars(stmt))
        links: dict[uuid.UUID, tuple[list[uuid.UUID], list[uuid.UUID]]] = {}
        run_ids = set(self.session.scalars(runs)) if found else set()
        moved = []
        for edge in found:
            incoming = edge.dst_id in run_ids
            run = edge.dst_id if incoming else edge.src_id
            ins, outs = links.setdefault(run, ([], []))
            (ins if incoming else outs).append(edge.src_id if incoming else edge.dst_id)
            ends = {"dst": job} if incoming else {"src": job}
            moved.append(to_edge(edge).model_copy(update=ends))
            self.rows.cache.edges.pop((edge.src_id, edge.dst_id, edge.kind), None)
            self.session.delete(edge)
        for run, (ins, outs) in links.items():
            self.name_links(run, ins, outs)
        return moved

    def run(self, run: uuid.UUID) -> Run:
        """The run (by node id) with its inputs and outputs; raises LookupError if missing."""
        row = self._row(run)
        ins = select(EdgeRow.src_id).where(EdgeRow.dst_id == row.id)
        outs = select(EdgeRow.dst_id).where(EdgeRow.src_id == row.id)
        return _to_run(row, list(self.session.scalars(ins)), list(self.session.scalars(outs)))

    def list_runs(
        self, job: uuid.UUID, *, before: RunCursor | None = None, limit: int = 100
    ) -> list[tuple[Run, RunCursor]]:
        """Runs of a job, newest first (by start), each with its cursor, in pages below one."""
        stmt = select(NodeRow).where(NodeRow.parent_id == job, NodeRow.kind == str(NodeKind.run))
        if before is not None:
            at, last = before
            stmt = stmt.where(
                or_(NodeRow.created_at < at, and_(NodeRow.created_at == at, NodeRow.id < last))
            )
        order = (NodeRow.created_at.desc(), NodeRow.id.desc())
        rows = list(self.session.scalars(stmt.order_by(*order).limit(limit)))
        ids = [r.id for r in rows]
        ins: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
        outs: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
        ends = select(EdgeRow.src_id, EdgeRow.dst_id).where(
            or_(EdgeRow.dst_id.in_(ids), EdgeRow.src_id.in_(ids))
        )
        for src, dst in self.session.execute(ends) if ids else ():
            if dst in ins:
                ins[dst].append(src)
            if src in outs:
                outs[src].append(dst)
        return [(_to_run(r, ins[r.id], outs[r.id]), (r.created_at, r.id)) for r in rows]

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
