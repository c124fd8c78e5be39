"""SQL storage of monitor definitions; never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from governance.core.errors import NotFound
from governance.core.ids import new_id
from monitors.specs.models import MonitorRow
from monitors.specs.schemas import Monitor, MonitorSpec


def _monitor(row: MonitorRow) -> Monitor:
    return Monitor(
        id=row.id,
        project=row.project,
        spec=MonitorSpec.model_validate(row.spec),
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
        revision=row.revision,
    )


class MonitorStore(Protocol):
    """Storage of monitor definitions.

    Methods work inside the caller's transaction and never commit. A monitor is unique by
    (project, name); it is returned as a ``Monitor`` whose spec is the validated
    ``MonitorSpec``. ``add`` raises IntegrityError when the name is taken; ``replace`` bumps
    the revision and raises NotFound for an unknown id; ``remove`` deletes the monitor's runs
    and results with it.
    """

    def get(self, project: str, name: str) -> Monitor | None:
        """The monitor called ``name`` in ``project``, if any."""
        ...

    def by_id(self, monitor_id: uuid.UUID) -> Monitor | None:
        """The monitor with this id, if any."""
        ...

    def list(self, project: str | None, *, enabled_only: bool = False) -> list[Monitor]:
        """Monitors of one project (or of all), by project and name."""
        ...

    def add(self, project: str, spec: MonitorSpec, *, created_by: str, when: datetime) -> Monitor:
        """Insert a new monitor at revision 1."""
        ...

    def replace(self, monitor_id: uuid.UUID, spec: MonitorSpec, *, when: datetime) -> Monitor:
        """Store a new spec for an existing monitor and bump its revision."""
        ...

    def remove(self, monitor_id: uuid.UUID) -> None:
        """Delete a monitor with its runs and results."""
        ...


class SqlMonitorStore:
    """MonitorStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, project: str, name: str) -> MonitorRow | None:
        query = select(MonitorRow).where(MonitorRow.project == project, MonitorRow.name == name)
        return self.session.scalars(query).one_or_none()

    def get(self, project: str, name: str) -> Monitor | None:
        """The monitor called ``name`` in ``project``, if any."""
        row = self._row(project, name)
        return None if row is None else _monitor(row)

    def by_id(self, monitor_id: uuid.UUID) -> Monitor | None:
        """The monitor with this id, if any."""
        row = self.session.get(MonitorRow, monitor_id)
        return None if row is None else _monitor(row)

    def list(self, project: str | None, *, enabled_only: bool = False) -> list[Monitor]:
        """Monitors of one project (or of all), by project and name."""
        query = select(MonitorRow).order_by(MonitorRow.project, MonitorRow.name)
        if project is not None:
            query = query.where(MonitorRow.project == project)
        if enabled_only:
            query = query.where(MonitorRow.enabled.is_(True))
        return [_monitor(r) for r in self.session.scalars(query)]

    def add(self, project: str, spec: MonitorSpec, *, created_by: str, when: datetime) -> Monitor:
        """Insert a new monitor at revision 1."""
        row = MonitorRow(
            id=new_id(),
            project=project,
            name=spec.name,
            spec=spec.model_dump(mode="json"),
            enabled=spec.enabled,
            revision=1,
            created_at=when,
            updated_at=when,
            created_by=created_by,
        )
        self.session.add(row)
        self.session.flush()
        return _monitor(row)

    def replace(self, monitor_id: uuid.UUID, spec: MonitorSpec, *, when: datetime) -> Monitor:
        """Store a new spec for an existing monitor and bump its revision."""
        row = self.session.get(MonitorRow, monitor_id, with_for_update=True)
        if row is None:
            raise NotFound("monitor not found")
        row.spec = spec.model_dump(mode="json")
        row.enabled = spec.enabled
        row.revision += 1
        row.updated_at = when
        self.session.flush()
        return _monitor(row)

    def remove(self, monitor_id: uuid.UUID) -> None:
        """Delete a monitor; its runs and results go with it (ON DELETE CASCADE)."""
        self.session.execute(delete(MonitorRow).where(MonitorRow.id == monitor_id))
