"""Prompt use cases: versions, aliases, deployments to endpoints, rendering (audited writes)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound, TooLarge
from governance.core.principal import Principal
from lineage.prompts.flow import validate_flow
from lineage.prompts.schemas import (
    MAX_TEMPLATE_CHARS,
    PROMPT_NAME_RE,
    Prompt,
    PromptAlias,
    PromptCreate,
    PromptDeployment,
    PromptKind,
    PromptMessage,
    PromptServed,
    PromptVersion,
    is_alias,
)
from lineage.prompts.store import PromptStore, SqlPromptStore
from lineage.prompts.template import (
    MAX_VARIABLES_CHARS,
    check_variables,
    declared_variables,
    render_messages,
)
from lineage.schemas import EdgeKind
from lineage.stores import sql_stores

_WALL = SystemClock()
_NUMBER = re.compile(r"^[1-9][0-9]{0,9}$")


def content_hash(data: PromptCreate) -> str:
    """SHA-256 of the canonical JSON of what a version is: kind, content and model."""
    content: Any = (
        [m.model_dump(mode="json") for m in data.messages]
        if data.kind == PromptKind.prompt
        else data.flow
    )
    document = {
        "kind": str(data.kind),
        "content": content,
        "model": data.model,
        "model_parameters": data.model_parameters,
        "model_version_id": str(data.model_version_id) if data.model_version_id else None,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _content(data: PromptCreate) -> tuple[Any, list[str]]:
    # What is stored, and the variables a render must be given; refuses a bad template or flow.
    if data.kind == PromptKind.flow:
        assert data.flow is not None  # PromptCreate checked the kind's content
        if len(json.dumps(data.flow)) > MAX_TEMPLATE_CHARS:
            raise TooLarge(f"the flow document exceeds {MAX_TEMPLATE_CHARS} characters")
        return data.flow, validate_flow(data.flow)
    return [m.model_dump(mode="json") for m in data.messages], declared_variables(data.messages)


def create_prompt_version(
    db: Database, *, project: str, data: PromptCreate, actor: Principal, clock: Clock = _WALL
) -> tuple[PromptVersion, bool]:
    """Record a new version of a prompt (the prompt with its first); the same content again
    returns the existing version. True when a version was created."""
    content, variables = _content(data)
    digest = content_hash(data)
    with db.transaction() as session:
        store = SqlPromptStore(session)
        prompt = store.find_prompt(project, data.name)
        if prompt is not None:
            if prompt.kind != data.kind:
                raise InvalidInput(
                    f"prompt {data.name!r} is a {prompt.kind}", code="prompt_kind_mismatch"
                )
            existing = store.find_by_hash(prompt.id, digest)
            if existing is not None:
                return existing, False
        # Checked before the insert: the version row refers to the model version's node.
        model = _model_version(session, project, data.model_version_id)
        created = store.add_version(
            project=project, data=data, content=content, variables=variables,
            content_hash=digest, by=actor.ref, at=clock.now(),
        )  # fmt: skip
        if model is not None:
            sql_stores(session).edges.link(
                project=project, src=created.id, dst=model, kind=EdgeKind.calls, at=clock.now()
            )
        record_audit(
            session,
            actor=actor,
            action="prompt.version.create",
            project=project,
            target=f"prompt:{created.ref}",
            details={"kind": str(data.kind), "content_hash": digest, "model": data.model},
        )
        return created, True


def _model_version(session: Session, project: str, version: UUID | None) -> UUID | None:
    if version is None:
        return None
    found = sql_stores(session).registry.model_version_by_id(version)
    if found is None or found.project != project:
        raise NotFound("model version not found", field="model_version_id")
    return found.id


def parse_ref(ref: str) -> tuple[str, int | None, str | None]:
    """Split ``name``, ``name@3`` or ``name@alias`` into (name, version, alias)."""
    name, _, suffix = ref.partition("@")
    if PROMPT_NAME_RE.fullmatch(name) is None:
        raise InvalidInput(f"not a prompt reference: {ref[:200]!r}", code="prompt_ref_invalid")
    if not suffix:
        return name, None, None
    if _NUMBER.fullmatch(suffix):
        return name, int(suffix), None
    if is_alias(suffix):
        return name, None, suffix
    raise InvalidInput(f"not a prompt reference: {ref[:200]!r}", code="prompt_ref_invalid")


def _prompt(store: PromptStore, project: str, name: str) -> Prompt:
    found = store.find_prompt(project, name)
    if found is None:
        raise NotFound(f"prompt {name!r} not found")
    return found


def resolve_prompt_version(
    store: PromptStore, project: str, name: str, version: int | None, alias: str | None
) -> PromptVersion:
    """A version by number or alias (the newest when neither is given); raises NotFound."""
    prompt = _prompt(store, project, name)
    found = store.find_version(prompt.id, version=version, alias=alias)
    if found is None:
        raise NotFound(f"prompt {name!r} version {alias or version!r} not found")
    return found


def get_prompt_version(db: Database, *, project: str, ref: str) -> PromptVersion:
    """The version ``ref`` names: ``name`` (the newest), ``name@3`` or ``name@alias``."""
    name, version, alias = parse_ref(ref)
    with db.read() as session:
        return resolve_prompt_version(SqlPromptStore(session), project, name, version, alias)


def list_prompt_versions(db: Database, *, project: str, name: str) -> list[PromptVersion]:
    """Every version of a prompt, oldest first."""
    with db.read() as session:
        store = SqlPromptStore(session)
        return store.versions(_prompt(store, project, name).id)


def list_prompts(db: Database, *, project: str, after: str = "", limit: int = 100) -> list[Prompt]:
    """Prompt assets of a project by name, with their version count and aliases."""
    with db.read() as session:
        return SqlPromptStore(session).page(project, after=after, limit=limit)


def set_prompt_alias(
    db: Database,
    *,
    project: str,
    name: str,
    alias: str,
    version: int,
    actor: Principal,
    clock: Clock = _WALL,
) -> PromptAlias:
    """Point ``alias`` at ``version``; the move and its audit entry (old, new) commit together."""
    with db.transaction() as session:
        store = SqlPromptStore(session)
        target = resolve_prompt_version(store, project, name, version, None)
        now = clock.now()
        previous = store.move_alias(alias=alias, version=target, by=actor.ref, at=now)
        record_audit(
            session,
            actor=actor,
            action="prompt.alias.set",
            project=project,
            target=f"prompt:{name}#{alias}",
            details={
                "version": version,
                "previous": previous,
                "content_hash": target.content_hash,
            },
        )
    return PromptAlias(name=name, alias=alias, version=version, previous=previous, updated_at=now)


def delete_prompt_alias(
    db: Database, *, project: str, name: str, alias: str, actor: Principal
) -> None:
    """Remove an alias (audited with the version it pointed at)."""
    with db.transaction() as session:
        store = SqlPromptStore(session)
        previous = store.remove_alias(_prompt(store, project, name).id, alias)
        if previous is None:
            raise NotFound(f"alias {alias!r} of prompt {name!r} not found")
        record_audit(
            session,
            actor=actor,
            action="prompt.alias.delete",
            project=project,
            target=f"prompt:{name}#{alias}",
            details={"previous": previous},
        )


def deploy_prompt(
    db: Database,
    *,
    project: str,
    ref: str,
    endpoint: str,
    note: str = "",
    actor: Principal,
    clock: Clock = _WALL,
) -> PromptDeployment:
    """Serve the prompt version ``ref`` names at ``endpoint`` from now on (a timed edge)."""
    name, version, alias = parse_ref(ref)
    with db.transaction() as session:
        store = SqlPromptStore(session)
        target = resolve_prompt_version(store, project, name, version, alias)
        endpoint_id = _endpoint(store, project, endpoint)
        deployment = store.record_deployment(
            endpoint=endpoint_id, version=target, actor=actor.ref, note=note, at=clock.now()
        )
        record_audit(
            session,
            actor=actor,
            action="prompt.deploy",
            project=project,
            target=f"endpoint:{endpoint}",
            details={
                "prompt": target.ref,
                "alias": alias,
                "content_hash": target.content_hash,
                "note": note,
            },
        )
        return deployment


def _endpoint(store: PromptStore, project: str, name: str) -> UUID:
    found = store.endpoint_id(project, name)
    if found is None:
        raise NotFound(f"endpoint {name!r} not found")
    return found


def list_prompt_deployments(db: Database, *, project: str, endpoint: str) -> list[PromptDeployment]:
    """The prompt versions an endpoint served, oldest first."""
    with db.read() as session:
        store = SqlPromptStore(session)
        return store.deployments(_endpoint(store, project, endpoint))


def find_prompt_served(
    db: Database, *, project: str, endpoint: str, at: datetime | None = None, clock: Clock = _WALL
) -> PromptServed:
    """Which prompt version served ``endpoint`` at ``at`` (default: now)."""
    when = to_utc(at) if at is not None else clock.now()
    with db.read() as session:
        store = SqlPromptStore(session)
        live = store.deployments(_endpoint(store, project, endpoint), when)
    return PromptServed(endpoint=endpoint, at=when, deployment=live[-1] if live else None)


def render_prompt(version: PromptVersion, variables: Mapping[str, Any]) -> list[PromptMessage]:
    """The chat of a prompt version rendered with exactly its declared variables."""
    if version.kind != PromptKind.prompt:
        raise InvalidInput(
            f"prompt {version.ref!r} is a flow: it has no messages to render",
            code="prompt_not_renderable",
        )
    if len(json.dumps(dict(variables), default=str)) > MAX_VARIABLES_CHARS:
        raise TooLarge(f"the variables exceed {MAX_VARIABLES_CHARS} characters")
    check_variables(version.variables, variables)
    return render_messages(version.messages, variables)
