"""``steward report model|project|list|get|verify``: compliance reports, locally or remotely.

With a server configured (``STEWARD_URL``/``--url``/``--profile``), ``model``, ``project``,
``list`` and ``get`` call its API as the token's principal; otherwise they act on the local
database as the operator. ``verify`` is always offline: it needs only the file and a trusted key.
With ``steward -o json``, a report printed on stdout is the JSON report (unless ``--format``
says otherwise) and a report written to a file prints what was written.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import typer

from steward.cli.client import remote_bytes
from steward.cli.context import authorized, console, database, is_remote, remote, settings
from steward.cli.output import emit, machine, table
from steward.reports.document import ReportFormat, ReportKind
from steward.reports.schemas import ReportCreate, StoredReport

report_app = typer.Typer(
    name="report", help="Compliance reports: generate, list, download, verify.",
    no_args_is_help=True,
)  # fmt: skip

Project = typer.Option("default", "--project", "-p")
FormatOption = typer.Option(
    None, "--format", "-f", help="html, md, json or pdf (default: html; json with steward -o json)"
)
OutFile = typer.Option(None, "--output", "-o", help="write the report to this file")
Start = typer.Option(None, "--period-start", help="default: the period's length before the end")
End = typer.Option(None, "--period-end", help="default: now")
Store = typer.Option(False, "--store", help="also store it on the server (report write)")


def register(app: typer.Typer) -> None:
    """Add ``steward report`` to ``app``."""
    app.add_typer(report_app)


def _format(fmt: ReportFormat | None) -> ReportFormat:
    """The format asked for; by default HTML, or JSON when the output is for a program."""
    if fmt is not None:
        return fmt
    return ReportFormat.json if machine() else ReportFormat.html


def _write(content: bytes, out: Path | None, name: str) -> None:
    if out is None:
        if not content.startswith(b"%PDF"):
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
            return
        out = Path(name)  # never a PDF on a terminal
    out.write_bytes(content)
    done = {"file": str(out), "bytes": len(content), "filename": name}
    emit(done, lambda: f"wrote {out} ({len(content)} bytes)")


def _remote_file(path: str, params: dict[str, str]) -> tuple[bytes, str]:
    """GET a report file from the server: its bytes and the file name it is offered under."""
    content, name = remote_bytes(path, params)
    return content, name or "report"


def _generate(project: str, request: ReportCreate, store: bool) -> tuple[bytes, str]:
    """Generate a report locally (signed with the local audit key) or on the server."""
    if is_remote():
        if store:
            body = request.model_dump(mode="json", exclude_none=True)
            stored = StoredReport.model_validate(remote("POST", f"/projects/{project}/reports",
                                                        body))  # fmt: skip
            return _remote_file(f"/projects/{project}/reports/{stored.id}", {})
        path = f"/projects/{project}/report"
        if request.kind is ReportKind.model:
            path = f"/projects/{project}/models/{request.model}/versions/{request.version}/report"
        params = {"format": str(request.format)}
        for key in ("period_start", "period_end"):
            if (value := getattr(request, key)) is not None:
                params[key] = value.isoformat()
        return _remote_file(path, params)
    return _generate_locally(project, request, store)


def _generate_locally(project: str, request: ReportCreate, store: bool) -> tuple[bytes, str]:
    from governance.audit.keys import load_signer
    from governance.audit.runtime import log_is_empty
    from steward.reports.service import generate

    db = database()
    actor = authorized(db, project=project, obj="report", act="write" if store else "read")
    config = settings()
    signer = load_signer(config.key_path, origin=config.audit_origin, log_empty=log_is_empty(db))
    done = generate(db, settings=config, signer=signer, project=project, request=request,
                    actor=actor, store=store)  # fmt: skip
    if done.stored is not None:
        console.print(f"stored report {done.stored.id}", highlight=False)
    return done.content, done.filename


@report_app.command("model")
def report_model(
    name: str, version: int, project: str = Project, fmt: ReportFormat | None = FormatOption,
    out: Path = OutFile, period_start: datetime = Start, period_end: datetime = End,
    store: bool = Store,
) -> None:  # fmt: skip
    """A model version's card and technical documentation, signed."""
    request = ReportCreate(kind=ReportKind.model, model=name, version=version,
                           format=_format(fmt), period_start=period_start,
                           period_end=period_end)  # fmt: skip
    with _status(f"generating the report of {name} v{version}"):
        content, filename = _generate(project, request, store)
    _write(content, out, filename)


@report_app.command("project")
def report_project(
    project: str = Project, fmt: ReportFormat | None = FormatOption, out: Path = OutFile,
    period_start: datetime = Start, period_end: datetime = End, store: bool = Store,
) -> None:  # fmt: skip
    """The project's governance report, signed."""
    request = ReportCreate(kind=ReportKind.project, format=_format(fmt),
                           period_start=period_start, period_end=period_end)  # fmt: skip
    with _status(f"generating the governance report of {project}"):
        content, filename = _generate(project, request, store)
    _write(content, out, filename)


def _status(text: str) -> Any:
    """A spinner for a person; nothing on the output a program reads."""
    from contextlib import nullcontext

    return nullcontext() if machine() else console.status(text)


def _show(reports: list[StoredReport], output: str | None) -> None:
    def human() -> Any:
        shown = table("id", "kind", "model", "version", "format", "origin", "generated", "by",
                      "digest")  # fmt: skip
        for r in reports:
            shown.add_row(str(r.id), str(r.kind), r.model or "-", str(r.version or "-"),
                          str(r.format), str(r.origin), str(r.generated_at), r.generated_by,
                          r.digest)  # fmt: skip
        return shown

    emit(reports, human, override=output)


@report_app.command("list")
def report_list(
    project: str = Project,
    kind: ReportKind = typer.Option(None, "--kind"),
    model: str = typer.Option(None, "--model", "-m"),
    output: str = typer.Option(
        None, "--output", "-o", help="table, json or yaml (default: steward -o)"
    ),
) -> None:
    """Stored reports of a project, newest first."""
    from steward.reports.service import list_reports

    if is_remote():
        params = "&".join(f"{k}={v}" for k, v in (("kind", kind), ("model", model)) if v)
        found = remote("GET", f"/projects/{project}/reports" + (f"?{params}" if params else ""))
        _show([StoredReport.model_validate(r) for r in found], output)
        return
    db = database()
    authorized(db, project=project, obj="report", act="read")
    _show(list_reports(db, project=project, kind=kind, model=model), output)


@report_app.command("get")
def report_get(report_id: UUID, project: str = Project, out: Path = OutFile) -> None:
    """Download a stored report's signed file."""
    from steward.reports.service import read_report

    if is_remote():
        content, filename = _remote_file(f"/projects/{project}/reports/{report_id}", {})
    else:
        db = database()
        authorized(db, project=project, obj="report", act="read")
        stored, content = read_report(db, settings=settings(), project=project,
                                      report_id=report_id)  # fmt: skip
        filename = stored.filename
    _write(content, out, filename)


def _trusted_keys(key: Path | None) -> Any:
    from governance.audit.keys import key_ring
    from governance.audit.signing import KeyRing, parse_verifier_key

    config = settings()
    if key is not None:
        try:
            name, public = parse_verifier_key(key.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise typer.BadParameter(f"cannot read {key}: {exc}", param_hint="--key") from None
        return KeyRing([(name or config.audit_origin, public)])
    ring = key_ring(config.key_path, origin=config.audit_origin)
    if not len(ring):
        raise typer.BadParameter(
            "no trusted key: pass --key FILE (what `steward audit public-key` prints) or run "
            "where the Steward home holds the audit key", param_hint="--key",
        )  # fmt: skip
    return ring


@report_app.command("verify")
def report_verify(
    file: Path,
    key: Path = typer.Option(None, "--key", help="trusted public key (`steward audit public-key`)"),
    output: str = typer.Option(
        None, "--output", "-o", help="text, json or yaml (default: steward -o)"
    ),
) -> None:
    """Check a report's signature and digests offline; exit 1 when it does not verify (admin)."""
    from steward.cli.context import local_only
    from steward.reports.signing import verify

    local_only("report verify")

    keys = _trusted_keys(key)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc.strerror}") from None
    result = verify(data, keys=keys)
    if machine(output):
        emit(result.model_dump(mode="json", by_alias=True), lambda: None, override=output)
    elif result.ok and result.statement is not None:
        s = result.statement
        console.print(f"[green]ok[/green]: {s.format} report {s.report_digest}, signed by "
                      f"{s.key_id}", highlight=False)  # fmt: skip
    else:
        for problem in result.problems:
            console.print(f"[red]{problem.code}[/red]: {problem.detail}", highlight=False)
    if not result.ok:
        raise typer.Exit(1)
