"""Storage of prompt assets: versions, aliases and deployments to endpoints; never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.core.errors import Conflict
from governance.core.ids import new_id
from lineage.models import EdgeRow, NodeRow
from lineage.prompts.models import PromptAliasRow, PromptVersionRow
from lineage.prompts.schemas import (
    Prompt,
    PromptCreate,
    PromptDeployment,
    PromptKind,
    PromptMessage,
    PromptVersion,
)
from lineage.schemas import EdgeKind, NodeKind
from lineage.stores.rows import GraphCache, NodeRows


def to_prompt_version(
    row: PromptVersionRow, prompt: NodeRow, aliases: Sequence[str] = ()
) -> PromptVersion:
    """Serve a version row (with the asset's description and the aliases naming it)."""
    kind = PromptKind(row.kind)
    return PromptVersion(
        id=row.node_id,
        project=row.project,
        name=row.name,
        version=row.version,
        kind=kind,
        description=(prompt.attrs or {}).get("description", ""),
        messages=[PromptMessage.model_validate(m) for m in row.content]
        if kind == PromptKind.prompt
        else [],
        flow=row.content if kind == PromptKind.flow else None,
        variables=list(row.variables or []),
        model=row.model,
        model_parameters=dict(row.model_parameters or {}),
        model_version_id=row.model_version_id,
        content_hash=row.content_hash,
        created_by=row.created_by,
        created_at=row.created_at,
        aliases=sorted(aliases),
    )


class PromptStore(Protocol):
    """Prompt assets, their immutable versions, aliases, and which version served an endpoint.

    A prompt is a node of kind ``prompt``; each version a node of kind ``prompt_version`` whose
    parent is the prompt, with its content in ``lineage_prompt_versions``. A deployment is a
    ``prompt_deployed`` edge from a version to an endpoint, live until the next one replaces
    it, so at most one is live per endpoint. Nothing here commits.
    """

    def find_prompt(self, project: str, name: str) -> Prompt | None:
        """The prompt asset called ``name``."""
        ...

    def page(self, project: str, *, after: str = "", limit: int = 100) -> list[Prompt]:
        """Prompt assets by name, in pages keyed by name."""
        ...

    def versions(self, prompt: uuid.UUID) -> list[PromptVersion]:
        """Every version of a prompt, oldest first."""
        ...

    def find_version(
        self, prompt: uuid.UUID, *, version: int | None = None, alias: str | None = None
    ) -> PromptVersion | None:
        """A version by number or alias (the newest when neither is given)."""
        ...

    def find_by_hash(self, prompt: uuid.UUID, content_hash: str) -> PromptVersion | None:
        """The version with this content, if any."""
        ...

    def add_version(
        self,
        *,
        project: str,
        data: PromptCreate,
        content: Any,
        variables: list[str],
        content_hash: str,
        by: str,
        at: datetime,
    ) -> PromptVersion:
        """Insert the next version (and the prompt with its first); raises Conflict on a race."""
        ...

    def move_alias(
        self, *, alias: str, version: PromptVersion, by: str, at: datetime
    ) -> int | None:
        """Point ``alias`` at ``version``; the number it pointed at before, if any."""
        ...

    def remove_alias(self, prompt: uuid.UUID, alias: str) -> int | None:
        """Remove an alias; the number it pointed at (None: there was no such alias)."""
        ...

    def endpoint_id(self, project: str, name: str) -> uuid.UUID | None:
        """The node id of the endpoint called ``name``."""
        ...

    def record_deployment(
        self, *, endpoint: uuid.UUID, version: PromptVersion, actor: str, note: str, at: datetime
    ) -> PromptDeployment:
        """Serve ``version`` at ``endpoint`` from ``at``, ending the previous prompt there."""
        ...

    def deployments(
        self, endpoint: uuid.UUID, at: datetime | None = None
    ) -> list[PromptDeployment]:
        """The endpoint's prompt deployments, oldest first (only the one live at ``at``)."""
        ...


class SqlPromptStore:
    """PromptStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session, cache: GraphCache | None = None) -> None:
        self.session = session
        self.rows = NodeRows(session, cache if cache is not None else GraphCache())

    def _prompt_row(self, prompt: uuid.UUID) -> NodeRow:
        row = self.rows.by_id(prompt)
        if row is None or row.kind != NodeKind.prompt:
            raise LookupError(f"prompt {prompt} not found")
        return row

    def find_prompt(self, project: str, name: str) -> Prompt | None:
        """The prompt asset called ``name``."""
        row = self.rows.get(project, NodeKind.prompt, project, name)
        return None if row is None else self._summaries([row])[0]

    def page(self, project: str, *, after: str = "", limit: int = 100) -> list[Prompt]:
        """Prompt assets by name, in pages keyed by name."""
        return self._summaries(self.rows.page(project, NodeKind.prompt, after=after, limit=limit))

    def _summaries(self, rows: Sequence[NodeRow]) -> list[Prompt]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        stmt_counts = (
            select(PromptVersionRow.prompt_id, func.max(PromptVersionRow.version))
            .where(PromptVersionRow.prompt_id.in_(ids))
            .group_by(PromptVersionRow.prompt_id)
        )
        counts = dict(self.session.execute(stmt_counts).tuples().all())
        aliases: dict[uuid.UUID, dict[str, int]] = {}
        stmt = (
            select(PromptAliasRow.prompt_id, PromptAliasRow.alias, PromptVersionRow.version)
            .join(PromptVersionRow, PromptVersionRow.node_id == PromptAliasRow.version_id)
            .where(PromptAliasRow.prompt_id.in_(ids))
        )
        for prompt_id, alias, number in self.session.execute(stmt).tuples():
            aliases.setdefault(prompt_id, {})[alias] = number
        return [_prompt(r, counts.get(r.id, 0), aliases.get(r.id, {})) for r in rows]

    def _aliases(self, prompt_id: uuid.UUID) -> dict[uuid.UUID, list[str]]:
        names: dict[uuid.UUID, list[str]] = {}
        stmt = select(PromptAliasRow).where(PromptAliasRow.prompt_id == prompt_id)
        for a in self.session.scalars(stmt):
            names.setdefault(a.version_id, []).append(a.alias)
        return names

    def _serve(self, prompt: uuid.UUID, rows: Sequence[PromptVersionRow]) -> list[PromptVersion]:
        if not rows:
            return []
        names, node = self._aliases(prompt), self._prompt_row(prompt)
        return [to_prompt_version(r, node, names.get(r.node_id, ())) for r in rows]

    def versions(self, prompt: uuid.UUID) -> list[PromptVersion]:
        """Every version of a prompt, oldest first."""
        stmt = (
            select(PromptVersionRow)
            .where(PromptVersionRow.prompt_id == prompt)
            .order_by(PromptVersionRow.version)
        )
        return self._serve(prompt, self.session.scalars(stmt).all())

    def find_version(
        self, prompt: uuid.UUID, *, version: int | None = None, alias: str | None = None
    ) -> PromptVersion | None:
        """A version by number or alias (the newest when neither is given)."""
        stmt = select(PromptVersionRow).where(PromptVersionRow.prompt_id == prompt)
        if alias is not None:
            stmt = stmt.join(
                PromptAliasRow,
                and_(
                    PromptAliasRow.version_id == PromptVersionRow.node_id,
                    PromptAliasRow.alias == alias,
                ),
            )
        elif version is not None:
            stmt = stmt.where(PromptVersionRow.version == version)
        row = self.session.scalars(stmt.order_by(PromptVersionRow.version.desc()).limit(1)).first()
        return None if row is None else self._serve(prompt, [row])[0]

    def find_by_hash(self, prompt: uuid.UUID, content_hash: str) -> PromptVersion | None:
        """The version with this content, if any."""
        row = self.session.scalars(
            select(PromptVersionRow).where(
                PromptVersionRow.prompt_id == prompt,
                PromptVersionRow.content_hash == content_hash,
            )
        ).first()
        return None if row is None else self._serve(prompt, [row])[0]

    def add_version(
        self,
        *,
        project: str,
        data: PromptCreate,
        content: Any,
        variables: list[str],
        content_hash: str,
        by: str,
        at: datetime,
    ) -> PromptVersion:
        """Insert the next version (and the prompt with its first); raises Conflict on a race."""
        prompt, _ = self.rows.ensure(
            project=project,
            kind=NodeKind.prompt,
            namespace=project,
            name=data.name,
            attrs={"prompt_kind": str(data.kind), "description": data.description},
            at=at,
        )
        if data.description and data.description != (prompt.attrs or {}).get("description"):
            # The asset's description is the one its newest version was posted with.
            prompt.attrs = {**(prompt.attrs or {}), "description": data.description}
        number = self.rows.count_children(prompt.id) + 1
        try:
            with self.session.begin_nested():
                node = self.rows.add(
                    project=project,
                    kind=NodeKind.prompt_version,
                    namespace=project,
                    name=data.name,
                    version=str(number),
                    parent=prompt.id,
                    attrs={"content_hash": content_hash, "model": data.model},
                    at=at,
                )
                row = PromptVersionRow(
                    node_id=node.id,
                    prompt_id=prompt.id,
                    project=project,
                    name=data.name,
                    version=number,
                    kind=str(data.kind),
                    content=content,
                    variables=variables,
                    model=data.model,
                    model_parameters=data.model_parameters,
                    model_version_id=data.model_version_id,
                    content_hash=content_hash,
                    created_by=by,
                    created_at=at,
                )
                self.session.add(row)
                self.session.flush()
        except IntegrityError as exc:
            raise Conflict(f"prompt {data.name!r} got a new version concurrently; retry") from exc
        return to_prompt_version(row, prompt)

    def _alias(self, prompt_id: uuid.UUID, alias: str) -> PromptAliasRow | None:
        return self.session.scalars(
            select(PromptAliasRow).where(
                PromptAliasRow.prompt_id == prompt_id, PromptAliasRow.alias == alias
            )
        ).first()

    def _version_row(self, version_id: uuid.UUID) -> PromptVersionRow:
        row = self.session.get(PromptVersionRow, version_id)
        if row is None:
            raise LookupError(f"prompt version {version_id} not found")
        return row

    def _number(self, version_id: uuid.UUID) -> int:
        return self._version_row(version_id).version

    def move_alias(
        self, *, alias: str, version: PromptVersion, by: str, at: datetime
    ) -> int | None:
        """Point ``alias`` at ``version``; the number it pointed at before, if any."""
        prompt = self._prompt_row(self._version_row(version.id).prompt_id)
        row = self._alias(prompt.id, alias)
        if row is None:
            self.session.add(
                PromptAliasRow(
                    id=new_id(),
                    project=prompt.project,
                    prompt_id=prompt.id,
                    alias=alias,
                    version_id=version.id,
                    updated_by=by,
                    updated_at=at,
                )
            )
            return None
        previous = self._number(row.version_id)
        row.version_id, row.updated_by, row.updated_at = version.id, by, at
        return previous

    def remove_alias(self, prompt: uuid.UUID, alias: str) -> int | None:
        """Remove an alias; the number it pointed at (None: there was no such alias)."""
        row = self._alias(prompt, alias)
        if row is None:
            return None
        previous = self._number(row.version_id)
        self.session.delete(row)
        return previous

    def endpoint_id(self, project: str, name: str) -> uuid.UUID | None:
        """The node id of the endpoint called ``name``."""
        row = self.rows.get(project, NodeKind.endpoint, project, name)
        return None if row is None else row.id

    def record_deployment(
        self, *, endpoint: uuid.UUID, version: PromptVersion, actor: str, note: str, at: datetime
    ) -> PromptDeployment:
        """Serve ``version`` at ``endpoint`` from ``at``, ending the previous prompt there."""
        target = self._endpoint_row(endpoint)
        self.session.execute(
            update(EdgeRow)
            .where(
                EdgeRow.dst_id == target.id,
                EdgeRow.kind == str(EdgeKind.prompt_deployed),
                EdgeRow.valid_to.is_(None),
            )
            .values(valid_to=at)
        )
        edge = EdgeRow(
            id=new_id(),
            project=target.project,
            src_id=version.id,
            dst_id=target.id,
            kind=str(EdgeKind.prompt_deployed),
            valid_from=at,
            valid_to=None,
            attrs={"actor": actor, "note": note},
        )
        self.session.add(edge)
        # The endpoint names its current prompt, so that reading an endpoint needs no walk.
        current = {"name": version.name, "version": version.version, "since": at.isoformat()}
        target.attrs = {**(target.attrs or {}), "prompt": current}
        target.updated_at = at
        return _deployment(edge, target.name, version.name, version.version)

    def _endpoint_row(self, endpoint: uuid.UUID) -> NodeRow:
        row = self.rows.by_id(endpoint)
        if row is None or row.kind != NodeKind.endpoint:
            raise LookupError(f"endpoint {endpoint} not found")
        return row

    def deployments(
        self, endpoint: uuid.UUID, at: datetime | None = None
    ) -> list[PromptDeployment]:
        """The endpoint's prompt deployments, oldest first (only the one live at ``at``)."""
        target = self._endpoint_row(endpoint)
        conds = [EdgeRow.dst_id == target.id, EdgeRow.kind == str(EdgeKind.prompt_deployed)]
        if at is not None:
            conds += [
                EdgeRow.valid_from <= at,
                or_(EdgeRow.valid_to.is_(None), EdgeRow.valid_to > at),
            ]
        stmt = (
            select(EdgeRow, PromptVersionRow.name, PromptVersionRow.version)
            .join(PromptVersionRow, PromptVersionRow.node_id == EdgeRow.src_id)
            .where(*conds)
            .order_by(EdgeRow.valid_from, EdgeRow.id)
        )
        return [
            _deployment(edge, target.name, name, number)
            for edge, name, number in self.session.execute(stmt).tuples()
        ]


def _prompt(row: NodeRow, versions: int, aliases: dict[str, int]) -> Prompt:
    attrs = row.attrs or {}
    return Prompt(
        id=row.id,
        project=row.project,
        name=row.name,
        kind=PromptKind(attrs.get("prompt_kind", PromptKind.prompt)),
        description=attrs.get("description", ""),
        created_at=row.created_at,
        versions=versions,
        aliases=dict(sorted(aliases.items())),
    )


def _deployment(edge: EdgeRow, endpoint: str, name: str, number: int) -> PromptDeployment:
    attrs = edge.attrs or {}
    return PromptDeployment(
        endpoint=endpoint,
        name=name,
        version=number,
        prompt_version_id=edge.src_id,
        started_at=edge.valid_from,
        ended_at=edge.valid_to,
        actor=attrs.get("actor", ""),
        note=attrs.get("note", ""),
    )
