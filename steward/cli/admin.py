"""``steward token``, ``role``, ``principal``, ``project`` and ``policy``.

Tokens, roles, principals and projects go through the server's API when one is configured;
``policy`` reads this host's policy files and stays local.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from uuid import UUID

import typer

from governance.access import service
from governance.access.schemas import (
    SYSTEM_PROJECT,
    PrincipalCreate,
    PrincipalInfo,
    ProjectCreate,
    ProjectInfo,
    RoleBinding,
    TokenInfo,
    TokenIssued,
)
from governance.core.errors import InvalidInput, NotFound
from governance.core.principal import PrincipalKind
from steward.cli.client import is_remote, remote
from steward.cli.context import authorized, console, database, settings
from steward.cli.output import emit, machine, table

token_app = typer.Typer(name="token", help="API tokens.", no_args_is_help=True)
role_app = typer.Typer(name="role", help="Role bindings per project.", no_args_is_help=True)
principal_app = typer.Typer(
    name="principal", help="Users and service accounts.", no_args_is_help=True
)
project_app = typer.Typer(name="project", help="Projects.", no_args_is_help=True)
policy_app = typer.Typer(
    name="policy", help="Policy files (of this host: admin).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the ``token``, ``role``, ``principal``, ``project`` and ``policy`` groups to ``app``."""
    for group in (token_app, role_app, principal_app, project_app, policy_app):
        app.add_typer(group)


def _q(name: str) -> str:
    return quote(name, safe="")


@token_app.command("create")
def token_create(
    principal: str = typer.Argument(..., help="principal the token belongs to"),
    name: str = typer.Option("cli", help="label of the token"),
    expires_in_days: int = typer.Option(90, help="days until expiry (0: never)"),
) -> None:
    """Create a token; the secret is printed once."""
    if is_remote():
        body = {"name": name, "expires_in_days": expires_in_days or None}
        issued = TokenIssued.model_validate(
            remote("POST", f"/principals/{_q(principal)}/tokens", body)
        )
    else:
        db = database()
        actor = authorized(db, project=SYSTEM_PROJECT, obj="token", act="write")
        issued = service.issue_token(
            db, principal=principal, name=name, expires_in_days=expires_in_days or None,
            actor=actor,
        )  # fmt: skip
    if machine():
        emit(issued, lambda: None)
        return
    console.print(f"token {issued.prefix} for {principal} (expires {issued.expires_at or 'never'})")
    print(issued.token)


def _tokens(principal: str | None) -> list[TokenInfo]:
    if not is_remote():
        db = database()
        authorized(db, project=SYSTEM_PROJECT, obj="token", act="read")
        found = service.list_tokens(db, principal_id=None)
        return [t for t in found if principal is None or t.principal == principal]
    names = [principal] if principal else [p.name for p in _principals()]
    return [
        TokenInfo.model_validate(t)
        for name in names
        for t in remote("GET", f"/principals/{_q(name)}/tokens")
    ]


@token_app.command("revoke")
def token_revoke(token_id: UUID = typer.Argument(..., help="id from `steward token list`")) -> None:
    """Revoke a token."""
    if is_remote():
        owner = next((t.principal for t in _tokens(None) if t.id == token_id), None)
        if owner is None:
            raise NotFound("token not found")
        info = TokenInfo.model_validate(
            remote("DELETE", f"/principals/{_q(owner)}/tokens/{token_id}")
        )
    else:
        db = database()
        actor = authorized(db, project=SYSTEM_PROJECT, obj="token", act="delete")
        info = service.revoke_token(db, token_id=token_id, actor=actor, any_owner=True)
    emit(info, lambda: f"revoked {info.prefix} of {info.principal}")


@token_app.command("list")
def token_list(principal: str = typer.Option(None, help="only this principal's tokens")) -> None:
    """List tokens (never their secrets)."""
    found = _tokens(principal)

    def human() -> Any:
        shown = table("id", "principal", "name", "prefix", "expires", "revoked")
        for t in found:
            shown.add_row(str(t.id), t.principal, t.name, t.prefix, str(t.expires_at or "-"),
                          str(t.revoked_at or "-"))  # fmt: skip
        return shown

    emit(found, human)


@role_app.command("grant")
def role_grant(project: str, principal: str, role: str) -> None:
    """Grant ROLE to PRINCIPAL in PROJECT."""
    if is_remote():
        body = {"principal": principal, "role": _role(role)}
        done = RoleBinding.model_validate(remote("POST", f"/projects/{_q(project)}/roles", body))
    else:
        db = database()
        actor = authorized(db, project=project, obj="member", act="write")
        done = service.grant_role(
            db, project=project, principal=principal, role=_role(role), actor=actor
        )
    emit(done, lambda: f"granted {role} to {principal} in {project}")


@role_app.command("revoke")
def role_revoke(project: str, principal: str, role: str) -> None:
    """Revoke ROLE from PRINCIPAL in PROJECT."""
    if is_remote():
        remote("DELETE", f"/projects/{_q(project)}/roles/{_q(principal)}/{_q(_role(role))}")
    else:
        db = database()
        actor = authorized(db, project=project, obj="member", act="delete")
        service.revoke_role(db, project=project, principal=principal, role=_role(role),
                            actor=actor)  # fmt: skip
    done = {"project": project, "principal": principal, "role": role, "revoked": True}
    emit(done, lambda: f"revoked {role} from {principal} in {project}")


def _role(role: str) -> str:
    from governance.access.schemas import ROLES

    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role


@role_app.command("list")
def role_list(project: str) -> None:
    """List the bindings of PROJECT."""
    if is_remote():
        found = [
            RoleBinding.model_validate(b) for b in remote("GET", f"/projects/{_q(project)}/roles")
        ]
    else:
        db = database()
        authorized(db, project=project, obj="member", act="read")
        found = service.list_bindings(db, project=project)

    def human() -> Any:
        shown = table("principal", "role", "since")
        for b in found:
            shown.add_row(b.principal, b.role, str(b.created_at))
        return shown

    emit(found, human)


@principal_app.command("create")
def principal_create(
    name: str,
    service_account: bool = typer.Option(False, "--service", help="a service account"),
) -> None:
    """Create a user (or, with --service, a service account)."""
    kind = PrincipalKind.service if service_account else PrincipalKind.user
    data = PrincipalCreate(name=name, kind=kind)
    if is_remote():
        info = PrincipalInfo.model_validate(
            remote("POST", "/principals", data.model_dump(mode="json"))
        )
    else:
        db = database()
        actor = authorized(db, project=SYSTEM_PROJECT, obj="principal", act="write")
        info = service.create_principal(db, data=data, actor=actor)
    emit(info, lambda: f"created {info.kind} {info.name}")


def _principals() -> list[PrincipalInfo]:
    if is_remote():
        return [PrincipalInfo.model_validate(p) for p in remote("GET", "/principals")]
    db = database()
    authorized(db, project=SYSTEM_PROJECT, obj="principal", act="read")
    return service.list_principals(db)


@principal_app.command("list")
def principal_list() -> None:
    """List principals."""
    found = _principals()

    def human() -> Any:
        shown = table("name", "kind", "created")
        for p in found:
            shown.add_row(p.name, str(p.kind), str(p.created_at))
        return shown

    emit(found, human)


@project_app.command("create")
def project_create(name: str, description: str = typer.Option("", help="what it is for")) -> None:
    """Create a project."""
    data = ProjectCreate(name=name, description=description)
    if is_remote():
        info = ProjectInfo.model_validate(remote("POST", "/projects", data.model_dump(mode="json")))
    else:
        db = database()
        actor = authorized(db, project=SYSTEM_PROJECT, obj="project", act="write")
        info = service.create_project(db, data=data, actor=actor)
    emit(info, lambda: f"created project {name}")


@project_app.command("list")
def project_list() -> None:
    """List projects (remotely: those where the token's principal holds a role)."""
    # Like ``GET /projects``, listing needs no permission: it shows what the caller may see,
    # which for the local operator is every project.
    if is_remote():
        found = [ProjectInfo.model_validate(p) for p in remote("GET", "/projects")]
    else:
        found = service.list_projects(database())

    def human() -> Any:
        shown = table("name", "description", "created")
        for p in found:
            shown.add_row(p.name, p.description, str(p.created_at))
        return shown

    emit(found, human)


@policy_app.command("check")
def policy_check() -> None:
    """Validate policies/model.conf and policy.csv; exits non-zero on any problem."""
    from governance.access.enforcer import check_policy_files

    directory = settings().policy_dir
    problems, warnings = check_policy_files(directory, declared=_declared_permissions())
    for warning in warnings:
        console.print(f"[yellow]warning[/yellow]: {warning}")
    for problem in problems:
        console.print(f"[red]error[/red]: {problem}")
    if problems:
        raise typer.Exit(1)
    console.print(f"policy in {directory} is valid ({len(warnings)} warnings)")


def _declared_permissions() -> set[tuple[str, str]]:
    from steward.api.deps import permission_of
    from steward.api.routes import all_routers, iter_api_routes

    declared: set[tuple[str, str]] = set()
    for router in all_routers():
        for route in iter_api_routes(router.routes):
            for dep in route.dependant.dependencies:
                perm = permission_of(dep.call)
                if perm and perm[2] != "self":
                    declared.add((perm[0], perm[1]))
    return declared


@policy_app.command("explain")
def policy_explain(principal: str, project: str, obj: str, action: str) -> None:
    """Say which rule lets PRINCIPAL do ACTION on OBJ in PROJECT, or why not."""
    from governance.access.enforcer import PolicyEngine

    engine = PolicyEngine(settings().policy_dir)
    service.sync_policy(database(), engine)
    result = engine.explain(principal, project, obj, action)
    verdict = "[green]ALLOW[/green]" if result.allowed else "[red]DENY[/red]"
    console.print(f"{verdict} {result.reason}")
    if result.rule:
        console.print(f"rule: p, {', '.join(result.rule)}")
    if not result.allowed:
        raise typer.Exit(1)
