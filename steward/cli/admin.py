"""``steward token``, ``role``, ``principal``, ``project`` and ``policy``."""

from __future__ import annotations

from uuid import UUID

import typer
from rich.table import Table

from governance.access import service
from governance.access.schemas import SYSTEM_PROJECT, PrincipalCreate, ProjectCreate
from governance.core.errors import InvalidInput
from governance.core.principal import PrincipalKind
from steward.cli.context import authorized, console, database, settings

token_app = typer.Typer(name="token", help="API tokens.", no_args_is_help=True)
role_app = typer.Typer(name="role", help="Role bindings per project.", no_args_is_help=True)
principal_app = typer.Typer(
    name="principal", help="Users and service accounts.", no_args_is_help=True
)
project_app = typer.Typer(name="project", help="Projects.", no_args_is_help=True)
policy_app = typer.Typer(name="policy", help="Policy files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``token``, ``role``, ``principal``, ``project`` and ``policy`` groups to ``app``."""
    for group in (token_app, role_app, principal_app, project_app, policy_app):
        app.add_typer(group)


@token_app.command("create")
def token_create(
    principal: str = typer.Argument(..., help="principal the token belongs to"),
    name: str = typer.Option("cli", help="label of the token"),
    expires_in_days: int = typer.Option(90, help="days until expiry (0: never)"),
) -> None:
    """Create a token; the secret is printed once."""
    db = database()
    issued = service.issue_token(
        db,
        principal=principal,
        name=name,
        expires_in_days=expires_in_days or None,
        actor=authorized(db, project=SYSTEM_PROJECT, obj="token", act="write"),
    )
    console.print(f"token {issued.prefix} for {principal} (expires {issued.expires_at or 'never'})")
    print(issued.token)


@token_app.command("revoke")
def token_revoke(token_id: UUID = typer.Argument(..., help="id from `steward token list`")) -> None:
    """Revoke a token."""
    db = database()
    actor = authorized(db, project=SYSTEM_PROJECT, obj="token", act="delete")
    info = service.revoke_token(db, token_id=token_id, actor=actor, any_owner=True)
    console.print(f"revoked {info.prefix} of {info.principal}")


@token_app.command("list")
def token_list(principal: str = typer.Option(None, help="only this principal's tokens")) -> None:
    """List tokens (never their secrets)."""
    db = database()
    authorized(db, project=SYSTEM_PROJECT, obj="token", act="read")
    table = Table("id", "principal", "name", "prefix", "expires", "revoked")
    for t in service.list_tokens(db, principal_id=None):
        if principal is None or t.principal == principal:
            table.add_row(
                str(t.id), t.principal, t.name, t.prefix, str(t.expires_at or "-"),
                str(t.revoked_at or "-"),
            )  # fmt: skip
    console.print(table)


@role_app.command("grant")
def role_grant(project: str, principal: str, role: str) -> None:
    """Grant ROLE to PRINCIPAL in PROJECT."""
    db = database()
    actor = authorized(db, project=project, obj="member", act="write")
    service.grant_role(db, project=project, principal=principal, role=_role(role), actor=actor)
    console.print(f"granted {role} to {principal} in {project}")


@role_app.command("revoke")
def role_revoke(project: str, principal: str, role: str) -> None:
    """Revoke ROLE from PRINCIPAL in PROJECT."""
    db = database()
    actor = authorized(db, project=project, obj="member", act="delete")
    service.revoke_role(db, project=project, principal=principal, role=_role(role), actor=actor)
    console.print(f"revoked {role} from {principal} in {project}")


def _role(role: str) -> str:
    from governance.access.schemas import ROLES

    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role


@role_app.command("list")
def role_list(project: str) -> None:
    """List the bindings of PROJECT."""
    db = database()
    authorized(db, project=project, obj="member", act="read")
    table = Table("principal", "role", "since")
    for b in service.list_bindings(db, project=project):
        table.add_row(b.principal, b.role, str(b.created_at))
    console.print(table)


@principal_app.command("create")
def principal_create(
    name: str,
    service_account: bool = typer.Option(False, "--service", help="a service account"),
) -> None:
    """Create a user (or, with --service, a service account)."""
    kind = PrincipalKind.service if service_account else PrincipalKind.user
    db = database()
    actor = authorized(db, project=SYSTEM_PROJECT, obj="principal", act="write")
    info = service.create_principal(db, data=PrincipalCreate(name=name, kind=kind), actor=actor)
    console.print(f"created {info.kind} {info.name}")


@principal_app.command("list")
def principal_list() -> None:
    """List principals."""
    db = database()
    authorized(db, project=SYSTEM_PROJECT, obj="principal", act="read")
    table = Table("name", "kind", "created")
    for p in service.list_principals(db):
        table.add_row(p.name, str(p.kind), str(p.created_at))
    console.print(table)


@project_app.command("create")
def project_create(name: str, description: str = typer.Option("", help="what it is for")) -> None:
    """Create a project."""
    db = database()
    actor = authorized(db, project=SYSTEM_PROJECT, obj="project", act="write")
    service.create_project(db, data=ProjectCreate(name=name, description=description), actor=actor)
    console.print(f"created project {name}")


@project_app.command("list")
def project_list() -> None:
    """List projects."""
    # Like ``GET /projects``, listing needs no permission: it shows what the caller may see,
    # which for the local operator is every project.
    table = Table("name", "description", "created")
    for p in service.list_projects(database()):
        table.add_row(p.name, p.description, str(p.created_at))
    console.print(table)


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
