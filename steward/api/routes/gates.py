"""Routes of retrain's gates: the decisions, with every number they were made from."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from governance.core.errors import InvalidInput
from retrain.gate import service
from retrain.gate.schemas import GateDecision
from steward.api.deps import Caller, Cursor, Limit, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["gates"], responses=ERROR_RESPONSES)

ProjectName = Annotated[str, Path(max_length=64)]
_BASE = "/projects/{project}/gates"


def _cursor(cursor: str | None) -> UUID | None:
    if cursor is None:
        return None
    try:
        return UUID(cursor)
    except ValueError as exc:
        raise InvalidInput("invalid cursor") from exc


@router.get(_BASE, response_model=list[GateDecision])
def list_gate_decisions(
    project: ProjectName,
    caller: Annotated[Caller, Depends(require("job", "read"))],
    svc: ServicesDep,
    run: Annotated[UUID | None, Query(description="only decisions of this pipeline run")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[GateDecision]:
    """Gate decisions, newest first; pass the last id as ``cursor`` for the next page."""
    return service.list_decisions(
        svc.db, project=project, run_id=run, before=_cursor(cursor), limit=limit
    )


@router.get(_BASE + "/{decision_id}", response_model=GateDecision)
def get_gate_decision(
    project: ProjectName,
    decision_id: UUID,
    caller: Annotated[Caller, Depends(require("job", "read"))],
    svc: ServicesDep,
) -> GateDecision:
    """One gate decision: per metric and fairness limit, the values, bounds and outcome."""
    return service.get_decision(svc.db, project=project, decision_id=decision_id)
