"""``steward rollout``: start, list, promote and roll back rollouts (locally or remotely).

With ``STEWARD_URL`` set (and ``STEWARD_TOKEN``), commands call that server's API as the
token's principal; otherwise they act on the local database as the operator.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import typer
from pydantic import ValidationError

from governance.core.errors import InvalidInput
from retrain.rollout.schemas import Rollout, RolloutPlan, Strategy
from steward.cli.context import authorized, database, is_remote, remote, settings
from steward.cli.output import emit, table

rollout_app = typer.Typer(name="rollout", help="Rollouts and rollbacks.", no_args_is_help=True)

Project = typer.Option("default", "--project", "-p")
Output = typer.Option(None, "--output", "-o", help="table, json or yaml (default: steward -o)")


def register(app: typer.Typer) -> None:
    """Add ``rollout`` to ``app``."""
    app.add_typer(rollout_app)


def _show(rollouts: list[Rollout], output: str | None) -> None:
    def human() -> Any:
        shown = table("id", "model", "version", "strategy", "state", "previous", "requests",
                      "errors", "started", "reason")  # fmt: skip
        for r in rollouts:
            previous = f"{r.previous_model} v{r.previous_version}" if r.previous_model else "-"
            shown.add_row(
                str(r.id), r.model, str(r.version),
                f"{r.strategy}" + (f" {r.percent}%" if r.percent else ""), str(r.state), previous,
                str(r.requests), str(r.errors), str(r.started_at), r.end_reason or r.reason,
            )  # fmt: skip
        return shown

    emit(rollouts, human, override=output)


@rollout_app.command("start")
def rollout_start(
    endpoint: str,
    model: str = typer.Option(..., "--model", "-m"),
    version: int = typer.Option(..., "--version", "-v"),
    strategy: Strategy = typer.Option(Strategy.immediate, "--strategy", "-s"),
    percent: int = typer.Option(None, "--percent", help="a canary's share of requests"),
    reason: str = typer.Option("", "--reason"),
    project: str = Project,
    output: str | None = Output,
) -> None:
    """Roll a model version out to an endpoint (immediate, shadow or canary)."""
    from retrain.rollout.service import start_rollout

    try:
        plan = RolloutPlan(strategy=strategy, percent=percent)
    except ValidationError as exc:
        raise InvalidInput(exc.errors()[0]["msg"]) from None
    if is_remote():
        body = {"model": model, "version": version, "strategy": str(strategy),
                "percent": percent, "reason": reason}  # fmt: skip
        done = Rollout.model_validate(
            remote("POST", f"/projects/{project}/endpoints/{endpoint}/rollouts", body)
        )
    else:
        db = database()
        actor = authorized(db, project=project, obj="model", act="deploy")
        done = start_rollout(
            db, settings=settings(), project=project, endpoint=endpoint, model=model,
            version=version, plan=plan, actor=actor, reason=reason,
        )  # fmt: skip
    _show([done], output)


@rollout_app.command("list")
def rollout_list(endpoint: str, project: str = Project, output: str | None = Output) -> None:
    """List an endpoint's rollouts, newest first."""
    from retrain.rollout.service import list_rollouts

    if is_remote():
        found = remote("GET", f"/projects/{project}/endpoints/{endpoint}/rollouts")
        _show([Rollout.model_validate(r) for r in found], output)
        return
    db = database()
    authorized(db, project=project, obj="endpoint", act="read")
    _show(list_rollouts(db, project=project, endpoint=endpoint), output)


@rollout_app.command("promote")
def rollout_promote(
    endpoint: str, rollout_id: UUID, reason: str = typer.Option("", "--reason"),
    project: str = Project, output: str | None = Output,
) -> None:  # fmt: skip
    """Deploy a rollout's candidate."""
    from retrain.rollout.service import promote_rollout

    if is_remote():
        path = f"/projects/{project}/endpoints/{endpoint}/rollouts/{rollout_id}/promote"
        done = Rollout.model_validate(remote("POST", path, {"reason": reason}))
    else:
        db = database()
        actor = authorized(db, project=project, obj="model", act="deploy")
        done = promote_rollout(
            db, settings=settings(), project=project, endpoint=endpoint, rollout_id=rollout_id,
            actor=actor, reason=reason,
        )  # fmt: skip
    _show([done], output)


@rollout_app.command("rollback")
def rollout_rollback(
    endpoint: str, reason: str = typer.Option(..., "--reason"), project: str = Project,
    output: str | None = Output,
) -> None:  # fmt: skip
    """End the endpoint's rollout, or serve again the version served before the last one."""
    from retrain.rollout.service import rollback

    if is_remote():
        path = f"/projects/{project}/endpoints/{endpoint}/rollback"
        done = Rollout.model_validate(remote("POST", path, {"reason": reason}))
    else:
        db = database()
        actor = authorized(db, project=project, obj="model", act="deploy")
        done = rollback(
            db, settings=settings(), project=project, endpoint=endpoint, actor=actor,
            reason=reason,
        )  # fmt: skip
    _show([done], output)
