"""SQL storage of monitor definitions; never commits."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from governance.core.errors import InvalidState, NotFound
from governance.core.ids import new_id
from monitors.specs.models import MonitorRow
from monitors.specs.schemas import Monitor, MonitorSpec

log = logging.getLogger("steward.monitors")
MAX_LISTED_PROBLEMS = 5


class StoredSpecRefused(InvalidState):
    """A stored monitor whose definition this version refuses (stored before a rule existed).

    Such a monitor neither runs nor reads as valid; applying a corrected definition under its
    name replaces it, and deleting it works, so the owner can always repair it.
    """

    code = "monitor_spec_refused"

    def __init__(self, row: MonitorRow, problems: list[dict[str, Any]]) -> None:
        shown = "; ".join(f"{p['loc']}: {p['msg']}" for p in problems[:MAX_LISTED_PROBLEMS])
        more = len(problems) - MAX_LISTED_PROBLEMS
        super().__init__(
            f"monitor {row.name!r} (revision {row.revision}) was stored with a definition this"
            f" version refuses ({shown}{f'; {more} more' if more > 0 else ''}); apply a"
            " corrected definition under the same name, or delete the monitor",
            errors=problems,
        )
        self.monitor_id = row.id
        self.name = row.name
        self.revision = row.revision


def _monitor(row: MonitorRow) -> Monitor:
    try:
        spec = MonitorSpec.model_validate(row.spec)
    except ValidationError as exc:
        problems = [
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()
        ]
        raise StoredSpecRefused(row, problems) from None
    return Monitor(
        id=row.id,
        project=row.project,
        spec=spec,
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
        revision=row.revision,
    )


class MonitorStore(Protocol):
    """Storage of monitor definitions.

    Methods work inside the caller's transaction and never commit. A monitor is unique by
    (project, name); it is returned as a ``Monitor`` whose spec is the validated
    ``MonitorSpec``: a stored spec that no longer validates raises ``StoredSpecRefused``
    (``list`` with ``skip_refused`` logs and leaves it out instead). ``add`` raises
    IntegrityError when the name is taken; ``replace`` bumps the revision and raises NotFound
    for an unknown id; ``remove`` deletes the monitor's runs and results with it.
    """

    def get(self, project: str, name: str) -> Monitor | None:
        """The monitor called ``name`` in ``project``, if any."""
        ...

    def by_id(self, monitor_id: uuid.UUID) -> Monitor | None:
        """The monitor with this id, if any."""
        ...

    def list(
        self, project: str | None, *, enabled_only: bool = False, skip_refused: bool = False
    ) -> list[Monitor]:
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

    def list(
        self, project: str | None, *, enabled_only: bool = False, skip_refused: bool = False
    ) -> list[Monitor]:
        """Monitors of one project (or of all), by project and name."""
        query = select(MonitorRow).order_by(MonitorRow.project, MonitorRow.name)
        if project is not None:
            query = query.where(MonitorRow.project == project)
        if enabled_only:
            query = query.where(MonitorRow.enabled.is_(True))
        found = []
        for row in self.session.scalars(query):
            try:
                found.append(_monitor(row))
            except StoredSpecRefused as exc:
                if not skip_refused:
                    raise
                log.error("monitor %s/%s left out: %s", row.project, row.name, exc.detail)
        return found

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
