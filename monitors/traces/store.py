"""Redaction settings of projects; never commits."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from monitors.traces.models import RedactionRow
from monitors.traces.schemas import BuiltinRule, RedactionRule, RedactionSettings


class RedactionStore(Protocol):
    """Each project's PII-redaction setting (the default one when none was saved)."""

    def get(self, project: str) -> RedactionSettings:
        """The project's setting, or the default: every built-in rule, no custom rule."""
        ...

    def put(self, project: str, settings: RedactionSettings) -> RedactionSettings:
        """Replace the project's setting."""
        ...


class SqlRedactionStore:
    """RedactionStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, project: str) -> RedactionSettings:
        """The project's setting, or the default: every built-in rule, no custom rule."""
        row = self.session.get(RedactionRow, project)
        if row is None:
            return RedactionSettings()
        return RedactionSettings(
            builtins=[BuiltinRule(b) for b in row.builtins],
            custom=[RedactionRule.model_validate(c) for c in row.custom],
            updated_by=row.updated_by,
            updated_at=row.updated_at,
        )

    def put(self, project: str, settings: RedactionSettings) -> RedactionSettings:
        """Replace the project's setting."""
        assert settings.updated_by is not None and settings.updated_at is not None
        row = self.session.get(RedactionRow, project)
        if row is None:
            row = RedactionRow(project=project)
            self.session.add(row)
        row.builtins = [str(b) for b in settings.builtins]
        row.custom = [c.model_dump() for c in settings.custom]
        row.updated_by = settings.updated_by
        row.updated_at = settings.updated_at
        self.session.flush()
        return settings
