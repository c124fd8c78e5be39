"""Storage of the model catalogue: entries, links into projects, licence rules; never commits."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.core.errors import Conflict
from governance.core.ids import new_id
from lineage.catalog.models import CatalogEntryRow, CatalogLicenceRuleRow, CatalogLinkRow
from lineage.catalog.schemas import (
    CatalogEntry,
    CatalogLink,
    CatalogQuery,
    LicenceRule,
    Visibility,
)
from lineage.catalog.search import rank_documents
from lineage.models import NodeRow
from lineage.schemas import ModelCard

# Inline, not a parameter: the planner matches it to the expression index of the column.
_TS_CONFIG: ColumnElement[Any] = literal_column("'english'::regconfig")
_SEPARATORS = re.compile(r"[/._:@+-]+")


@dataclass(frozen=True, kw_only=True, slots=True)
class Viewer:
    """What a caller may see of the catalogue.

    ``member``: holds a role in some project (``_system`` included), so sees the entries visible
    to the organisation; ``model_readers``: the projects whose models the caller may read, whose
    project-visible entries it sees; ``everything``: a system principal (CLI operator, daemon).
    """

    member: bool
    model_readers: frozenset[str] = frozenset()
    everything: bool = False


def to_entry(row: CatalogEntryRow) -> CatalogEntry:
    """Serve an entry row."""
    attrs = row.attrs or {}
    return CatalogEntry.model_validate(
        {
            "id": row.id, "name": row.name, "source": row.source,
            "visibility": row.visibility, "project": row.project, "model": row.model,
            "description": row.description, "card": ModelCard.model_validate(row.card or {}),
            "licence": row.licence, "intended_use": row.intended_use,
            "limitations": row.limitations, "evaluations": row.evaluations or [],
            "tags": row.tags or [], "versions": row.versions or [],
            "provider": attrs.get("provider", {}), "created_by": row.created_by,
            "created_at": row.created_at, "updated_by": row.updated_by,
            "updated_at": row.updated_at, "history": row.history or [],
            "withdrawn": row.withdrawn_at is not None, "withdrawn_by": row.withdrawn_by,
            "withdrawn_at": row.withdrawn_at, "withdrawn_reason": row.withdrawn_reason,
        }
    )  # fmt: skip


def search_text(values: dict[str, Any]) -> str:
    """The one text full-text search reads: name, description, card, use, limitations, tags."""
    card = values.get("card") or {}
    name = values.get("name", "")
    parts = [
        # PostgreSQL's parser reads "alpha/churn" as one file-path token: the words go too
        f"{name} {_SEPARATORS.sub(' ', name)}",
        values.get("description", ""),
        " ".join(card.get("owners") or []),
        *(card.get(k) or "" for k in ("intended_use", "limitations", "out_of_scope_uses")),
        values.get("intended_use", ""),
        values.get("limitations", ""),
        " ".join(values.get("tags", [])),
    ]
    return "\n".join(p for p in parts if p)


def _visible(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.everything:
        return true()
    org = CatalogEntryRow.visibility == Visibility.organisation.value
    readers = CatalogEntryRow.project.in_(sorted(viewer.model_readers))
    return or_(and_(org, true() if viewer.member else false()), readers)


class CatalogStore(Protocol):
    """Catalogue entries, the links that put them into projects, and projects' licence rules.

    Entries are found by id only when the viewer may see them (``None`` otherwise, the same as
    an entry that does not exist). Writes raise ``Conflict`` when a listed entry already holds
    the name. Nothing here commits.
    """

    def add(self, values: dict[str, Any], *, by: str, at: datetime) -> CatalogEntry:
        """Insert an entry."""
        ...

    def find(self, entry_id: uuid.UUID, viewer: Viewer) -> CatalogEntry | None:
        """An entry the viewer may see, withdrawn or not."""
        ...

    def listed_for_model(self, project: str, model: str) -> CatalogEntry | None:
        """The listed (not withdrawn) entry published from a project's model, if any."""
        ...

    def change(
        self, entry_id: uuid.UUID, values: dict[str, Any], *, action: str, by: str, at: datetime
    ) -> CatalogEntry:
        """Set some fields of an entry and note the change in its history."""
        ...

    def search(
        self, query: CatalogQuery, viewer: Viewer, *, offset: int, limit: int
    ) -> tuple[list[tuple[CatalogEntry, float]], bool]:
        """Listed entries the viewer may see matching ``query``, best first; and whether more."""
        ...

    def add_link(self, link: CatalogLink) -> None:
        """Record that an entry was used in a project."""
        ...

    def links(self, entry_id: uuid.UUID) -> list[CatalogLink]:
        """Every use of an entry, oldest first."""
        ...

    def licence_rule(self, project: str) -> LicenceRule:
        """The project's licence rule (accept anything when none was set)."""
        ...

    def put_licence_rule(self, project: str, rule: LicenceRule, *, by: str, at: datetime) -> None:
        """Replace the project's licence rule."""
        ...


class SqlCatalogStore:
    """CatalogStore on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, values: dict[str, Any], *, by: str, at: datetime) -> CatalogEntry:
        """Insert an entry."""
        row = CatalogEntryRow(
            id=new_id(), listed_name=values["name"], created_by=by, created_at=at,
            updated_by=by, updated_at=at, withdrawn_reason="",
            history=[{"action": "create", "by": by, "at": at.isoformat(), "fields": []}],
        )  # fmt: skip
        self._assign(row, values)
        self._flush(row, values["name"], add=True)
        return to_entry(row)

    def _assign(self, row: CatalogEntryRow, values: dict[str, Any]) -> None:
        for field, value in values.items():
            setattr(row, field, value)
        row.tag_index = "|" + "".join(f"{t}|" for t in row.tags or [])
        row.search_text = search_text(
            {c: getattr(row, c) for c in ("name", "description", "card", "intended_use")}
            | {"limitations": row.limitations, "tags": row.tags or []}
        )

    def _flush(self, row: CatalogEntryRow, name: str, *, add: bool = False) -> None:
        try:
            with self.session.begin_nested():
                if add:
                    self.session.add(row)
        except IntegrityError as exc:
            raise Conflict(f"a catalogue entry named {name!r} is listed already") from exc

    def _row(self, entry_id: uuid.UUID, viewer: Viewer) -> CatalogEntryRow | None:
        stmt = select(CatalogEntryRow).where(CatalogEntryRow.id == entry_id, _visible(viewer))
        return self.session.scalars(stmt).first()

    def find(self, entry_id: uuid.UUID, viewer: Viewer) -> CatalogEntry | None:
        """An entry the viewer may see, withdrawn or not."""
        row = self._row(entry_id, viewer)
        return None if row is None else to_entry(row)

    def listed_for_model(self, project: str, model: str) -> CatalogEntry | None:
        """The listed (not withdrawn) entry published from a project's model, if any."""
        stmt = select(CatalogEntryRow).where(
            CatalogEntryRow.project == project,
            CatalogEntryRow.model == model,
            CatalogEntryRow.withdrawn_at.is_(None),
        )
        row = self.session.scalars(stmt).first()
        return None if row is None else to_entry(row)

    def change(
        self, entry_id: uuid.UUID, values: dict[str, Any], *, action: str, by: str, at: datetime
    ) -> CatalogEntry:
        """Set some fields of an entry and note the change in its history."""
        row = self.session.get(CatalogEntryRow, entry_id, with_for_update=True)
        if row is None:
            raise LookupError(f"catalogue entry {entry_id} not found")
        self._assign(row, values)
        row.updated_by, row.updated_at = by, at
        note = {"action": action, "by": by, "at": at.isoformat(), "fields": sorted(values)}
        row.history = [*(row.history or []), note]
        self._flush(row, row.name)
        return to_entry(row)

    def _filtered(self, query: CatalogQuery, viewer: Viewer) -> Select[Any]:
        stmt = select(CatalogEntryRow).where(
            CatalogEntryRow.withdrawn_at.is_(None), _visible(viewer)
        )
        if query.tag is not None:
            stmt = stmt.where(CatalogEntryRow.tag_index.contains(f"|{query.tag}|", autoescape=True))
        if query.licence is not None:
            stmt = stmt.where(func.lower(CatalogEntryRow.licence) == query.licence.lower())
        if query.source is not None:
            stmt = stmt.where(CatalogEntryRow.source == query.source.value)
        return stmt

    def search(
        self, query: CatalogQuery, viewer: Viewer, *, offset: int, limit: int
    ) -> tuple[list[tuple[CatalogEntry, float]], bool]:
        """Listed entries the viewer may see matching ``query``, best first; and whether more."""
        stmt = self._filtered(query, viewer)
        if not query.text.strip():
            stmt = stmt.order_by(CatalogEntryRow.name, CatalogEntryRow.id)
            rows = self.session.scalars(stmt.offset(offset).limit(limit + 1)).all()
            return [(to_entry(r), 0.0) for r in rows[:limit]], len(rows) > limit
        if self.session.get_bind().dialect.name == "postgresql":
            return self._search_pg(stmt, query.text, offset=offset, limit=limit)
        return self._search_fts5(stmt, query.text, offset=offset, limit=limit)

    def _search_pg(
        self, stmt: Select[Any], text: str, *, offset: int, limit: int
    ) -> tuple[list[tuple[CatalogEntry, float]], bool]:
        vector = func.to_tsvector(_TS_CONFIG, CatalogEntryRow.search_text)
        tsquery = func.websearch_to_tsquery(_TS_CONFIG, text)
        rank = func.ts_rank(vector, tsquery)
        ranked = (
            stmt.add_columns(rank)
            .where(vector.op("@@")(tsquery))
            .order_by(rank.desc(), CatalogEntryRow.name, CatalogEntryRow.id)
        )
        rows = self.session.execute(ranked.offset(offset).limit(limit + 1)).all()
        return [(to_entry(r[0]), float(r[1])) for r in rows[:limit]], len(rows) > limit

    def _search_fts5(
        self, stmt: Select[Any], text: str, *, offset: int, limit: int
    ) -> tuple[list[tuple[CatalogEntry, float]], bool]:
        candidates = stmt.with_only_columns(CatalogEntryRow.id, CatalogEntryRow.search_text)
        documents = [(r[0], r[1]) for r in self.session.execute(candidates).all()]
        ranked = rank_documents(documents, text)
        page = ranked[offset : offset + limit]
        rows = {
            r.id: r
            for r in self.session.scalars(
                select(CatalogEntryRow).where(CatalogEntryRow.id.in_([i for i, _ in page]))
            )
        }
        return [(to_entry(rows[i]), rank) for i, rank in page], len(ranked) > offset + limit

    def add_link(self, link: CatalogLink) -> None:
        """Record that an entry was used in a project."""
        self.session.add(
            CatalogLinkRow(
                id=link.id, entry_id=link.entry_id, project=link.project, model=link.model,
                model_version_id=link.model_version_id, entry_version=link.entry_version,
                created_by=link.created_by, created_at=link.created_at,
            )
        )  # fmt: skip
        self.session.flush()

    def links(self, entry_id: uuid.UUID) -> list[CatalogLink]:
        """Every use of an entry, oldest first (their version numbers read from the graph)."""
        stmt = (
            select(CatalogLinkRow, NodeRow.version)
            .join(NodeRow, NodeRow.id == CatalogLinkRow.model_version_id)
            .where(CatalogLinkRow.entry_id == entry_id)
            .order_by(CatalogLinkRow.created_at, CatalogLinkRow.id)
        )
        return [
            CatalogLink(
                id=r.id, entry_id=r.entry_id, project=r.project, model=r.model,
                version=int(version), model_version_id=r.model_version_id,
                entry_version=r.entry_version, created_by=r.created_by, created_at=r.created_at,
            )
            for r, version in self.session.execute(stmt).all()
        ]  # fmt: skip

    def licence_rule(self, project: str) -> LicenceRule:
        """The project's licence rule (accept anything when none was set)."""
        row = self.session.get(CatalogLicenceRuleRow, project)
        if row is None:
            return LicenceRule()
        return LicenceRule(allowed=list(row.allowed or []), refused=list(row.refused or []))

    def put_licence_rule(self, project: str, rule: LicenceRule, *, by: str, at: datetime) -> None:
        """Replace the project's licence rule."""
        row = self.session.get(CatalogLicenceRuleRow, project, with_for_update=True)
        if row is None:
            row = CatalogLicenceRuleRow(project=project)
            self.session.add(row)
        row.allowed, row.refused = list(rule.allowed), list(rule.refused)
        row.updated_by, row.updated_at = by, at
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            raise Conflict("the licence rule was written concurrently; retry") from exc
