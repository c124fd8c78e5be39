"""SQL storage of principals, tokens, projects and role bindings; never commits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from governance.access.models import (
    BindingEpochRow,
    PrincipalRow,
    ProjectRow,
    RoleBindingRow,
    TokenRow,
)
from governance.access.schemas import PrincipalInfo, ProjectInfo, RoleBinding, TokenInfo
from governance.core.principal import PrincipalKind


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
    )


class SqlAccessStore:
    """Identities, tokens, projects and bindings in the metadata database."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # principals
    def add_principal(self, row: PrincipalRow) -> PrincipalInfo:
        """Insert a principal."""
        self.session.add(row)
        self.session.flush()
        return _principal(row)

    def principal_row(self, name: str) -> PrincipalRow | None:
        """The principal called ``name``."""
        return self.session.scalars(select(PrincipalRow).where(PrincipalRow.name == name)).first()

    def principals(self) -> list[PrincipalInfo]:
        """Every principal, by name."""
        return [_principal(r) for r in self.session.scalars(select(PrincipalRow).order_by("name"))]

    # tokens
    def add_token(self, row: TokenRow) -> None:
        """Insert a token row."""
        self.session.add(row)
        self.session.flush()

    def token_by_prefix(self, prefix: str) -> tuple[TokenRow, PrincipalRow] | None:
        """A token and its owner by lookup prefix."""
        stmt = (
            select(TokenRow, PrincipalRow)
            .join(PrincipalRow, PrincipalRow.id == TokenRow.principal_id)
            .where(TokenRow.prefix == prefix)
        )
        row = self.session.execute(stmt).first()
        return None if row is None else (row[0], row[1])

    def token_row(self, token_id: uuid.UUID) -> TokenRow | None:
        """A token by id."""
        return self.session.get(TokenRow, token_id)

    def tokens(self, principal_id: uuid.UUID | None) -> list[TokenInfo]:
        """Tokens of one principal (or all), newest first."""
        stmt = select(TokenRow, PrincipalRow.name).join(
            PrincipalRow, PrincipalRow.id == TokenRow.principal_id
        )
        if principal_id is not None:
            stmt = stmt.where(TokenRow.principal_id == principal_id)
        rows = self.session.execute(stmt.order_by(TokenRow.created_at.desc()))
        return [token_info(t, name) for t, name in rows]

    def revoke_token(self, token_id: uuid.UUID, when: datetime) -> None:
        """Mark a token revoked."""
        self.session.execute(
            update(TokenRow).where(TokenRow.id == token_id).values(revoked_at=when)
        )

    # projects
    def add_project(self, row: ProjectRow) -> ProjectInfo:
        """Insert a project."""
        self.session.add(row)
        self.session.flush()
        return _project(row)

    def project_row(self, name: str) -> ProjectRow | None:
        """The project called ``name``."""
        return self.session.scalars(select(ProjectRow).where(ProjectRow.name == name)).first()

    def projects(self, names: set[str] | None = None) -> list[ProjectInfo]:
        """Projects (restricted to ``names`` when given), by name."""
        stmt = select(ProjectRow).order_by(ProjectRow.name)
        if names is not None:
            stmt = stmt.where(ProjectRow.name.in_(sorted(names)))
        return [_project(r) for r in self.session.scalars(stmt)]

    # bindings
    def add_binding(self, row: RoleBindingRow) -> None:
        """Insert a binding."""
        self.session.add(row)
        self.session.flush()

    def remove_binding(self, principal_id: uuid.UUID, project_id: uuid.UUID, role: str) -> int:
        """Delete a binding; returns how many rows went."""
        result = self.session.execute(
            delete(RoleBindingRow).where(
                RoleBindingRow.principal_id == principal_id,
                RoleBindingRow.project_id == project_id,
                RoleBindingRow.role == role,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

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

    def count_role(self, project_id: uuid.UUID, role: str) -> int:
        """How many principals hold ``role`` in the project."""
        stmt = select(func.count()).where(
            RoleBindingRow.project_id == project_id, RoleBindingRow.role == role
        )
        return int(self.session.scalar(stmt) or 0)

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


def token_info(row: TokenRow, principal: str) -> TokenInfo:
    """Token row to its public metadata."""
    return TokenInfo(
        id=row.id,
        principal=principal,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )
