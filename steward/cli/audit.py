"""``steward audit verify|export|seal|public-key|rotate-key``.

With a server configured, ``verify``, ``export`` and ``public-key`` call its API; ``seal`` and
``rotate-key`` are admin commands on this host's home; ``verify --file|--entry|--consistency``
checks files offline.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import typer
from rich.table import Table

from governance.access.schemas import SYSTEM_PROJECT
from governance.audit import export as audit_export
from governance.audit import service
from governance.audit.keys import key_ring
from governance.audit.proof_service import (
    ConsistencyBundle,
    InclusionBundle,
    check_consistency,
    check_inclusion,
)
from governance.audit.runtime import verify_configured, witnessed_notes, witnesses
from governance.audit.schemas import VerifyResult
from governance.audit.signing import Signer
from governance.audit.witness import read_notes
from governance.core.errors import InvalidInput, NotFound
from steward.cli.client import is_remote, remote, remote_bytes, remote_lines
from steward.cli.context import (
    authorized,
    console,
    database,
    local_only,
    read_database,
    settings,
)
from steward.cli.output import Format, emit, machine, output_format, print_data

audit_app = typer.Typer(name="audit", help="The tamper-evident audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to ``app``."""
    app.add_typer(audit_app)


@audit_app.command("verify")
def verify(
    file: Path = typer.Option(None, help="verify a JSONL export offline instead of the database"),
    key: list[Path] = typer.Option(
        None, help="verifier key or PEM public key file (repeatable; default: the key history)"
    ),
    trusted_checkpoint: list[Path] = typer.Option(
        None, help="a signed checkpoint kept elsewhere (a note, or a witness file); repeatable"
    ),
    entry: Path = typer.Option(
        None, help="check one entry offline with its inclusion proof (GET /api/v1/audit/proof)"
    ),
    consistency: Path = typer.Option(
        None,
        help="check offline that a checkpoint extends --trusted-checkpoint "
        "(GET /api/v1/audit/consistency)",
    ),
) -> None:
    """Check every hash, link, checkpoint and witness; exits 1 on any finding. Writes nothing."""
    extra = [k.read_text() for k in key or []]
    if entry is not None:
        _verify_entry(entry, extra)
        return
    if consistency is not None:
        _verify_consistency(consistency, trusted_checkpoint or [], extra)
        return
    if file is None and is_remote():
        if trusted_checkpoint or key:
            raise InvalidInput(
                "--key and --trusted-checkpoint check a file: `steward audit export -o FILE`, "
                "then `steward audit verify --file FILE`"
            )
        result = VerifyResult.model_validate(remote("GET", "/audit/verify"))
    else:
        result = _verify_here(file, trusted_checkpoint or [], extra)
    emit(result, lambda: _show(result))
    if not result.ok:
        raise typer.Exit(1)


def _verify_here(file: Path | None, trusted: list[Path], extra: list[str]) -> VerifyResult:
    """Verify an export offline (``file``), or the local database."""
    s = settings()
    if file is not None:
        ring = key_ring(s.key_path, origin=s.audit_origin, extra=extra)

        def read_lines() -> Iterator[str]:  # each verification pass re-reads (and closes) it
            with file.open() as fh:
                yield from fh

        return audit_export.verify_export(
            read_lines,
            keys=ring,
            origin=s.audit_origin,
            witnessed=witnessed_notes(s, trusted),
            policy=None,  # an export is a snapshot: how long ago it was sealed is not a finding
        )
    db = read_database()
    authorized(db, project=SYSTEM_PROJECT, obj="audit", act="verify")
    return verify_configured(db, s, trusted=trusted, extra_keys=extra)


def _verify_entry(bundle_path: Path, extra: list[str]) -> None:
    s = settings()
    ring = key_ring(s.key_path, origin=s.audit_origin, extra=extra)
    bundle = InclusionBundle.model_validate_json(bundle_path.read_text())
    check_inclusion(bundle, ring, origin=s.audit_origin)
    done = {"ok": True, "seq": bundle.entry.seq, "tree_size": bundle.tree_size}
    emit(done, lambda: (
        f"entry {bundle.entry.seq} [green]is included[/green] in the signed checkpoint of size "
        f"{bundle.tree_size} (leaf {bundle.leaf_index}, {len(bundle.proof)} proof hashes)"
    ))  # fmt: skip


def _verify_consistency(bundle_path: Path, trusted: list[Path], extra: list[str]) -> None:
    s = settings()
    if len(trusted) != 1:
        raise InvalidInput("--consistency needs exactly one --trusted-checkpoint")
    notes = read_notes(trusted[0])
    if len(notes) != 1:
        raise InvalidInput(f"{trusted[0]} must hold exactly one signed checkpoint")
    ring = key_ring(s.key_path, origin=s.audit_origin, extra=extra)
    bundle = ConsistencyBundle.model_validate_json(bundle_path.read_text())
    check_consistency(bundle, notes[0], ring, origin=s.audit_origin)
    done = {"ok": True, "tree_size": bundle.tree_size, "first_size": bundle.first_size}
    emit(done, lambda: (
        f"the checkpoint of size {bundle.tree_size} [green]extends[/green] the trusted "
        f"checkpoint of size {bundle.first_size} ({len(bundle.proof)} proof hashes)"
    ))  # fmt: skip


def _show(result: VerifyResult) -> None:
    status = "[green]clean[/green]" if result.ok else "[red]TAMPERED[/red]"
    console.print(
        f"audit log {status}: {result.entries} entries, {result.checkpoints} signed checkpoints, "
        f"sealed through {result.sealed_through}, witnessed through {result.witnessed_through}"
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
    """Export the whole log (with ``-o json`` on stdout: a JSON array of its records)."""
    if is_remote():
        lines: Iterable[str] = remote_lines("/audit/export", {"format": format})
    else:
        db = database()
        authorized(db, project=SYSTEM_PROJECT, obj="audit", act="export")
        lines = audit_export.export_audit(db, fmt=format)
    if output is None and machine():
        print_data(_records(list(lines), format), output_format())
        return
    if output is None:
        sys.stdout.writelines(lines)
        return
    with output.open("w") as fh:
        fh.writelines(lines)
    console.print(f"wrote {output}")


def _records(lines: list[str], fmt: str) -> list[object]:
    """An export's lines as data: JSON lines parsed, CSV rows as objects."""
    if fmt == "csv":
        return list(csv.DictReader(lines))
    return [json.loads(line) for line in lines if line.strip()]


@audit_app.command("seal")
def seal() -> None:
    """Sign a checkpoint over every entry not yet sealed (admin: this host's home)."""
    local_only("audit seal")
    db = database()
    authorized(db, project=SYSTEM_PROJECT, obj="audit", act="seal")
    size = service.seal(db)
    emit({"sealed_through": size},
         lambda: "nothing to seal" if size is None else f"sealed through entry {size}")  # fmt: skip


@audit_app.command("public-key")
def public_key() -> None:
    """Print the verifier key and PEM public key auditors verify exports with."""
    if is_remote():
        text, _ = remote_bytes("/audit/public-key")
        verifier, _, pem = text.decode().partition("\n")
    else:
        s = settings()
        if not s.key_path.is_file():
            raise NotFound(f"no audit signing key at {s.key_path}")
        signer = Signer.load_or_create(s.key_path, origin=s.audit_origin)
        verifier, pem = signer.verifier_key(), signer.public_pem()
    if output_format() is not Format.table:
        print_data({"verifier_key": verifier, "public_pem": pem}, output_format())
        return
    print(verifier)
    print(pem, end="")


@audit_app.command("rotate-key")
def rotate_key() -> None:
    """Replace the signing key (or start a new one after it was lost); admin: this host's home."""
    from governance.audit.rotation import rotate_key as rotate

    local_only("audit rotate-key")
    s = settings()
    db = database(audit=False)
    actor = authorized(db, project=SYSTEM_PROJECT, obj="audit", act="rotate")
    done = rotate(db, key_path=s.key_path, origin=s.audit_origin, actor=actor,
                  witness=witnesses(s))  # fmt: skip
    how = (
        "endorsed by the previous key"
        if done.endorsed
        else "[yellow]the previous key was missing[/yellow]"
    )
    data = {"key": done.next, "endorsed": done.endorsed, "sealed_through": done.sealed_through}
    emit(data, lambda: (
        f"new audit key {done.next.split('+')[1]} ({how}); sealed through {done.sealed_through}"
    ))  # fmt: skip
