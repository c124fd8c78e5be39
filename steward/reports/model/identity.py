"""Sections ``identity`` (what the version is, where it serves) and ``card`` (what the team
wrote about the model: owners, intended use, limitations, out-of-scope uses)."""

from __future__ import annotations

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.core.errors import NotFound
from lineage import service as lineage
from lineage.query import find_node
from lineage.schemas import NodeKind
from steward.reports.blocks import Block, Fact, Facts, Paragraph, Section, Table
from steward.reports.document import ReportContext
from steward.reports.model.common import cell, section, src, when
from steward.reports.model.records import ModelRecords

CARD_FIELDS = (
    ("owners", "Owners"),
    ("intended_use", "Intended use"),
    ("limitations", "Limitations"),
    ("out_of_scope_uses", "Out-of-scope uses"),
)


def identity_section(ctx: ReportContext, records: ModelRecords) -> Section:
    """Section ``identity``: name, version, flavour, hash, signature, registration, serving."""
    mv = records.version
    me = src("model_version", mv.id)
    sig = mv.signature
    facts = [
        Fact(label="Model", value=mv.model, source=me),
        Fact(label="Version", value=mv.version, source=me),
        Fact(label="Flavour", value=mv.flavor, source=me),
        Fact(label="Artifact SHA-256", value=mv.sha256, source=me),
        Fact(label="Task", value=str(sig.task), source=me),
        Fact(label="Inputs", value=", ".join(f"{c.name}: {c.type}" for c in sig.inputs), source=me),
        Fact(
            label="Outputs", value=", ".join(f"{c.name}: {c.type}" for c in sig.outputs), source=me
        ),
        Fact(
            label="Context (captured, not model inputs)",
            value=", ".join(f"{c.name}: {c.type}" for c in sig.context) or None,
            source=me,
        ),
        Fact(label="Classes", value=", ".join(sig.classes or []) or None, source=me),
        Fact(label="Probabilities", value=sig.probabilities, source=me),
        Fact(label="Registered at", value=when(mv.created_at), source=me),
        *_registered_by(ctx, mv.model, mv.version),
        Fact(label="Aliases", value=", ".join(sorted(mv.aliases)) or None, source=me),
    ]
    blocks: list[Block] = [Facts(facts=facts), _serving(records)]
    return section("identity", "Identity", blocks, missing=[])


def _registered_by(ctx: ReportContext, model: str, version: int) -> list[Fact]:
    flt = AuditFilter(
        action="model.register", project=ctx.project, target=f"model:{model}@{version}"
    )
    page = list_audit(ctx.db, flt=flt, cursor=None, limit=1)
    if not page.items:
        return [Fact(label="Registered by", value=None)]
    entry = page.items[0]
    return [Fact(label="Registered by", value=entry.actor, source=src("audit_entry", entry.seq))]


def _serving(records: ModelRecords) -> Block:
    if not records.served:
        return Paragraph(text="The version has never served an endpoint.")
    rows, sources = [], []
    for endpoint, d in records.served:
        state = "serving now" if d.ended_at is None else "served before"
        rows.append(
            [
                cell(endpoint.name),
                state,
                when(d.started_at),
                when(d.ended_at),
                cell(d.actor),
                cell(d.note),
            ]
        )
        sources.append(src("endpoint", endpoint.id))
    return Table(
        caption="Endpoints that serve or served the version",
        columns=["endpoint", "state", "from", "until", "deployed by", "note"],
        rows=rows,
        sources=sources,
    )


def card_section(ctx: ReportContext, records: ModelRecords) -> Section:
    """Section ``card``: the model card's fields; the ones nobody wrote are the team's to write."""
    name = records.version.model
    try:
        card = lineage.model_card(ctx.db, project=ctx.project, name=name)
    except NotFound:
        return section("card", "Model card", [], missing=["the model has no card"])
    node = find_node(ctx.db, project=ctx.project, kind=NodeKind.model, name=name)
    me = None if node is None else src("lineage_node", node.id)
    facts: list[Fact] = []
    missing: list[str] = []
    for key, label in CARD_FIELDS:
        raw = getattr(card, key)
        value = ", ".join(raw) if isinstance(raw, list) else raw
        facts.append(Fact(label=label, value=value or None, source=me if value else None))
        if not value:
            missing.append(f"{label.lower()} (team must write)")
    facts.append(Fact(label="Last edited by", value=card.updated_by, source=me))
    facts.append(Fact(label="Last edited at", value=when(card.updated_at), source=me))
    blocks: list[Block] = [Facts(facts=facts)]
    if len(missing) == len(CARD_FIELDS):
        return section("card", "Model card", [], missing=missing)
    return section("card", "Model card", blocks, missing=missing)
