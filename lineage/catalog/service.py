"""Model-catalogue use cases: publish, allow external models, search, withdraw, use in a
project (each one transaction, audited)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from governance.access.enforcer import PolicyEngine
from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput, InvalidState, NotFound
from governance.core.principal import Principal, PrincipalKind
from lineage.catalog.schemas import (
    CatalogEntry,
    CatalogHit,
    CatalogLink,
    CatalogPage,
    CatalogQuery,
    EntrySource,
    ExternalCreate,
    ExternalUpdate,
    LicenceRule,
    PublishRequest,
    UseRequest,
    Visibility,
)
from lineage.catalog.store import SqlCatalogStore, Viewer
from lineage.catalog.uses import link_entry
from lineage.schemas import ModelCard, ModelVersion
from lineage.stores import sql_stores

_WALL = SystemClock()
_MODEL_READ = ("model", "read")
_NON_COMMERCIAL = re.compile(r"(^|[-_ ])NC([-_ ]|$)|non-?commercial", re.IGNORECASE)


def viewer_of(actor: Principal, policy: PolicyEngine | None) -> Viewer:
    """What ``actor`` may see of the catalogue, from its role bindings.

    A member of the organisation is a principal holding any role in any project (``_system``
    included); it sees every entry visible to the organisation. It sees an entry visible to its
    project when it may read models in that project. System principals see everything.
    """
    if actor.kind is PrincipalKind.system:
        return Viewer(member=True, everything=True)
    if policy is None:
        return Viewer(member=False)
    projects = policy.projects(actor.name)
    # The policy's own rule (a role bound in the project, an exact object and action) over its
    # loaded lines: asking casbin once per project would log every "no" as a warning.
    granting = {role for obj, act, role in policy.policy_lines() if (obj, act) == _MODEL_READ}
    readers = frozenset(p for p, roles in projects.items() if roles & granting)
    return Viewer(member=bool(projects), model_readers=readers)


def _entry(store: SqlCatalogStore, entry_id: UUID, viewer: Viewer) -> CatalogEntry:
    found = store.find(entry_id, viewer)
    if found is None:  # unknown and invisible look the same
        raise NotFound(f"catalogue entry {entry_id} not found")
    return found


def get_entry(db: Database, *, entry_id: UUID, viewer: Viewer) -> CatalogEntry:
    """One entry the viewer may see (withdrawn ones too: their record stays readable)."""
    with db.read() as session:
        return _entry(SqlCatalogStore(session), entry_id, viewer)


def search_entries(
    db: Database, *, query: CatalogQuery, viewer: Viewer, cursor: str | None, limit: int
) -> CatalogPage:
    """Listed entries the viewer may see matching ``query``, best first, one page at a time."""
    offset = _offset(cursor)
    with db.read() as session:
        found, more = SqlCatalogStore(session).search(query, viewer, offset=offset, limit=limit)
    items = [CatalogHit(entry=e, rank=rank) for e, rank in found]
    return CatalogPage(items=items, next=str(offset + limit) if more else None)


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isdigit() or len(cursor) > 9:
        raise InvalidInput("malformed cursor", field="cursor", code="invalid_cursor")
    return int(cursor)


def publish_model(
    db: Database, *, project: str, data: PublishRequest, actor: Principal, clock: Clock = _WALL
) -> CatalogEntry:
    """Publish a registered model to the catalogue: its card as it is now (a copy: the entry
    keeps the card as published), the chosen versions (all by default) with their metrics."""
    with db.transaction() as session:
        registry = sql_stores(session).registry
        card = registry.model_card(project, data.model)
        versions = registry.model_versions(project, data.model)
        if card is None or not versions:
            raise NotFound(f"model {data.model!r} not found")
        chosen = [v for v in versions if not data.versions or v.version in data.versions]
        if len(chosen) != len(data.versions or chosen):
            raise NotFound("model version not found", field="versions")
        store = SqlCatalogStore(session)
        if store.listed_for_model(project, data.model) is not None:
            raise Conflict(
                f"model {data.model!r} is published already", code="catalog_entry_exists"
            )
        values = _published(project, data, card, chosen)
        entry = store.add(values, by=actor.ref, at=clock.now())
        record_audit(
            session, actor=actor, action="catalog.publish", project=project,
            target=f"catalog:{entry.id}",
            details={"model": data.model, "versions": [v.version for v in chosen],
                     "visibility": data.visibility.value, "licence": data.licence},
        )  # fmt: skip
        return entry


def _published(
    project: str, data: PublishRequest, card: ModelCard, chosen: list[ModelVersion]
) -> dict[str, Any]:
    """The values of an entry published from ``project``."""
    return {
        "name": data.name or f"{project}/{data.model}",
        "source": EntrySource.published.value, "visibility": data.visibility.value,
        "project": project, "model": data.model, "description": data.description,
        "card": card.model_dump(mode="json"), "licence": data.licence,
        "intended_use": card.intended_use if data.intended_use is None else data.intended_use,
        "limitations": card.limitations if data.limitations is None else data.limitations,
        "tags": data.tags,
        "versions": [
            {"version": str(v.version), "model_version_id": str(v.id), "sha256": v.sha256,
             "flavor": v.flavor, "metrics": v.metrics} for v in chosen
        ],
        # the versions' recorded metrics, as evaluation results of the entry
        "evaluations": [
            {"metric": k, "value": m, "dataset": "", "version": str(v.version)}
            for v in chosen for k, m in sorted(v.metrics.items())
        ],
    }  # fmt: skip


def create_external(
    db: Database, *, data: ExternalCreate, actor: Principal, clock: Clock = _WALL
) -> CatalogEntry:
    """Allow an external model in the organisation (visible to every member)."""
    values = data.model_dump(mode="json", exclude={"provider"})
    values |= {
        "source": EntrySource.external.value, "visibility": Visibility.organisation.value,
        "project": None, "model": None, "attrs": {"provider": data.provider},
    }  # fmt: skip
    with db.transaction() as session:
        entry = SqlCatalogStore(session).add(values, by=actor.ref, at=clock.now())
        record_audit(
            session, actor=actor, action="catalog.external.create",
            target=f"catalog:{entry.id}", details={"name": data.name, "licence": data.licence},
        )  # fmt: skip
        return entry


def update_external(
    db: Database,
    *,
    entry_id: UUID,
    data: ExternalUpdate,
    actor: Principal,
    viewer: Viewer,
    clock: Clock = _WALL,
) -> CatalogEntry:
    """Change some fields of an external entry; a change that changes nothing writes nothing."""
    with db.transaction() as session:
        store = SqlCatalogStore(session)
        before = _entry(store, entry_id, viewer)
        if before.source is not EntrySource.external:
            raise InvalidState(
                "a published entry changes by publishing again", code="catalog_entry_published"
            )
        wanted = data.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        old = before.model_dump(mode="json")
        changed = {k: v for k, v in sorted(wanted.items()) if old[k] != v}
        if not changed:
            return before
        after = store.change(entry_id, changed, action="update", by=actor.ref, at=clock.now())
        record_audit(
            session, actor=actor, action="catalog.external.update", target=f"catalog:{entry_id}",
            details={"fields": list(changed)},
        )  # fmt: skip
        return after


def withdraw_entry(
    db: Database,
    *,
    entry_id: UUID,
    reason: str,
    actor: Principal,
    viewer: Viewer,
    project: str | None = None,
    clock: Clock = _WALL,
) -> CatalogEntry:
    """Withdraw an entry: it leaves search and cannot be used anew; earlier uses stay valid.

    With ``project`` only an entry published from that project is withdrawn (its publishers'
    route); without, any entry the viewer sees (installation admins).
    """
    with db.transaction() as session:
        store = SqlCatalogStore(session)
        entry = _entry(store, entry_id, viewer)
        if project is not None and entry.project != project:
            raise NotFound(f"catalogue entry {entry_id} not found")
        if entry.withdrawn:
            return entry
        now = clock.now()
        values = {"withdrawn_at": now, "withdrawn_by": actor.ref, "withdrawn_reason": reason,
                  "listed_name": None}  # fmt: skip
        after = store.change(entry_id, values, action="withdraw", by=actor.ref, at=now)
        record_audit(
            session, actor=actor, action="catalog.withdraw", project=entry.project,
            target=f"catalog:{entry_id}", details={"reason": reason},
        )  # fmt: skip
        return after


def licence_refusal(rule: LicenceRule, licence: str) -> str | None:
    """Why ``rule`` refuses ``licence`` (None: accepted); ids and categories match without
    case, and ``non-commercial`` names every licence with a non-commercial clause (``-NC-``)."""
    names = {licence.lower()}
    if _NON_COMMERCIAL.search(licence):
        names.add("non-commercial")
    refused = names & {r.lower() for r in rule.refused}
    if refused:
        return f"the project refuses licence {sorted(refused)[0]!r}"
    if rule.allowed and not names & {a.lower() for a in rule.allowed}:
        return f"the project does not allow licence {licence!r}"
    return None


def use_entry(
    db: Database,
    *,
    project: str,
    entry_id: UUID,
    data: UseRequest,
    actor: Principal,
    viewer: Viewer,
    clock: Clock = _WALL,
) -> CatalogLink:
    """Register a catalogue model in ``project``, linked to its entry (and, for a published
    version, by a lineage edge from the source version); audited in both projects."""
    with db.transaction() as session:
        store = SqlCatalogStore(session)
        entry = _entry(store, entry_id, viewer)
        if entry.withdrawn:
            raise InvalidState("the entry was withdrawn", code="catalog_entry_withdrawn")
        refusal = licence_refusal(store.licence_rule(project), entry.licence)
        if refusal is not None:
            raise InvalidInput(refusal, field="licence", code="catalog_licence_refused")
        link = link_entry(session, entry, project=project, data=data, by=actor.ref, at=clock.now())
        store.add_link(link)
        _audit_use(session, actor, entry, link)
        return link


def _audit_use(session: Session, actor: Principal, entry: CatalogEntry, link: CatalogLink) -> None:
    target = f"model:{link.model}@{link.version}"
    details = {"entry": str(entry.id), "name": entry.name, "version": link.entry_version}
    record_audit(
        session, actor=actor, action="catalog.use", project=link.project,
        target=target, details=details | {"source_project": entry.project},
    )  # fmt: skip
    record_audit(
        session, actor=actor, action="catalog.used", project=entry.project,
        target=f"catalog:{entry.id}", details=details | {"used_in": link.project, "model": target},
    )  # fmt: skip


def list_links(db: Database, *, entry_id: UUID, viewer: Viewer) -> list[CatalogLink]:
    """Every use of an entry the viewer may see."""
    with db.read() as session:
        store = SqlCatalogStore(session)
        _entry(store, entry_id, viewer)
        return store.links(entry_id)


def get_licence_rule(db: Database, *, project: str) -> LicenceRule:
    """The project's licence rule for catalogue models."""
    with db.read() as session:
        return SqlCatalogStore(session).licence_rule(project)


def set_licence_rule(
    db: Database, *, project: str, rule: LicenceRule, actor: Principal, clock: Clock = _WALL
) -> LicenceRule:
    """Replace the project's licence rule (audited, with the rule before)."""
    with db.transaction() as session:
        store = SqlCatalogStore(session)
        before = store.licence_rule(project)
        at: datetime = clock.now()
        store.put_licence_rule(project, rule, by=actor.ref, at=at)
        record_audit(
            session, actor=actor, action="catalog.licence_rule", project=project,
            target=f"project:{project}",
            details={"before": before.model_dump(), "after": rule.model_dump()},
        )  # fmt: skip
        return rule
