"""Use cases of identities, tokens, projects and role bindings; each owns its transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.orm import Session

from governance.access.enforcer import PolicyEngine
from governance.access.oidc import JwtVerifier
from governance.access.schemas import (
    SYSTEM_PROJECT,
    Authenticated,
    PrincipalCreate,
    PrincipalInfo,
    ProjectCreate,
    ProjectInfo,
    ProjectUpdate,
    RoleBinding,
    TokenInfo,
    TokenIssued,
)
from governance.access.store import BindingStore, SqlAccessStore
from governance.access.tokens import generate_token, hash_secret, parse_token, secret_matches
from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.durations import iso_duration
from governance.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from governance.core.principal import Principal, PrincipalKind

_WALL = SystemClock()


def create_principal(
    db: Database, *, data: PrincipalCreate, actor: Principal, clock: Clock = _WALL
) -> PrincipalInfo:
    """Create a user or service account."""
    with db.transaction() as session:
        store = SqlAccessStore(session)
        if store.find_principal(data.name) is not None:
            raise Conflict(f"principal {data.name!r} already exists")
        info = store.add_principal(
            name=data.name, kind=data.kind, display_name=data.display_name, created_at=clock.now()
        )
        record_audit(
            session,
            actor=actor,
            action="principal.create",
            target=f"principal:{data.name}",
            details={"kind": str(data.kind)},
        )
    return info


def list_principals(db: Database) -> list[PrincipalInfo]:
    """Every principal."""
    with db.read() as session:
        return SqlAccessStore(session).principals()


def issue_token(
    db: Database,
    *,
    principal: str,
    name: str,
    expires_in_days: int | None,
    actor: Principal,
    not_after: datetime | None = None,
    asked: bool = True,
    clock: Clock = _WALL,
) -> TokenIssued:
    """Create a token; its secret is returned here and never again.

    ``not_after`` bounds the new token's expiry: a caller minting a token for itself passes the
    expiry of the credential it authenticated with, so no token outlives the one that made it.
    An expiry the caller ``asked`` for beyond that bound is refused; a default one is shortened.
    """
    text, parts = generate_token()
    now = clock.now()
    expires_at = _expiry(now, expires_in_days, not_after=not_after, asked=asked)
    with db.transaction() as session:
        store = SqlAccessStore(session)
        owner = store.find_principal(principal)
        if owner is None:
            raise NotFound(f"principal {principal!r} not found")
        info = store.add_token(
            owner=owner,
            name=name,
            prefix=parts.prefix,
            secret_hash=hash_secret(parts.secret),
            created_at=now,
            expires_at=expires_at,
        )
        record_audit(
            session,
            actor=actor,
            action="token.create",
            target=f"token:{parts.prefix}",
            details={"principal": principal, "name": name, "expires_in_days": expires_in_days},
        )
    return TokenIssued(**info.model_dump(), token=text)


def _expiry(
    now: datetime, days: int | None, *, not_after: datetime | None, asked: bool
) -> datetime | None:
    expires_at = now + timedelta(days=days) if days else None
    if not_after is None or (expires_at is not None and expires_at <= not_after):
        return expires_at
    if not asked:  # a default expiry is shortened to the bound, an asked-for one refused
        return not_after
    wanted = "never" if expires_at is None else f"at {expires_at.isoformat()}"
    msg = (
        f"the new token would expire {wanted}, after the credential that creates it "
        f"(valid until {not_after.isoformat()}); ask for an earlier expiry"
    )
    loc = ["body", "expires_in_days"]
    raise InvalidInput(f"expires_in_days: {msg}", errors=[{"loc": loc, "msg": msg}])


def revoke_token(
    db: Database, *, token_id: UUID, actor: Principal, any_owner: bool, clock: Clock = _WALL
) -> TokenInfo:
    """Revoke a token of the caller (or any token, for a platform owner)."""
    with db.transaction() as session:
        store = SqlAccessStore(session)
        found = store.find_token(token_id)
        if found is None or (not any_owner and found.owner.id != actor.id):
            raise NotFound("token not found")
        if found.token.revoked_at is not None:
            return found.token
        revoked = store.revoke_token(token_id, clock.now())
        record_audit(session, actor=actor, action="token.revoke", target=f"token:{revoked.prefix}")
    return revoked


def list_tokens(db: Database, *, principal_id: UUID | None) -> list[TokenInfo]:
    """Tokens of one principal, or of everyone when ``principal_id`` is None."""
    with db.read() as session:
        return SqlAccessStore(session).tokens(principal_id)


def authenticate(
    db: Database, credential: str, *, jwt: JwtVerifier | None = None, clock: Clock = _WALL
) -> Principal:
    """Resolve a bearer credential to a principal, or raise Unauthenticated."""
    return authenticate_credential(db, credential, jwt=jwt, clock=clock).principal


def authenticate_credential(
    db: Database, credential: str, *, jwt: JwtVerifier | None = None, clock: Clock = _WALL
) -> Authenticated:
    """Resolve a bearer credential to a principal and the credential's expiry, or raise."""
    parts = parse_token(credential)
    if parts is None:
        if jwt is None or credential.count(".") != 2:
            raise Unauthenticated("malformed bearer token")
        subject, expires_at = jwt.verify(credential)
        return Authenticated(principal=_jwt_principal(db, subject), expires_at=expires_at)
    with db.read() as session:
        found = SqlAccessStore(session).find_token_by_prefix(parts.prefix)
    # An unknown prefix still costs a hash comparison, so timing does not tell prefixes apart.
    if not secret_matches(parts.secret, found.secret_hash if found else None) or found is None:
        raise Unauthenticated("unknown token")
    token, owner = found.token, found.owner
    if token.revoked_at is not None:
        raise Unauthenticated("token revoked")
    if token.expires_at is not None and token.expires_at <= clock.now():
        raise Unauthenticated("token expired")
    if owner.disabled:
        raise Unauthenticated("principal disabled")
    principal = Principal(id=owner.id, name=owner.name, kind=owner.kind, via="token")
    return Authenticated(principal=principal, expires_at=token.expires_at)


def _jwt_principal(db: Database, subject: str) -> Principal:
    with db.read() as session:
        known = SqlAccessStore(session).find_principal(subject)
    if known is not None and known.disabled:
        raise Unauthenticated("principal disabled")
    # An unknown subject is authenticated but holds no role anywhere until granted one.
    return Principal(
        id=known.id if known else None, name=subject, kind=PrincipalKind.user, via="oidc"
    )


def create_project(
    db: Database, *, data: ProjectCreate, actor: Principal, clock: Clock = _WALL
) -> ProjectInfo:
    """Create a project; the creator becomes its owner."""
    with db.transaction() as session:
        store = SqlAccessStore(session)
        if store.find_project(data.name) is not None:
            raise Conflict(f"project {data.name!r} already exists")
        info = store.add_project(
            name=data.name,
            description=data.description,
            created_at=clock.now(),
            retention_days=data.retention_days,
        )
        record_audit(
            session, actor=actor, action="project.create", project=data.name,
            target=f"project:{data.name}",
        )  # fmt: skip
        creator = store.find_principal(actor.name)
        if creator is not None:
            _bind(store, creator, info, "owner", clock)
            _audit_grant(session, actor, data.name, actor.name, "owner")
    return info


def get_project(db: Database, *, name: str) -> ProjectInfo:
    """The project called ``name``."""
    with db.read() as session:
        found = SqlAccessStore(session).projects({name})
    if not found:
        raise NotFound(f"project {name!r} not found")
    return found[0]


def update_project(
    db: Database, *, name: str, data: ProjectUpdate, actor: Principal
) -> ProjectInfo:
    """Change the settings ``data`` names (a null one back to the default); audited before/after."""
    with db.transaction() as session:
        store = SqlAccessStore(session)
        current = store.lock_project(name)
        if current is None:
            raise NotFound(f"project {name!r} not found")
        wanted = current.model_copy(
            update={field: getattr(data, field) for field in data.model_fields_set}
        )
        if _settings(wanted) == _settings(current):
            return current
        updated = store.set_settings(
            current.id, retention_days=wanted.retention_days, alert_cooldown=wanted.alert_cooldown
        )
        record_audit(
            session, actor=actor, action="project.update", project=name, target=f"project:{name}",
            details={"before": _settings(current), "after": _settings(updated)},
        )  # fmt: skip
    return updated


def _settings(project: ProjectInfo) -> dict[str, object]:
    cooldown = project.alert_cooldown
    return {
        "retention_days": project.retention_days,
        "alert_cooldown": None if cooldown is None else iso_duration(cooldown),
    }


def find_project_in(session: Session, name: str) -> ProjectInfo | None:
    """The project called ``name``, read inside the caller's transaction (None: no such)."""
    return SqlAccessStore(session).find_project(name)


def list_projects(db: Database, *, names: set[str] | None = None) -> list[ProjectInfo]:
    """The projects among ``names`` that exist (every project when ``names`` is None)."""
    with db.read() as session:
        return SqlAccessStore(session).projects(names)


def _bind(
    store: BindingStore, principal: PrincipalInfo, project: ProjectInfo, role: str, clock: Clock
) -> None:
    added = store.add_binding(
        principal_id=principal.id, project_id=project.id, role=role, created_at=clock.now()
    )
    if not added:
        raise Conflict(f"{principal.name!r} already holds {role!r} in {project.name!r}")
    store.bump_epoch()


def _audit_grant(session: Session, actor: Principal, project: str, who: str, role: str) -> None:
    record_audit(
        session,
        actor=actor,
        action="role.grant",
        project=project,
        target=f"principal:{who}",
        details={"role": role},
    )


def grant_role(
    db: Database, *, project: str, principal: str, role: str, actor: Principal, clock: Clock = _WALL
) -> RoleBinding:
    """Give ``principal`` (an existing user or service account) ``role`` in ``project``."""
    with db.transaction() as session:
        store = SqlAccessStore(session)
        proj = store.find_project(project)
        if proj is None:
            raise NotFound(f"project {project!r} not found")
        who = store.find_principal(principal)
        if who is None:
            raise NotFound(f"principal {principal!r} not found")
        _bind(store, who, proj, role, clock)
        _audit_grant(session, actor, project, principal, role)
    return RoleBinding(principal=principal, role=role, project=project, created_at=clock.now())


def revoke_role(db: Database, *, project: str, principal: str, role: str, actor: Principal) -> None:
    """Take ``role`` in ``project`` away from ``principal``; the last owner cannot be removed."""
    with db.transaction() as session:
        store = SqlAccessStore(session)
        proj, who = store.find_project(project), store.find_principal(principal)
        if proj is None or who is None:
            raise NotFound("binding not found")
        if role == "owner" and store.lock_role(proj.id, "owner") <= 1:
            raise Conflict("the last owner of a project cannot be removed")
        if not store.remove_binding(principal_id=who.id, project_id=proj.id, role=role):
            raise NotFound("binding not found")
        store.bump_epoch()
        record_audit(
            session,
            actor=actor,
            action="role.revoke",
            project=project,
            target=f"principal:{principal}",
            details={"role": role},
        )


def list_bindings(db: Database, *, project: str) -> list[RoleBinding]:
    """Every binding of a project."""
    with db.read() as session:
        store = SqlAccessStore(session)
        proj = store.find_project(project)
        if proj is None:
            raise NotFound(f"project {project!r} not found")
        return store.bindings(proj.id)


def sync_policy(db: Database, engine: PolicyEngine) -> None:
    """Bring ``engine`` up to date: bindings changed by any process, and edited policy files."""
    # The files first and on every call: an edit must not wait for the next grant or revoke.
    engine.maybe_reload_files()
    with db.read() as session:
        store = SqlAccessStore(session)
        epoch = store.epoch()
        if epoch == engine.epoch:
            return
        bindings = [(b.principal, b.role, b.project) for b in store.bindings()]
    engine.load_bindings(bindings, epoch=epoch)


def bootstrap(
    db: Database, *, owner: str, project: str, actor: Principal, clock: Clock = _WALL
) -> TokenIssued | None:
    """First-run setup: system and default projects, an owner, and the owner's first token.

    Returns None when the owner already exists (``steward init`` run again issues no token).
    """
    with db.read() as session:
        store = SqlAccessStore(session)
        if store.find_principal(owner) is not None:
            return None
        missing = [p for p in (SYSTEM_PROJECT, project) if store.find_project(p) is None]
    first = create_principal(db, data=PrincipalCreate(name=owner), actor=actor, clock=clock)
    owner_actor = Principal(id=first.id, name=owner, kind=PrincipalKind.user)
    for name in missing:
        if name == SYSTEM_PROJECT:
            _create_system_project(db, actor=owner_actor, clock=clock)
        else:
            create_project(db, data=ProjectCreate(name=name), actor=owner_actor, clock=clock)
    for name in {SYSTEM_PROJECT, project} - set(missing):
        grant_role(db, project=name, principal=owner, role="owner", actor=actor, clock=clock)
    return issue_token(
        db, principal=owner, name="init", expires_in_days=None, actor=actor, clock=clock
    )


def _create_system_project(db: Database, *, actor: Principal, clock: Clock) -> None:
    # The system project's name is outside the pattern users may choose, so it cannot collide.
    data = ProjectCreate.model_construct(name=SYSTEM_PROJECT, description="platform administration")
    create_project(db, data=data, actor=actor, clock=clock)
