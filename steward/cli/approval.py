"""``steward approval``: list, show, approve or reject releases; show or set the deploy policy.

Local by default (the operator acts with database access); with ``STEWARD_URL`` set the
commands call that server's API with ``STEWARD_TOKEN``, as the token's principal.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import typer

from governance.access.schemas import ROLES
from governance.core.errors import InvalidInput
from retrain.approvals.schemas import (
    Approval,
    ApprovalState,
    DeployMode,
    DeployPolicy,
    DeployPolicySet,
)
from steward.cli.context import (
    authorized,
    database,
    is_remote,
    read_database,
    remote,
    settings,
)
from steward.cli.output import Format, emit, output_format, print_data, table

approval_app = typer.Typer(
    name="approval", help="Approvals of gated releases and the deploy policy.", no_args_is_help=True
)
Project = typer.Option("default", "--project", "-p")
Output = typer.Option(None, "--output", "-o", help="table, json or yaml (default: steward -o)")


def register(app: typer.Typer) -> None:
    """Add ``approval`` to ``app``."""
    app.add_typer(approval_app)


def _print(items: list[Approval], output: str | None) -> None:
    def human() -> Any:
        shown = table("id", "endpoint", "challenger", "rollout", "state", "requested by",
                      "decided by")  # fmt: skip
        for a in items:
            plan = a.rollout.strategy.value + (
                f" {a.rollout.percent}%" if a.rollout.percent else ""
            )
            shown.add_row(
                str(a.id), a.endpoint, f"{a.challenger.model} v{a.challenger.version}", plan,
                a.state.value, a.requested_by, a.decided_by or "-",
            )  # fmt: skip
        return shown

    emit(items, human, override=output)


@approval_app.command("list")
def approval_list(
    project: str = Project,
    state: ApprovalState | None = typer.Option(None, "--state", help="only this state"),
    output: str | None = Output,
) -> None:
    """List a project's approvals, newest first."""
    if is_remote():
        query = f"?state={state.value}" if state else ""
        found = [
            Approval.model_validate(a)
            for a in remote("GET", f"/projects/{project}/approvals{query}")
        ]
    else:
        from retrain.approvals.service import list_approvals

        db = read_database()
        authorized(db, project=project, obj="approval", act="read")
        found = list_approvals(db, project=project, state=state)
    _print(found, output)


@approval_app.command("show")
def approval_show(approval_id: UUID, project: str = Project) -> None:
    """Show one approval (JSON)."""
    if is_remote():
        shown = Approval.model_validate(
            remote("GET", f"/projects/{project}/approvals/{approval_id}")
        )
    else:
        from retrain.approvals.service import get_approval

        db = read_database()
        authorized(db, project=project, obj="approval", act="read")
        shown = get_approval(db, project=project, approval_id=approval_id)
    fmt = output_format()
    print_data(shown, Format.json if fmt is Format.table else fmt)


def _decide(verb: str, approval_id: UUID, project: str, note: str) -> Approval:
    if is_remote():
        path = f"/projects/{project}/approvals/{approval_id}/{verb}"
        return Approval.model_validate(remote("POST", path, {"note": note}))
    from retrain.approvals import service

    db = database()
    actor = authorized(db, project=project, obj="approval", act="decide")
    if verb == "approve":
        return service.approve(
            db, settings=settings(), project=project, approval_id=approval_id, actor=actor,
            note=note,
        )  # fmt: skip
    return service.reject(db, project=project, approval_id=approval_id, actor=actor, note=note)


@approval_app.command("approve")
def approval_approve(
    approval_id: UUID, project: str = Project, note: str = typer.Option("", "--note")
) -> None:
    """Approve a pending release and start its rollout (not as its launcher or trigger owner)."""
    done = _decide("approve", approval_id, project, note)
    emit(done, lambda: (
        f"approved {done.id}: {done.challenger.model} v{done.challenger.version} -> "
        f"{done.endpoint} ({done.rollout.strategy.value}), rollout {done.rollout_id}"
    ))  # fmt: skip


@approval_app.command("reject")
def approval_reject(
    approval_id: UUID, project: str = Project, note: str = typer.Option("", "--note")
) -> None:
    """Reject a pending release: its challenger is not rolled out."""
    done = _decide("reject", approval_id, project, note)
    emit(done, lambda: f"rejected {done.id}: {done.challenger.model} v{done.challenger.version}")


@approval_app.command("policy")
def approval_policy(
    project: str = Project,
    mode: DeployMode | None = typer.Option(None, "--mode", help="auto or approval"),
    role: str | None = typer.Option(None, "--role", help="the role an approver must hold"),
) -> None:
    """Show the project's deploy policy, or change it with --mode and/or --role."""
    policy = _policy(project, mode, role)
    by = f" (set by {policy.updated_by} at {policy.updated_at})" if policy.updated_by else ""
    emit(
        policy,
        lambda: f"{project}: mode {policy.mode.value}, approver role {policy.approver_role}{by}",
    )


def _policy(project: str, mode: DeployMode | None, role: str | None) -> DeployPolicy:
    if role is not None and role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    change = mode is not None or role is not None
    if is_remote():
        path = f"/projects/{project}/deploy-policy"
        current = DeployPolicy.model_validate(remote("GET", path))
        if not change:
            return current
        wanted = DeployPolicySet(
            mode=mode or current.mode, approver_role=role or current.approver_role
        )
        return DeployPolicy.model_validate(remote("PUT", path, wanted.model_dump(mode="json")))
    from retrain.approvals import service

    db = database() if change else read_database()
    actor = authorized(db, project=project, obj="project", act="write" if change else "read")
    current = service.get_deploy_policy(db, project=project)
    if not change:
        return current
    wanted = DeployPolicySet(mode=mode or current.mode, approver_role=role or current.approver_role)
    return service.set_deploy_policy(db, project=project, data=wanted, actor=actor)
