"""The audit chain as a report states it: the trail of a resource, the verification result
(category and first bad sequence number on failure) and the latest witnessed checkpoint.

Owner: helper A (collect); the project report (helper D) uses ``audit_section`` too.
"""

from __future__ import annotations

from datetime import timedelta

from governance.audit.keys import key_ring
from governance.audit.runtime import witnessed_notes
from governance.audit.schemas import AuditEntry, AuditFilter, VerifyResult
from governance.audit.service import list_audit, list_checkpoints, verify_audit
from governance.audit.verify import SealPolicy
from governance.audit.witness import note_size
from governance.core.clock import isoformat
from governance.core.errors import InvalidInput
from steward.reports.blocks import (
    Block,
    Cell,
    Coverage,
    Fact,
    Facts,
    Paragraph,
    Section,
    Source,
    Table,
)
from steward.reports.document import ReportContext

TITLE = "Audit trail and chain verification"
PAGE = 500
# Entries listed per report at most (the trail of one model; the count says when cut).
MAX_ENTRIES = 2000
MAX_FINDINGS = 20


def audit_section(ctx: ReportContext, *, resources: list[str] | None) -> Section:
    """Section ``audit``: entries touching ``resources`` (None: none listed, verification only),
    the chain's verification result and the latest witnessed checkpoint."""
    blocks: list[Block] = []
    if resources is not None:
        blocks.append(_trail(ctx, resources))
    verified = _verify(ctx)
    blocks += _verification(verified)
    checkpoint, witnessed = _checkpoint(ctx)
    blocks.append(checkpoint)
    complete = isinstance(verified, VerifyResult) and witnessed
    coverage = Coverage.filled if complete else Coverage.partial
    return Section(id="audit", title=TITLE, coverage=coverage, blocks=blocks)


def _entries(ctx: ReportContext, resource: str) -> list[AuditEntry]:
    flt = AuditFilter(
        project=ctx.project, target=resource, since=ctx.period_start, until=ctx.period_end
    )
    found: list[AuditEntry] = []
    cursor: str | None = None
    while len(found) < MAX_ENTRIES:
        page = list_audit(ctx.db, flt=flt, cursor=cursor, limit=PAGE)
        found += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return found


def _trail(ctx: ReportContext, resources: list[str]) -> Block:
    by_seq = {e.seq: e for r in sorted(set(resources)) for e in _entries(ctx, r)}
    entries = [by_seq[s] for s in sorted(by_seq)][:MAX_ENTRIES]
    if not entries:
        listed = ", ".join(sorted(set(resources)))
        return Paragraph(text=f"No audit entry in the period names {listed}.")
    rows: list[list[Cell]] = [
        [e.seq, isoformat(e.ts), e.actor, e.action, e.target, e.decision] for e in entries
    ]
    caption = "Audit entries of the resource"
    if len(by_seq) > MAX_ENTRIES:
        caption += f" (the first {MAX_ENTRIES} of {len(by_seq)})"
    return Table(
        caption=caption,
        columns=["seq", "time", "actor", "action", "target", "decision"],
        rows=rows,
        sources=[_source("audit_entry", e.seq) for e in entries],
    )


def _source(kind: str, ident: int) -> Source:
    return Source(kind=kind, id=str(ident))


def _verify(ctx: ReportContext) -> VerifyResult | str:
    """Verify the whole log against the key history and the witness, as of the report's time."""
    settings = ctx.settings
    ring = key_ring(settings.key_path, origin=settings.audit_origin)
    if not len(ring):
        return "no audit public key is configured, so the chain could not be verified"
    policy = SealPolicy(
        max_entries=settings.audit_max_unsealed_entries or settings.checkpoint_every,
        max_age=timedelta(minutes=settings.audit_max_unsealed_minutes),
        now=ctx.generated_at,
    )
    try:
        return verify_audit(
            ctx.db,
            keys=ring,
            origin=settings.audit_origin,
            witnessed=witnessed_notes(settings),
            policy=policy,
        )
    except InvalidInput as exc:
        return f"the chain could not be verified: {exc.detail}"


def _verification(result: VerifyResult | str) -> list[Block]:
    if isinstance(result, str):
        return [Paragraph(text=result[0].upper() + result[1:] + ".")]
    categories = ", ".join(f"{k} ({v})" for k, v in sorted(result.counts.items()))
    status = "verified" if result.ok else "FAILED verification"
    text = f"The audit chain {status}"
    if not result.ok:
        text += f": {categories}; first bad sequence number {result.first_bad_seq}"
    facts = Facts(facts=_counts(result))
    blocks: list[Block] = [Paragraph(text=text + "."), facts]
    findings = result.findings[:MAX_FINDINGS]
    if findings:
        blocks.append(
            Table(
                caption="Verification findings",
                columns=["category", "seq", "detail"],
                rows=[[f.category, f.seq, f.detail] for f in findings],
                sources=[_source("audit_entry", f.seq) for f in findings],
            )
        )
    return blocks


def _counts(result: VerifyResult) -> list[Fact]:
    """The verification's numbers, each pointing at the entry or checkpoint it is about."""
    bad = result.first_bad_seq
    categories = ", ".join(f"{k} ({v})" for k, v in sorted(result.counts.items()))
    return [
        Fact(label="Chain", value="verified" if result.ok else "failed"),
        Fact(label="Categories", value=categories or None),
        Fact(label="First bad sequence number", value=bad, source=_optional("audit_entry", bad)),
        Fact(
            label="Entries", value=result.entries, source=_optional("audit_entry", result.entries)
        ),
        Fact(
            label="Checkpoints",
            value=result.checkpoints,
            source=_optional("audit_checkpoint", result.sealed_through),
        ),
        Fact(
            label="Sealed through",
            value=result.sealed_through,
            source=_optional("audit_checkpoint", result.sealed_through),
        ),
        Fact(
            label="Witnessed through",
            value=result.witnessed_through,
            source=_optional("audit_checkpoint", result.witnessed_through),
        ),
    ]


def _optional(kind: str, ident: int | None) -> Source | None:
    # 0 or None: no entry or checkpoint to point at
    return _source(kind, ident) if ident else None


def _checkpoint(ctx: ReportContext) -> tuple[Block, bool]:
    """The newest checkpoint the witness holds, as stored (size, root, when)."""
    notes = witnessed_notes(ctx.settings)
    witnessed = set(notes)
    stored = [c for c in list_checkpoints(ctx.db) if c.note in witnessed]
    if stored:
        latest = max(stored, key=lambda c: c.tree_size)
        source = _source("audit_checkpoint", latest.tree_size)
        return Facts(
            facts=[
                Fact(
                    label="Latest witnessed checkpoint: entries",
                    value=latest.tree_size,
                    source=source,
                ),
                Fact(
                    label="Latest witnessed checkpoint: root", value=latest.root_hash, source=source
                ),
                Fact(
                    label="Latest witnessed checkpoint: signed at",
                    value=isoformat(latest.created_at),
                    source=source,
                ),
            ]
        ), True
    if notes:
        size = max(note_size(n) for n in notes)
        text = (
            f"The witness holds a checkpoint over {size} entries that the database does not "
            "hold: the stored log was cut short or its checkpoints deleted."
        )
        return Paragraph(text=text), False
    return Paragraph(text="No checkpoint has been witnessed yet."), False
