"""``steward audit verify|export|seal|public-key``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from governance.access.schemas import SYSTEM_PROJECT
from governance.audit import service
from governance.audit.schemas import VerifyResult
from steward.cli.context import authorized, console, database, settings, signer

audit_app = typer.Typer(name="audit", help="The tamper-evident audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to ``app``."""
    app.add_typer(audit_app)


@audit_app.command("verify")
def verify(
    file: Path = typer.Option(None, help="verify a JSONL export offline instead of the database"),
    key: Path = typer.Option(None, help="verifier key or PEM public key (default: local key)"),
) -> None:
    """Recompute every hash, link and checkpoint; exits 1 on any finding."""
    from governance.audit.signing import parse_verifier_key

    if file is not None:
        name, public = parse_verifier_key(key.read_text()) if key else ("", signer().public_key)
        with file.open() as fh:
            result = service.verify_export(
                fh, signer_key=public, origin=name or settings().audit_origin
            )
    else:
        db = database()
        authorized(db, project=SYSTEM_PROJECT, obj="audit", act="verify")
        result = service.verify_audit(db, signer=signer())
    _show(result)
    if not result.ok:
        raise typer.Exit(1)


def _show(result: VerifyResult) -> None:
    status = "[green]clean[/green]" if result.ok else "[red]TAMPERED[/red]"
    console.print(
        f"audit log {status}: {result.entries} entries, {result.checkpoints} signed checkpoints, "
        f"sealed through {result.sealed_through}"
    )
    if result.ok:
        return
    console.print(f"first bad sequence number: {result.first_bad_seq}")
    table = Table("category", "count")
    for category, count in result.counts.items():
        table.add_row(category, str(count))
    console.print(table)
    for finding in result.findings[:20]:
        console.print(f"  seq {finding.seq}: {finding.category}: {finding.detail}")


@audit_app.command("export")
def export(
    format: str = typer.Option("jsonl", help="jsonl (verifiable offline) or csv"),
    output: Path = typer.Option(None, "-o", help="file to write (default: stdout)"),
) -> None:
    """Export the whole log."""
    db = database()
    authorized(db, project=SYSTEM_PROJECT, obj="audit", act="export")
    lines = service.export_audit(db, fmt=format)
    if output is None:
        sys.stdout.writelines(lines)
        return
    with output.open("w") as fh:
        fh.writelines(lines)
    console.print(f"wrote {output}")


@audit_app.command("seal")
def seal() -> None:
    """Sign a checkpoint over every entry not yet sealed."""
    size = service.seal(database())
    console.print("nothing to seal" if size is None else f"sealed through entry {size}")


@audit_app.command("public-key")
def public_key() -> None:
    """Print the verifier key and PEM public key auditors verify exports with."""
    s = signer()
    print(s.verifier_key())
    print(s.public_pem(), end="")
