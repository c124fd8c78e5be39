"""SQL storage of principals, tokens, projects and role bindings; never commits.

The contracts are split by use case (principals, tokens, projects, bindings); ``AccessStore`` is
all four, and ``SqlAccessStore`` implements it on one session. Every method takes and returns
values and schemas: rows are built and read here and never leave this module.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.access.models import (
    BindingEpochRow,
    PrincipalRow,
    ProjectRow,
    RoleBindingRow,
    TokenRow,
)
from governance.access.schemas import (
    PrincipalInfo,
    ProjectInfo,
    RoleBinding,
    StoredToken,
    TokenInfo,
)
from governance.core.errors import NotFound
from governance.core.ids import new_id
from governance.core.principal import PrincipalKind


class PrincipalStore(Protocol):
    """Users and service accounts, by their unique name."""

    def add_principal(
        self, *, name: str, kind: PrincipalKind, display_name: str, created_at: datetime
    ) -> PrincipalInfo:
        """Insert an enabled principal; the caller has checked that the name is free."""
        ...

    def find_principal(self, name: str) -> PrincipalInfo | None:
        """The principal called ``name``, or None."""
        ...

    def principals(self) -> list[PrincipalInfo]:
        """Every principal, by name."""
        ...


class TokenStore(Protocol):
    """API tokens: a lookup prefix and the SHA-256 of the secret, never the secret itself."""

    def add_token(
        self,
        *,
        owner: PrincipalInfo,
        name: str,
        prefix: str,
        secret_hash: str,
        created_at: datetime,
        expires_at: datetime | None,
    ) -> TokenInfo:
        """Insert a token of ``owner``."""
        ...

    def find_token(self, token_id: uuid.UUID) -> StoredToken | None:
        """A token and its owner by id, or None."""
        ...

    def find_token_by_prefix(self, prefix: str) -> StoredToken | None:
        """A token and its owner by lookup prefix (what a presented token names), or None."""
        ...

    def tokens(self, principal_id: uuid.UUID | None) -> list[TokenInfo]:
        """Tokens of one principal (or of everyone when None), newest first."""
        ...

    def revoke_token(self, token_id: uuid.UUID, when: datetime) -> TokenInfo:
        """Mark a token revoked at ``when`` and return it as stored; NotFound if unknown."""
        ...


class ProjectStore(Protocol):
    """Projects: the casbin domains every project-scoped asset belongs to."""

    def add_project(
        self, *, name: str, description: str, created_at: datetime, retention_days: int | None
    ) -> ProjectInfo:
        """Insert a project; the caller has checked that the name is free."""
        ...

    def find_project(self, name: str) -> ProjectInfo | None:
        """The project called ``name``, or None."""
        ...

    def projects(self, names: set[str] | None = None) -> list[ProjectInfo]:
        """Projects (restricted to ``names`` when given), by name."""
        ...

    def lock_project(self, name: str) -> ProjectInfo | None:
        """The project called ``name``, locked until the transaction ends (None: no such)."""
        ...

    def set_settings(
        self, project_id: uuid.UUID, *, retention_days: int | None, alert_cooldown: timedelta | None
    ) -> ProjectInfo:
        """Replace a project's retention and alert cooldown (None: the server default)."""
        ...


class BindingStore(Protocol):
    """Role bindings (principal, role, project) and the epoch that tells processes to reload.

    Every change of bindings is followed by ``bump_epoch`` in the same transaction, so that a
    process whose policy engine was loaded at an older epoch reloads it.
    """

    def add_binding(
        self, *, principal_id: uuid.UUID, project_id: uuid.UUID, role: str, created_at: datetime
    ) -> bool:
        """Bind ``role``; False (and nothing written) when the principal already holds it."""
        ...

    def remove_binding(self, *, principal_id: uuid.UUID, project_id: uuid.UUID, role: str) -> bool:
        """Delete a binding; False when there was none."""
        ...

    def bindings(self, project_id: uuid.UUID | None = None) -> list[RoleBinding]:
        """Bindings of one project (or of all), by project and principal."""
        ...

    def lock_role(self, project_id: uuid.UUID, role: str) -> int:
        """Lock the project's bindings of ``role`` until the transaction ends; how many there are.

        A concurrent transaction that locks the same bindings waits, then counts what the first
        one left: two revocations cannot both see the other's binding still there.
        """
        ...

    def epoch(self) -> int:
        """The current binding epoch (0 before the first change)."""
        ...

    def bump_epoch(self) -> None:
        """Signal every process that bindings changed."""
        ...


class AccessStore(PrincipalStore, TokenStore, ProjectStore, BindingStore, Protocol):
    """Identities, tokens, projects and bindings: everything ``governance.access`` stores."""


def _principal(row: PrincipalRow) -> PrincipalInfo:
    return PrincipalInfo(
        id=row.id,
        name=row.name,
        kind=PrincipalKind(row.kind),
        display_name=row.display_name,
        created_at=row.created_at,
        disabled=row.disabled,
    )


def _project(row: ProjectRow) -> ProjectInfo:
    return ProjectInfo(
        id=row.id,
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        retention_days=row.retention_days,
        alert_cooldown=(
            None if row.alert_cooldown_seconds is None
            else timedelta(seconds=row.alert_cooldown_seconds)
        ),
    )  # fmt: skip


def _token(row: TokenRow, principal: str) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        principal=principal,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class SqlAccessStore:
    """Identities, tokens, projects and bindings in the metadata database."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _insert(self, row: Any) -> None:
        self.session.add(row)
        self.session.flush()

    # principals
    def add_principal(
        self, *, name: str, kind: PrincipalKind, display_name: str, created_at: datetime
    ) -> PrincipalInfo:
        """Insert an enabled principal."""
        row = PrincipalRow(
            id=new_id(),
            name=name,
            kind=str(kind),
            display_name=display_name,
            created_at=created_at,
            disabled=False,
        )
        self._insert(row)
        return _principal(row)

    def find_principal(self, name: str) -> PrincipalInfo | None:
        """The principal called ``name``, or None."""
        stmt = select(PrincipalRow).where(PrincipalRow.name == name)
        row = self.session.scalars(stmt).first()
        return None if row is None else _principal(row)

    def principals(self) -> list[PrincipalInfo]:
        """Every principal, by name."""
        return [_principal(r) for r in self.session.scalars(select(PrincipalRow).order_by("name"))]

    # tokens
    def add_token(
        self,
        *,
        owner: PrincipalInfo,
        name: str,
        prefix: str,
        secret_hash: str,
        created_at: datetime,
        expires_at: datetime | None,
    ) -> TokenInfo:
        """Insert a token of ``owner``."""
        row = TokenRow(
            id=new_id(),
            principal_id=owner.id,
            name=name,
            prefix=prefix,
            secret_hash=secret_hash,
            created_at=created_at,
            expires_at=expires_at,
            revoked_at=None,
        )
        self._insert(row)
        return _token(row, owner.name)

    def _stored(self, where: ColumnElement[bool], *, fresh: bool = False) -> StoredToken | None:
        stmt = (
            select(TokenRow, PrincipalRow)
            .join(PrincipalRow, PrincipalRow.id == TokenRow.principal_id)
            .where(where)
            .execution_options(populate_existing=fresh)
        )
        found = self.session.execute(stmt).first()
        if found is None:
            return None
        token, owner = found[0], found[1]
        return StoredToken(
            token=_token(token, owner.name), owner=_principal(owner), secret_hash=token.secret_hash
        )

    def find_token(self, token_id: uuid.UUID) -> StoredToken | None:
        """A token and its owner by id, or None."""
        return self._stored(TokenRow.id == token_id)

    def find_token_by_prefix(self, prefix: str) -> StoredToken | None:
        """A token and its owner by lookup prefix, or None."""
        return self._stored(TokenRow.prefix == prefix)

    def tokens(self, principal_id: uuid.UUID | None) -> list[TokenInfo]:
        """Tokens of one principal (or all), newest first."""
        stmt = select(TokenRow, PrincipalRow.name).join(
            PrincipalRow, PrincipalRow.id == TokenRow.principal_id
        )
        if principal_id is not None:
            stmt = stmt.where(TokenRow.principal_id == principal_id)
        rows = self.session.execute(stmt.order_by(TokenRow.created_at.desc()))
        return [_token(t, name) for t, name in rows]

    def revoke_token(self, token_id: uuid.UUID, when: datetime) -> TokenInfo:
        """Mark a token revoked and return it as stored."""
        self.session.execute(
            update(TokenRow).where(TokenRow.id == token_id).values(revoked_at=when)
        )
        # Read back what the database holds (timestamps normalised), not what was sent.
        stored = self._stored(TokenRow.id == token_id, fresh=True)
        if stored is None:
            raise NotFound("token not found")
        return stored.token

    # projects
    def add_project(
        self, *, name: str, description: str, created_at: datetime, retention_days: int | None
    ) -> ProjectInfo:
        """Insert a project."""
        row = ProjectRow(
            id=new_id(),
            name=name,
            description=description,
            created_at=created_at,
            retention_days=retention_days,
        )
        self._insert(row)
        return _project(row)

    def find_project(self, name: str) -> ProjectInfo | None:
        """The project called ``name``, or None."""
        row = self.session.scalars(select(ProjectRow).where(ProjectRow.name == name)).first()
        return None if row is None else _project(row)

    def projects(self, names: set[str] | None = None) -> list[ProjectInfo]:
        """Projects (restricted to ``names`` when given), by name."""
        stmt = select(ProjectRow).order_by(ProjectRow.name)
        if names is not None:
            stmt = stmt.where(ProjectRow.name.in_(sorted(names)))
        return [_project(r) for r in self.session.scalars(stmt)]

    def lock_project(self, name: str) -> ProjectInfo | None:
        """The project called ``name``, its row locked (SELECT ... FOR UPDATE), or None."""
        stmt = select(ProjectRow).where(ProjectRow.name == name).with_for_update()
        row = self.session.scalars(stmt).first()
        return None if row is None else _project(row)

    def set_settings(
        self, project_id: uuid.UUID, *, retention_days: int | None, alert_cooldown: timedelta | None
    ) -> ProjectInfo:
        """Replace a project's retention and alert cooldown."""
        row = self.session.get_one(ProjectRow, project_id)
        row.retention_days = retention_days
        row.alert_cooldown_seconds = (
            None if alert_cooldown is None else int(alert_cooldown.total_seconds())
        )
        self.session.flush()
        return _project(row)

    # bindings
    def add_binding(
        self, *, principal_id: uuid.UUID, project_id: uuid.UUID, role: str, created_at: datetime
    ) -> bool:
        """Bind ``role``; False when the principal already holds it there."""
        row = RoleBindingRow(
            id=new_id(),
            principal_id=principal_id,
            project_id=project_id,
            role=role,
            created_at=created_at,
        )
        try:
            # A savepoint: the unique constraint decides, and the transaction stays usable.
            with self.session.begin_nested():
                self._insert(row)
        except IntegrityError:
            return False
        return True

    def remove_binding(self, *, principal_id: uuid.UUID, project_id: uuid.UUID, role: str) -> bool:
        """Delete a binding; False when there was none."""
        result = self.session.execute(
            delete(RoleBindingRow).where(
                RoleBindingRow.principal_id == principal_id,
                RoleBindingRow.project_id == project_id,
                RoleBindingRow.role == role,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    def bindings(self, project_id: uuid.UUID | None = None) -> list[RoleBinding]:
        """Bindings of one project (or all)."""
        stmt = (
            select(
                PrincipalRow.name, RoleBindingRow.role, ProjectRow.name, RoleBindingRow.created_at
            )
            .join(PrincipalRow, PrincipalRow.id == RoleBindingRow.principal_id)
            .join(ProjectRow, ProjectRow.id == RoleBindingRow.project_id)
        )
        if project_id is not None:
            stmt = stmt.where(RoleBindingRow.project_id == project_id)
        rows = self.session.execute(stmt.order_by(ProjectRow.name, PrincipalRow.name))
        return [RoleBinding(principal=p, role=r, project=d, created_at=c) for p, r, d, c in rows]

    def lock_role(self, project_id: uuid.UUID, role: str) -> int:
        """Lock the project's bindings of ``role`` (SELECT ... FOR UPDATE); how many there are."""
        # SQLite has no row locks and needs none: BEGIN IMMEDIATE already serialises writers.
        stmt = (
            select(RoleBindingRow.id)
            .where(RoleBindingRow.project_id == project_id, RoleBindingRow.role == role)
            .with_for_update()
        )
        return len(self.session.scalars(stmt).all())

    def epoch(self) -> int:
        """Current binding epoch."""
        row = self.session.get(BindingEpochRow, 1)
        return 0 if row is None else row.value

    def bump_epoch(self) -> None:
        """Signal every process that bindings changed."""
        row = self.session.get(BindingEpochRow, 1, with_for_update=True)
        if row is None:
            self.session.add(BindingEpochRow(id=1, value=1))
        else:
            row.value += 1
        self.session.flush()
