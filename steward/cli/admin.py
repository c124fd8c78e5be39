"""``steward token``, ``role``, ``principal``, ``project`` and ``policy``."""

from __future__ import annotations

from uuid import UUID

import typer
from rich.table import Table

from governance.access import service
from governance.access.schemas import PrincipalCreate, ProjectCreate
from governance.core.errors import InvalidInput
from governance.core.principal import PrincipalKind
from steward.cli.context import console, database, operator, settings


def register(app: typer.Typer) -> None:
    """Add the command groups of this module to ``app``."""
    groups = {
        "token": ("API tokens.", [token_create, token_revoke, token_list]),
        "role": ("Role bindings per project.", [role_grant, role_revoke, role_list]),
        "principal": ("Users and service accounts.", [principal_create, principal_list]),
        "project": ("Projects.", [project_create, project_list]),
        "policy": ("Policy files.", [policy_check, policy_explain]),
    }
    for name, (help_text, commands) in groups.items():
        group = typer.Typer(help=help_text, no_args_is_help=True)
        for command in commands:
            group.command(command.__name__.split("_", 1)[1])(command)  # type: ignore[type-var]
        app.add_typer(group, name=name)


def token_create(
    principal: str = typer.Argument(..., help="principal the token belongs to"),
    name: str = typer.Option("cli", help="label of the token"),
    expires_in_days: int = typer.Option(90, help="days until expiry (0: never)"),
) -> None:
    """Create a token; the secret is printed once."""
    issued = service.issue_token(
        database(),
        principal=principal,
        name=name,
        expires_in_days=expires_in_days or None,
        actor=operator(),
    )
    console.print(f"token {issued.prefix} for {principal} (expires {issued.expires_at or 'never'})")
    print(issued.token)


def token_revoke(token_id: UUID = typer.Argument(..., help="id from `steward token list`")) -> None:
    """Revoke a token."""
    info = service.revoke_token(database(), token_id=token_id, actor=operator(), any_owner=True)
    console.print(f"revoked {info.prefix} of {info.principal}")


def token_list(principal: str = typer.Option(None, help="only this principal's tokens")) -> None:
    """List tokens (never their secrets)."""
    table = Table("id", "principal", "name", "prefix", "expires", "revoked")
    for t in service.list_tokens(database(), principal_id=None):
        if principal is None or t.principal == principal:
            table.add_row(
                str(t.id), t.principal, t.name, t.prefix, str(t.expires_at or "-"),
                str(t.revoked_at or "-"),
            )  # fmt: skip
    console.print(table)


def role_grant(project: str, principal: str, role: str) -> None:
    """Grant ROLE to PRINCIPAL in PROJECT."""
    service.grant_role(
        database(), project=project, principal=principal, role=_role(role), actor=operator()
    )
    console.print(f"granted {role} to {principal} in {project}")


def role_revoke(project: str, principal: str, role: str) -> None:
    """Revoke ROLE from PRINCIPAL in PROJECT."""
    service.revoke_role(
        database(), project=project, principal=principal, role=_role(role), actor=operator()
    )
    console.print(f"revoked {role} from {principal} in {project}")


def _role(role: str) -> str:
    from governance.access.schemas import ROLES

    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role


def role_list(project: str) -> None:
    """List the bindings of PROJECT."""
    table = Table("principal", "role", "since")
    for b in service.list_bindings(database(), project=project):
        table.add_row(b.principal, b.role, str(b.created_at))
    console.print(table)


def principal_create(
    name: str,
    service_account: bool = typer.Option(False, "--service", help="a service account"),
) -> None:
    """Create a user (or, with --service, a service account)."""
    kind = PrincipalKind.service if service_account else PrincipalKind.user
    info = service.create_principal(
        database(), data=PrincipalCreate(name=name, kind=kind), actor=operator()
    )
    console.print(f"created {info.kind} {info.name}")


def principal_list() -> None:
    """List principals."""
    table = Table("name", "kind", "created")
    for p in service.list_principals(database()):
        table.add_row(p.name, str(p.kind), str(p.created_at))
    console.print(table)


def project_create(name: str, description: str = typer.Option("", help="what it is for")) -> None:
    """Create a project."""
    service.create_project(
        database(), data=ProjectCreate(name=name, description=description), actor=operator()
    )
    console.print(f"created project {name}")


def project_list() -> None:
    """List projects."""
    db = database()
    table = Table("name", "description", "created")
    from governance.access.store import SqlAccessStore

    with db.read() as session:
        for p in SqlAccessStore(session).projects():
            table.add_row(p.name, p.description, str(p.created_at))
    console.print(table)


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
