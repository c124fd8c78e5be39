"""The model card / technical documentation of one model version, from Steward's records.

Owner: helper A (collect). Section ids, in order: identity, card, training_data, evaluation,
fairness, explainability, monitoring, lifecycle, audit, regulatory. The records are read once
(``model.records.collect``); each section is built from them by its module in ``model``.
"""

from __future__ import annotations

from steward.metrics import build_version
from steward.reports.audit_status import audit_section
from steward.reports.blocks import Section
from steward.reports.document import Report, ReportContext, ReportKind, ReportMeta
from steward.reports.model.fairness import fairness_section
from steward.reports.model.identity import card_section, identity_section
from steward.reports.model.importance import explainability_section
from steward.reports.model.lifecycle import lifecycle_section
from steward.reports.model.monitoring import monitoring_section
from steward.reports.model.records import ModelRecords, collect
from steward.reports.model.training import evaluation_section, training_section
from steward.reports.regulatory import regulatory_section

COLLECTORS = (
    identity_section,
    card_section,
    training_section,
    evaluation_section,
    fairness_section,
    explainability_section,
    monitoring_section,
    lifecycle_section,
)


def build_model_report(ctx: ReportContext, *, model: str, version: int) -> Report:
    """Collect every section of ``model`` version ``version``'s report."""
    records = collect(ctx, model=model, version=version)
    sections: list[Section] = [build(ctx, records) for build in COLLECTORS]
    sections.append(audit_section(ctx, resources=audit_resources(records)))
    sections.append(regulatory_section(ReportKind.model, sections))
    meta = ReportMeta(
        kind=ReportKind.model,
        title=f"Model card: {model} version {version}",
        project=ctx.project,
        model=model,
        version=version,
        period_start=ctx.period_start,
        period_end=ctx.period_end,
        generated_at=ctx.generated_at,
        generator=f"steward {build_version()}",
    )
    return Report(meta=meta, sections=sections)


def audit_resources(records: ModelRecords) -> list[str]:
    """The audit targets naming the version, its model's card, its approvals and rollouts."""
    mv = records.version
    return sorted(
        {
            f"model:{mv.model}@{mv.version}",
            f"model:{mv.model}",
            f"{mv.model}/{mv.version}",
            *(f"approval:{a.id}" for a in records.approvals),
            *(f"rollout:{r.id}" for r in records.rollouts if r.version == mv.version),
        }
    )
