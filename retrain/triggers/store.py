"""SQL storage of triggers, their launches and evaluation progress; never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from governance.core.ids import new_id
from retrain.triggers.models import TriggerLaunchRow, TriggerProgressRow, TriggerRow
from retrain.triggers.schemas import ConditionKind, Trigger, TriggerLaunch, TriggerSpec


@dataclass(frozen=True, kw_only=True, slots=True)
class LaunchCreate:
    """A launch to record under its (trigger, key)."""

    trigger: Trigger
    kind: ConditionKind
    key: str
    at: datetime
    run_id: uuid.UUID
    launched_by: str
    now: datetime


def _trigger(row: TriggerRow) -> Trigger:
    return Trigger(
        id=row.id, project=row.project, spec=TriggerSpec.model_validate(row.spec),
        owner=row.owner, revision=row.revision, created_at=row.created_at,
        updated_at=row.updated_at, active_since=row.active_since, last_fired_at=row.last_fired_at,
    )  # fmt: skip


def _launch(row: TriggerLaunchRow) -> TriggerLaunch:
    return TriggerLaunch(
        id=row.id, trigger_id=row.trigger_id, trigger=row.trigger, project=row.project,
        kind=ConditionKind(row.kind), at=row.at, key=row.key, run_id=row.run_id,
        launched_by=row.launched_by, launched_at=row.launched_at,
    )  # fmt: skip


def _spec_json(spec: TriggerSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


class TriggerStore(Protocol):
    """Storage of triggers and their launches.

    Methods work inside the caller's transaction and never commit. ``add_launch`` raises
    IntegrityError when the (trigger, key) is taken: that is how daemons racing for one breach
    learn that another recorded it. Nothing returned is an ORM row.
    """

    def get(self, project: str, name: str) -> Trigger | None:
        """A trigger by name, if it exists."""
        ...

    def of_project(self, project: str | None, *, enabled_only: bool = False) -> list[Trigger]:
        """Triggers of a project (or of every project), by project and name."""
        ...

    def add(self, project: str, spec: TriggerSpec, *, owner: str, now: datetime) -> Trigger:
        """Store a new trigger owned by ``owner``."""
        ...

    def replace(
        self, trigger_id: uuid.UUID, spec: TriggerSpec, *, now: datetime, reactivate: bool
    ) -> Trigger:
        """Store a changed spec; ``reactivate`` counts windows from ``now`` on."""
        ...

    def remove(self, trigger_id: uuid.UUID) -> None:
        """Delete a trigger with its launches."""
        ...

    def add_launch(self, data: LaunchCreate) -> TriggerLaunch:
        """Record a launch (first statement of its transaction) and the trigger's last fire."""
        ...

    def find_launch(self, trigger_id: uuid.UUID, key: str) -> TriggerLaunch | None:
        """The launch recorded under (trigger, key), if any."""
        ...

    def launches(
        self, trigger_id: uuid.UUID, *, since: datetime | None = None, limit: int
    ) -> list[TriggerLaunch]:
        """Launches of a trigger, newest ``at`` first (only ``at >= since`` when given)."""
        ...

    def checked_until(self, trigger_id: uuid.UUID) -> datetime | None:
        """Up to where the trigger's windows or fire times are decided."""
        ...

    def advance(self, trigger_id: uuid.UUID, until: datetime) -> None:
        """Move the evaluation mark forward to ``until`` (never back)."""
        ...


class SqlTriggerStore:
    """TriggerStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, project: str, name: str) -> Trigger | None:
        """A trigger by name, if it exists."""
        query = select(TriggerRow).where(TriggerRow.project == project, TriggerRow.name == name)
        row = self.session.scalars(query).one_or_none()
        return None if row is None else _trigger(row)

    def of_project(self, project: str | None, *, enabled_only: bool = False) -> list[Trigger]:
        """Triggers of a project (or of every project), by project and name."""
        query = select(TriggerRow).order_by(TriggerRow.project, TriggerRow.name)
        if project is not None:
            query = query.where(TriggerRow.project == project)
        if enabled_only:
            query = query.where(TriggerRow.enabled.is_(True))
        return [_trigger(r) for r in self.session.scalars(query)]

    def add(self, project: str, spec: TriggerSpec, *, owner: str, now: datetime) -> Trigger:
        """Store a new trigger owned by ``owner``."""
        row = TriggerRow(
            id=new_id(), project=project, name=spec.name, kind=spec.kind.value,
            spec=_spec_json(spec), enabled=spec.enabled, owner=owner, revision=1,
            created_at=now, updated_at=now, active_since=now, last_fired_at=None,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return _trigger(row)

    def replace(
        self, trigger_id: uuid.UUID, spec: TriggerSpec, *, now: datetime, reactivate: bool
    ) -> Trigger:
        """Store a changed spec; ``reactivate`` counts windows from ``now`` on."""
        row = self.session.get(TriggerRow, trigger_id, populate_existing=True)
        assert row is not None
        row.spec, row.kind, row.enabled = _spec_json(spec), spec.kind.value, spec.enabled
        row.revision, row.updated_at = row.revision + 1, now
        if reactivate:
            row.active_since = now
        self.session.flush()
        return _trigger(row)

    def remove(self, trigger_id: uuid.UUID) -> None:
        """Delete a trigger with its launches."""
        self.session.execute(delete(TriggerRow).where(TriggerRow.id == trigger_id))

    def add_launch(self, data: LaunchCreate) -> TriggerLaunch:
        """Record a launch (first statement of its transaction) and the trigger's last fire."""
        row = TriggerLaunchRow(
            id=new_id(), trigger_id=data.trigger.id, project=data.trigger.project,
            trigger=data.trigger.name, kind=data.kind.value, key=data.key, at=data.at,
            run_id=data.run_id, launched_by=data.launched_by, launched_at=data.now,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        if data.kind is not ConditionKind.manual:
            newer = (TriggerRow.last_fired_at.is_(None)) | (TriggerRow.last_fired_at < data.at)
            self.session.execute(
                update(TriggerRow)
                .where(TriggerRow.id == data.trigger.id, newer)
                .values(last_fired_at=data.at)
                .execution_options(synchronize_session=False)
            )
        return _launch(row)

    def find_launch(self, trigger_id: uuid.UUID, key: str) -> TriggerLaunch | None:
        """The launch recorded under (trigger, key), if any."""
        query = select(TriggerLaunchRow).where(
            TriggerLaunchRow.trigger_id == trigger_id, TriggerLaunchRow.key == key
        )
        row = self.session.scalars(query).one_or_none()
        return None if row is None else _launch(row)

    def launches(
        self, trigger_id: uuid.UUID, *, since: datetime | None = None, limit: int
    ) -> list[TriggerLaunch]:
        """Launches of a trigger, newest ``at`` first (only ``at >= since`` when given)."""
        query = select(TriggerLaunchRow).where(TriggerLaunchRow.trigger_id == trigger_id)
        if since is not None:
            query = query.where(TriggerLaunchRow.at >= since)
        order = (TriggerLaunchRow.at.desc(), TriggerLaunchRow.launched_at.desc())
        return [_launch(r) for r in self.session.scalars(query.order_by(*order).limit(limit))]

    def checked_until(self, trigger_id: uuid.UUID) -> datetime | None:
        """Up to where the trigger's windows or fire times are decided."""
        row = self.session.get(TriggerProgressRow, trigger_id, populate_existing=True)
        return None if row is None else row.checked_until

    def advance(self, trigger_id: uuid.UUID, until: datetime) -> None:
        """Move the evaluation mark forward to ``until`` (never back)."""
        moved = self.session.execute(
            update(TriggerProgressRow)
            .where(TriggerProgressRow.trigger_id == trigger_id)
            .values(checked_until=until)
            .where(TriggerProgressRow.checked_until < until)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 0 and self.checked_until(trigger_id) is None:  # type: ignore[attr-defined]
            self.session.add(TriggerProgressRow(trigger_id=trigger_id, checked_until=until))
            self.session.flush()
