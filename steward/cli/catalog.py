"""``steward catalog``: search the organisation's model catalogue, show, publish, use.

Local by default (the operator acts with database access and sees every entry); with
``STEWARD_URL`` set the commands call that server's API with ``STEWARD_TOKEN``, as the token's
principal, and see what it may see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from uuid import UUID

import typer

from steward.cli.context import authorized, console, database, is_remote, operator, remote
from steward.cli.output import machine, output_format, print_data, show, table

if TYPE_CHECKING:
    from lineage.catalog.schemas import CatalogEntry, CatalogLink, CatalogPage

catalog_app = typer.Typer(
    name="catalog", help="The organisation's model catalogue.", no_args_is_help=True
)
Project = typer.Option("default", "--project", "-p")
Output = typer.Option(None, "--output", "-o", help="table, json or yaml (default: steward -o)")


def register(app: typer.Typer) -> None:
    """Add ``catalog`` to ``app``."""
    app.add_typer(catalog_app)


def _print(data: Any, output: str | None) -> bool:
    """Print ``data`` for a program when JSON or YAML is asked for; whether it was."""
    if not machine(output):
        return False
    print_data(data.model_dump(mode="json"), output_format(output))
    return True


def _search(params: dict[str, Any]) -> CatalogPage:
    from lineage.catalog.schemas import CatalogPage, CatalogQuery

    if is_remote():
        found = remote("GET", "/catalog", params={k: v for k, v in params.items() if v})
        return CatalogPage.model_validate(found)
    from lineage.catalog.service import search_entries, viewer_of

    query = CatalogQuery(text=params["q"], tag=params["tag"], licence=params["licence"],
                         source=params["source"])  # fmt: skip
    return search_entries(database(), query=query, viewer=viewer_of(operator(), None),
                          cursor=params["cursor"], limit=params["limit"])  # fmt: skip


@catalog_app.command("search")
def catalog_search(
    text: str = typer.Argument("", help='web-search syntax: words, "a phrase", -not, or'),
    tag: str | None = typer.Option(None, "--tag"),
    licence: str | None = typer.Option(None, "--licence"),
    source: str | None = typer.Option(None, "--source", help="published or external"),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    cursor: str | None = typer.Option(None, "--cursor"),
    output: str | None = Output,
) -> None:
    """Find catalogue entries, best match first."""
    params = {"q": text, "tag": tag, "licence": licence, "source": source, "limit": limit,
              "cursor": cursor}  # fmt: skip
    page = _search(params)
    if _print(page, output):
        return
    shown = table("id", "name", "source", "project", "licence", "tags", "rank")
    for hit in page.items:
        e = hit.entry
        shown.add_row(str(e.id), e.name, e.source, e.project or "-", e.licence,
                      ", ".join(e.tags), f"{hit.rank:.3g}")  # fmt: skip
    show(shown)
    if page.next:
        console.print(f"more: --cursor {page.next}")


def _entry(entry: UUID) -> CatalogEntry:
    from lineage.catalog.schemas import CatalogEntry

    if is_remote():
        return CatalogEntry.model_validate(remote("GET", f"/catalog/{entry}"))
    from lineage.catalog.service import get_entry, viewer_of

    return get_entry(database(), entry_id=entry, viewer=viewer_of(operator(), None))


@catalog_app.command("show")
def catalog_show(entry: UUID = typer.Argument(...), output: str | None = Output) -> None:
    """Show one entry: card, licence, intended use, evaluations, versions."""
    found = _entry(entry)
    if _print(found, output):
        return
    state = f"withdrawn ({found.withdrawn_reason})" if found.withdrawn else "listed"
    lines = [
        f"{found.name}  [{found.source}, {found.visibility}, {state}]",
        f"licence: {found.licence}   tags: {', '.join(found.tags) or '-'}",
        f"intended use: {found.intended_use or '-'}",
        f"limitations: {found.limitations or '-'}",
        f"versions: {', '.join(v.version for v in found.versions) or '-'}",
        *(f"  {e.metric} = {e.value:g} {e.dataset} {e.version}" for e in found.evaluations),
    ]
    show("\n".join(lines))


def _publish(project: str, body: dict[str, Any]) -> CatalogEntry:
    from lineage.catalog.schemas import CatalogEntry, PublishRequest

    data = PublishRequest.model_validate(body)
    if is_remote():
        found = remote("POST", f"/projects/{quote(project, safe='')}/catalog",
                       data.model_dump(mode="json", exclude_unset=True))  # fmt: skip
        return CatalogEntry.model_validate(found)
    from lineage.catalog.service import publish_model

    db = database()
    actor = authorized(db, project=project, obj="catalog", act="publish")
    return publish_model(db, project=project, data=data, actor=actor)


@catalog_app.command("publish")
def catalog_publish(
    model: str = typer.Argument(...),
    licence: str = typer.Option(..., "--licence"),
    version: list[int] = typer.Option([], "--version", help="repeat; default: every version"),
    visibility: str = typer.Option("project", "--visibility", help="project or organisation"),
    tag: list[str] = typer.Option([], "--tag"),
    description: str = typer.Option("", "--description"),
    project: str = Project,
    output: str | None = Output,
) -> None:
    """Publish a registered model of the project to the catalogue."""
    body = {"model": model, "licence": licence, "versions": version, "visibility": visibility,
            "tags": tag, "description": description}  # fmt: skip
    entry = _publish(project, body)
    if not _print(entry, output):
        console.print(f"published {entry.name} as {entry.id}")


def _use(project: str, entry: UUID, body: dict[str, Any]) -> CatalogLink:
    from lineage.catalog.schemas import CatalogLink, UseRequest

    data = UseRequest.model_validate(body)
    if is_remote():
        path = f"/projects/{quote(project, safe='')}/catalog/{entry}/use"
        return CatalogLink.model_validate(
            remote("POST", path, data.model_dump(mode="json", exclude_none=True))
        )
    from lineage.catalog.service import use_entry, viewer_of

    db = database()
    actor = authorized(db, project=project, obj="catalog", act="use")
    return use_entry(db, project=project, entry_id=entry, data=data, actor=actor,
                     viewer=viewer_of(actor, None))  # fmt: skip


@catalog_app.command("use")
def catalog_use(
    entry: UUID = typer.Argument(...),
    model: str | None = typer.Option(None, "--model", help="name in the project"),
    version: str | None = typer.Option(None, "--version", help="default: the newest"),
    project: str = Project,
    output: str | None = Output,
) -> None:
    """Register a catalogue model in the project, with lineage back to its source."""
    link = _use(project, entry, {"model": model, "version": version})
    if not _print(link, output):
        console.print(f"{project}/{link.model} version {link.version} <- {link.entry_id}")
