"""SQL storage of rollouts, their scoring counts and deploy webhooks; never commits.

A rollout ends by a conditional UPDATE on its state: of two servers rolling one back at once,
one changes the row and the other learns from an update that changed nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from governance.core.ids import new_id
from retrain.rollout.models import DeployWebhookRow, RolloutCountRow, RolloutRow
from retrain.rollout.schemas import DeployWebhook, Rollout, RolloutState, Strategy

_ACTIVE = RolloutState.active.value


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutCreate:
    """A rollout to store (active)."""

    project: str
    endpoint: str
    model: str
    version: int
    previous_model: str | None
    previous_version: int | None
    strategy: Strategy
    percent: int | None
    shadow_endpoint: str | None
    started_by: str
    reason: str
    approval_id: uuid.UUID | None
    gate_decision_id: uuid.UUID | None
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SealedWebhook:
    """A deploy webhook with its secret as stored (sealed)."""

    webhook: DeployWebhook
    sealed_secret: str


def _rollout(row: RolloutRow, counts: RolloutCountRow | None) -> Rollout:
    return Rollout(
        id=row.id, project=row.project, endpoint=row.endpoint, model=row.model,
        version=row.version, previous_model=row.previous_model,
        previous_version=row.previous_version, strategy=Strategy(row.strategy),
        percent=row.percent, state=RolloutState(row.state), shadow_endpoint=row.shadow_endpoint,
        started_at=row.started_at, ended_at=row.ended_at, started_by=row.started_by,
        ended_by=row.ended_by, reason=row.reason, end_reason=row.end_reason,
        approval_id=row.approval_id, gate_decision_id=row.gate_decision_id,
        requests=counts.requests if counts else 0, errors=counts.errors if counts else 0,
    )  # fmt: skip


def _with_counts() -> Select[RolloutRow, RolloutCountRow]:
    return select(RolloutRow, RolloutCountRow).outerjoin(
        RolloutCountRow, RolloutCountRow.rollout_id == RolloutRow.id
    )


class RolloutStore(Protocol):
    """Rollouts, their scoring counts and the projects' deploy webhooks.

    Methods work inside the caller's transaction and never commit. ``end`` and ``supersede``
    change a rollout only from the states they are given and return None otherwise (another
    transaction ended it first). Nothing returned is an ORM row.
    """

    def add(self, data: RolloutCreate) -> Rollout:
        """Store a new active rollout (with zero counts)."""
        ...

    def get(self, project: str, rollout_id: uuid.UUID) -> Rollout | None:
        """One rollout of ``project``."""
        ...

    def active(self, project: str, endpoint: str) -> Rollout | None:
        """The endpoint's active rollout (one query)."""
        ...

    def all_active(self) -> list[Rollout]:
        """Every active rollout of every project."""
        ...

    def latest(self, project: str, endpoint: str) -> Rollout | None:
        """The endpoint's newest rollout, whatever its state."""
        ...

    def page(self, project: str, endpoint: str, *, limit: int) -> list[Rollout]:
        """The endpoint's rollouts, newest first."""
        ...

    def end(
        self, rollout_id: uuid.UUID, *, states: Sequence[RolloutState], to: RolloutState,
        by: str, reason: str, at: datetime,
    ) -> Rollout | None:  # fmt: skip
        """Move a rollout in one of ``states`` to ``to``; None if it was in none of them."""
        ...

    def add_counts(
        self, rollout_id: uuid.UUID, *, requests: int, errors: int, at: datetime
    ) -> Rollout | None:
        """Add to a rollout's counts; the rollout with its new totals."""
        ...

    def webhook(self, project: str) -> SealedWebhook | None:
        """The project's deploy webhook."""
        ...

    def set_webhook(
        self, project: str, *, url: str, sealed_secret: str, enabled: bool, by: str, at: datetime
    ) -> DeployWebhook:
        """Create or replace the project's deploy webhook."""
        ...


class SqlRolloutStore:
    """RolloutStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, data: RolloutCreate) -> Rollout:
        """Store a new active rollout (with zero counts)."""
        row = RolloutRow(
            id=new_id(), project=data.project, endpoint=data.endpoint, model=data.model,
            version=data.version, previous_model=data.previous_model,
            previous_version=data.previous_version, strategy=str(data.strategy),
            percent=data.percent, state=_ACTIVE, shadow_endpoint=data.shadow_endpoint,
            started_at=data.at, ended_at=None, started_by=data.started_by, ended_by=None,
            reason=data.reason, end_reason="", approval_id=data.approval_id,
            gate_decision_id=data.gate_decision_id,
        )  # fmt: skip
        counts = RolloutCountRow(rollout_id=row.id, requests=0, errors=0, updated_at=data.at)
        self.session.add(row)
        self.session.flush()  # the rollout first: the counts refer to it
        self.session.add(counts)
        self.session.flush()
        return _rollout(row, counts)

    def _one(self, stmt: Select[RolloutRow, RolloutCountRow]) -> Rollout | None:
        found = self.session.execute(stmt.limit(1)).first()
        return None if found is None else _rollout(found[0], found[1])

    def get(self, project: str, rollout_id: uuid.UUID) -> Rollout | None:
        """One rollout of ``project``."""
        stmt = _with_counts().where(RolloutRow.id == rollout_id, RolloutRow.project == project)
        return self._one(stmt)

    def active(self, project: str, endpoint: str) -> Rollout | None:
        """The endpoint's active rollout (one query)."""
        return self._one(
            _with_counts().where(
                RolloutRow.project == project,
                RolloutRow.endpoint == endpoint,
                RolloutRow.state == _ACTIVE,
            )
        )

    def all_active(self) -> list[Rollout]:
        """Every active rollout of every project."""
        stmt = _with_counts().where(RolloutRow.state == _ACTIVE).order_by(RolloutRow.started_at)
        return [_rollout(r, c) for r, c in self.session.execute(stmt)]

    def latest(self, project: str, endpoint: str) -> Rollout | None:
        """The endpoint's newest rollout, whatever its state."""
        found = self.page(project, endpoint, limit=1)
        return found[0] if found else None

    def page(self, project: str, endpoint: str, *, limit: int) -> list[Rollout]:
        """The endpoint's rollouts, newest first."""
        stmt = (
            _with_counts()
            .where(RolloutRow.project == project, RolloutRow.endpoint == endpoint)
            .order_by(RolloutRow.started_at.desc(), RolloutRow.id.desc())
            .limit(limit)
        )
        return [_rollout(r, c) for r, c in self.session.execute(stmt)]

    def end(
        self, rollout_id: uuid.UUID, *, states: Sequence[RolloutState], to: RolloutState,
        by: str, reason: str, at: datetime,
    ) -> Rollout | None:  # fmt: skip
        """Move a rollout in one of ``states`` to ``to``; None if it was in none of them."""
        values: dict[str, Any] = {"state": str(to), "ended_by": by, "end_reason": reason}
        values["ended_at"] = at
        changed = self.session.execute(
            update(RolloutRow)
            .where(RolloutRow.id == rollout_id, RolloutRow.state.in_([str(s) for s in states]))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(changed, "rowcount", 0) != 1:
            return None
        return self._one(_with_counts().where(RolloutRow.id == rollout_id))

    def add_counts(
        self, rollout_id: uuid.UUID, *, requests: int, errors: int, at: datetime
    ) -> Rollout | None:
        """Add to a rollout's counts; the rollout with its new totals."""
        self.session.execute(
            update(RolloutCountRow)
            .where(RolloutCountRow.rollout_id == rollout_id)
            .values(
                requests=RolloutCountRow.requests + requests,
                errors=RolloutCountRow.errors + errors,
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )
        return self._one(_with_counts().where(RolloutRow.id == rollout_id))

    def webhook(self, project: str) -> SealedWebhook | None:
        """The project's deploy webhook."""
        row = self.session.get(DeployWebhookRow, project)
        return (
            None if row is None else SealedWebhook(webhook=_webhook(row), sealed_secret=row.secret)
        )

    def set_webhook(
        self, project: str, *, url: str, sealed_secret: str, enabled: bool, by: str, at: datetime
    ) -> DeployWebhook:
        """Create or replace the project's deploy webhook."""
        row = self.session.get(DeployWebhookRow, project)
        if row is None:
            row = DeployWebhookRow(project=project)
            self.session.add(row)
        row.url, row.secret, row.enabled = url, sealed_secret, enabled
        row.updated_at, row.updated_by = at, by
        self.session.flush()
        return _webhook(row)


def _webhook(row: DeployWebhookRow) -> DeployWebhook:
    return DeployWebhook(
        project=row.project, url=row.url, enabled=row.enabled, updated_at=row.updated_at,
        updated_by=row.updated_by,
    )  # fmt: skip
