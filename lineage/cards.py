"""Model-card use cases: read and edit the documentation of a registered model (audited)."""

from __future__ import annotations

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import NotFound
from governance.core.principal import Principal
from lineage.schemas import ModelCard, ModelCardUpdate
from lineage.stores import sql_stores

_WALL = SystemClock()


def model_card(db: Database, *, project: str, name: str) -> ModelCard:
    """The card of model ``name`` (empty fields when nobody wrote it yet)."""
    with db.read() as session:
        card = sql_stores(session).registry.model_card(project, name)
    if card is None:
        raise NotFound(f"model {name!r} not found")
    return card


def update_model_card(
    db: Database,
    *,
    project: str,
    name: str,
    data: ModelCardUpdate,
    actor: Principal,
    clock: Clock = _WALL,
) -> ModelCard:
    """Change the given fields of a model's card; the change and its audit entry (the fields
    before and after) commit together. A request that changes nothing writes nothing."""
    with db.transaction() as session:
        store = sql_stores(session).registry
        before = store.model_card(project, name)
        if before is None:
            raise NotFound(f"model {name!r} not found")
        wanted = data.model_dump(exclude_unset=True)
        changed = {k: v for k, v in sorted(wanted.items()) if getattr(before, k) != v}
        if not changed:
            return before
        after = store.put_model_card(project, name, values=changed, by=actor.ref, at=clock.now())
        assert after is not None  # the model was found in this transaction
        record_audit(
            session,
            actor=actor,
            action="model.card.update",
            project=project,
            target=f"model:{name}",
            details={
                "fields": list(changed),
                "before": {k: getattr(before, k) for k in changed},
                "after": changed,
            },
        )
        return after
