"""Persistence of judge connections, daily judge-call budgets and cached judge answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitors.evaluators.models import BudgetRow, ConnectionRow, JudgeAnswerRow
from monitors.evaluators.schemas import Connection, ConnectionSet, KeySource


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredConnection:
    """A connection with what only the service may see: its id and its key's sealed form."""

    id: uuid.UUID
    connection: Connection
    sealed_key: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class CachedAnswer:
    """A judge verdict from the cache."""

    value: float
    reason: str | None


class EvaluatorStore(Protocol):
    """Connections, budgets and the answer cache of the evaluators."""

    def connection(self, project: str, name: str) -> StoredConnection | None:
        """The named connection of ``project``, or None."""
        ...

    def connections(self, project: str) -> list[Connection]:
        """Every connection of ``project``, by name."""
        ...

    def put_connection(
        self, project: str, name: str, data: ConnectionSet, *, key_env: str | None,
        sealed_key: str | None, by: str, at: datetime,
    ) -> Connection:  # fmt: skip
        """Create or replace the named connection."""
        ...

    def delete_connection(self, project: str, name: str) -> bool:
        """Remove the named connection; whether it existed."""
        ...

    def reserve_call(self, connection_id: uuid.UUID, day: str, limit: int) -> bool:
        """Count one judge call on ``day`` unless ``limit`` calls were already made."""
        ...

    def answer(self, key: str) -> CachedAnswer | None:
        """The cached verdict under ``key``, or None."""
        ...

    def keep_answer(
        self, key: str, *, project: str, evaluator: str, value: float, reason: str | None,
        at: datetime,
    ) -> None:  # fmt: skip
        """Cache a verdict (a verdict already cached under ``key`` stays)."""
        ...


def _connection(row: ConnectionRow) -> Connection:
    source = KeySource.env if row.key_env else KeySource.sealed if row.sealed_key else None
    return Connection(
        project=row.project, name=row.name, base_url=row.base_url, model=row.model,
        key_source=source or KeySource.none, key_env=row.key_env, daily_budget=row.daily_budget,
        timeout_seconds=row.timeout_seconds, max_retries=row.max_retries,
        updated_at=row.updated_at, updated_by=row.updated_by,
    )  # fmt: skip


class SqlEvaluatorStore:
    """The evaluator store on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, project: str, name: str) -> ConnectionRow | None:
        query = select(ConnectionRow).where(
            ConnectionRow.project == project, ConnectionRow.name == name
        )
        return self.session.scalars(query).one_or_none()

    def connection(self, project: str, name: str) -> StoredConnection | None:
        """The named connection of ``project``, or None."""
        row = self._row(project, name)
        if row is None:
            return None
        return StoredConnection(id=row.id, connection=_connection(row), sealed_key=row.sealed_key)

    def connections(self, project: str) -> list[Connection]:
        """Every connection of ``project``, by name."""
        query = select(ConnectionRow).where(ConnectionRow.project == project)
        return [_connection(r) for r in self.session.scalars(query.order_by(ConnectionRow.name))]

    def put_connection(
        self, project: str, name: str, data: ConnectionSet, *, key_env: str | None,
        sealed_key: str | None, by: str, at: datetime,
    ) -> Connection:  # fmt: skip
        """Create or replace the named connection."""
        row = self._row(project, name)
        if row is None:
            row = ConnectionRow(id=uuid.uuid4(), project=project, name=name)
            self.session.add(row)
        row.base_url, row.model = data.base_url, data.model
        row.key_env, row.sealed_key = key_env, sealed_key
        row.daily_budget, row.timeout_seconds = data.daily_budget, data.timeout_seconds
        row.max_retries, row.updated_at, row.updated_by = data.max_retries, at, by
        self.session.flush()
        return _connection(row)

    def delete_connection(self, project: str, name: str) -> bool:
        """Remove the named connection; whether it existed."""
        row = self._row(project, name)
        if row is None:
            return False
        self.session.execute(delete(BudgetRow).where(BudgetRow.connection_id == row.id))
        self.session.delete(row)
        self.session.flush()
        return True

    def reserve_call(self, connection_id: uuid.UUID, day: str, limit: int) -> bool:
        """Count one judge call on ``day`` unless ``limit`` calls were already made."""
        for _ in range(2):  # a concurrent first call of the day may win the insert
            counted: CursorResult[tuple[()]] = self.session.execute(  # type: ignore[assignment]
                update(BudgetRow)
                .where(BudgetRow.connection_id == connection_id, BudgetRow.day == day)
                .where(BudgetRow.calls < limit)
                .values(calls=BudgetRow.calls + 1)
            )
            if counted.rowcount:
                return True
            if limit <= 0 or self.session.get(BudgetRow, (connection_id, day)) is not None:
                return False
            try:
                with self.session.begin_nested():
                    self.session.add(BudgetRow(connection_id=connection_id, day=day, calls=1))
                return True
            except IntegrityError:
                continue
        return False

    def answer(self, key: str) -> CachedAnswer | None:
        """The cached verdict under ``key``, or None."""
        row = self.session.get(JudgeAnswerRow, key)
        return None if row is None else CachedAnswer(value=row.value, reason=row.reason)

    def keep_answer(
        self, key: str, *, project: str, evaluator: str, value: float, reason: str | None,
        at: datetime,
    ) -> None:  # fmt: skip
        """Cache a verdict (a verdict already cached under ``key`` stays)."""
        if self.session.get(JudgeAnswerRow, key) is not None:
            return
        row = JudgeAnswerRow(
            key=key, project=project, evaluator=evaluator, value=value, reason=reason, created_at=at
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            pass  # another worker cached the same answer first
