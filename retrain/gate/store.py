"""SQL storage of gate decisions; never commits."""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from retrain.gate.models import GateDecisionRow
from retrain.gate.schemas import GateDecision, ModelRef


def _decision(row: GateDecisionRow) -> GateDecision:
    champion = None
    if row.champion_model is not None and row.champion_version is not None:
        champion = ModelRef(model=row.champion_model, version=row.champion_version)
    return GateDecision(
        id=row.id, project=row.project, run_id=row.run_id, endpoint=row.endpoint,
        challenger=ModelRef(model=row.challenger_model, version=row.challenger_version),
        champion=champion, passed=row.passed, reasons=list(row.reasons),
        details=dict(row.details), decided_at=row.decided_at, decided_by=row.decided_by,
    )  # fmt: skip


class GateDecisionStore(Protocol):
    """Storage of gate decisions, inside the caller's transaction; returns schemas."""

    def add(self, decision: GateDecision) -> GateDecision:
        """Keep a decision."""
        ...

    def find(self, project: str, decision_id: uuid.UUID) -> GateDecision | None:
        """One decision of a project, or None."""
        ...

    def page(
        self, project: str, *, run_id: uuid.UUID | None, before: uuid.UUID | None, limit: int
    ) -> list[GateDecision]:
        """Decisions of a project (of one pipeline run), newest first, ids below ``before``."""
        ...


class SqlGateDecisionStore:
    """Gate decisions in the ``retrain_gate_decisions`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, decision: GateDecision) -> GateDecision:
        """Keep a decision."""
        champion = decision.champion
        row = GateDecisionRow(
            id=decision.id, project=decision.project, run_id=decision.run_id,
            endpoint=decision.endpoint, challenger_model=decision.challenger.model,
            challenger_version=decision.challenger.version,
            champion_model=champion.model if champion else None,
            champion_version=champion.version if champion else None,
            passed=decision.passed, reasons=decision.reasons, details=decision.details,
            decided_at=decision.decided_at, decided_by=decision.decided_by,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return _decision(row)

    def find(self, project: str, decision_id: uuid.UUID) -> GateDecision | None:
        """One decision of a project, or None."""
        row = self.session.get(GateDecisionRow, decision_id)
        return _decision(row) if row is not None and row.project == project else None

    def page(
        self, project: str, *, run_id: uuid.UUID | None, before: uuid.UUID | None, limit: int
    ) -> list[GateDecision]:
        """Decisions of a project (of one pipeline run), newest first, ids below ``before``."""
        query = select(GateDecisionRow).where(GateDecisionRow.project == project)
        if run_id is not None:
            query = query.where(GateDecisionRow.run_id == run_id)
        if before is not None:
            query = query.where(GateDecisionRow.id < before)
        rows = self.session.scalars(query.order_by(GateDecisionRow.id.desc()).limit(limit))
        return [_decision(r) for r in rows]
