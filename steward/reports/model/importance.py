"""Section ``explainability``: global SHAP importance of the version.

From the newest attribution-drift run that explained this very version (its stored mean
absolute SHAP values); otherwise computed here, deterministically: the monitor's reference (or
the version's training data), a seeded sample, the same explainer the monitors use.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from governance.core.errors import InvalidInput, InvalidState, NotFound
from lineage import service as lineage
from lineage.query import get_node
from lineage.schemas import DatasetVersion, NodeKind
from monitors.runs.adapters import read_dataset_version
from monitors.runs.model_attribution import explain, sample
from retrain.artifacts.formats import Flavor
from retrain.artifacts.store import find_artifact
from retrain.explain import cached_explainable
from steward.reports.blocks import Bar, BarChart, Block, Paragraph, Section, Source
from steward.reports.document import ReportContext
from steward.reports.model.common import section, src, when
from steward.reports.model.history import by_run, signal_kinds
from steward.reports.model.records import ModelRecords

SAMPLE_ROWS = 500
BACKGROUND_ROWS = 50
SEED = 0


@dataclass(frozen=True, kw_only=True)
class Importance:
    """Mean absolute SHAP value per input, where it came from and how it was computed."""

    values: dict[str, float]
    sources: list[Source]
    how: str


def explainability_section(ctx: ReportContext, records: ModelRecords) -> Section:
    """Section ``explainability``: a bar per input, largest first."""
    found = _stored(records)
    why = "no attribution-drift run explained the version in the period"
    if found is None:
        found, reason = _computed(ctx, records)
        if found is None:
            return section("explainability", "Explainability", [], missing=[why, reason])
    bars = [
        Bar(label=f, value=v) for f, v in sorted(found.values.items(), key=lambda i: (-i[1], i[0]))
    ]
    blocks: list[Block] = [
        Paragraph(text=found.how),
        BarChart(
            title="Global feature importance (mean |SHAP|)",
            x_label="mean |SHAP value|",
            bars=bars,
            sources=found.sources,
        ),
    ]
    return section("explainability", "Explainability", blocks, missing=[])


def _stored(records: ModelRecords) -> Importance | None:
    """The newest attribution run whose summary names this version as the model explained."""
    mv = records.version
    best: tuple[str, Importance] | None = None
    for history in records.monitors:
        keys = {k for k, kind in signal_kinds(history).items() if kind == "attribution_drift"}
        runs = {str(r.id): r for r in history.runs}
        for run_id, points in by_run(history.points).items():
            run = runs.get(run_id)
            for key in keys:
                summary = (run.summary.get(key) or {}) if run is not None else {}
                if (summary.get("method"), summary.get("model"), summary.get("version")) != (
                    "model",
                    mv.model,
                    mv.version,
                ):
                    continue
                values = {
                    p.feature: p.value
                    for p in points
                    if p.signal == key and p.metric == "mean_abs_shap" and p.value is not None
                }
                if not values:
                    continue
                rank = f"{when(points[0].window_end)}|{history.monitor.spec.name}"
                how = (
                    f"Mean absolute SHAP value of each input ({summary.get('explainer')} "
                    f"explainer) on {summary.get('window_rows_explained')} rows of the window "
                    f"ending {when(points[0].window_end)}, stored by monitor "
                    f"{history.monitor.spec.name} (signal {key}, run {run_id})."
                )
                if best is None or rank > best[0]:
                    best = (
                        rank,
                        Importance(values=values, sources=[src("monitor_run", run_id)], how=how),
                    )
    return None if best is None else best[1]


def _reference(ctx: ReportContext, records: ModelRecords) -> DatasetVersion | None:
    """The first monitor's reference dataset, else the version's first training dataset."""
    for history in records.monitors:
        ref = history.monitor.spec.reference
        if ref.dataset is not None:
            try:
                return lineage.get_dataset_version(
                    ctx.db, project=ctx.project, name=ref.dataset, version=ref.version
                )
            except NotFound:
                continue
    run = records.lineage_run
    for node_id in sorted(run.inputs, key=str) if run else []:
        for version in _dataset_at(ctx, node_id):
            return version
    return None


def _dataset_at(ctx: ReportContext, node_id: UUID) -> list[DatasetVersion]:
    node = get_node(ctx.db, project=ctx.project, node_id=node_id)
    if node.kind is not NodeKind.dataset_version:
        return []
    return [
        lineage.get_dataset_version(
            ctx.db,
            project=ctx.project,
            name=node.name,
            version=node.version,
            namespace=node.namespace,
        )
    ]


def _computed(ctx: ReportContext, records: ModelRecords) -> tuple[Importance | None, str]:
    """SHAP on a seeded sample of the reference, with the version's stored artifact."""
    version = records.version
    assert ctx.settings.artifact_dir is not None
    try:
        artifact = find_artifact(
            ctx.db, project=ctx.project, model=version.model, version=version.version,
            root=ctx.settings.artifact_dir,
        )  # fmt: skip
    except NotFound:
        return None, "Steward holds no uploaded artifact of the version"
    trusted = ctx.settings.skops_trusted_types
    model = None if artifact.flavor is Flavor.torch else cached_explainable(artifact, trusted)
    if model is None:
        return None, "Steward cannot score the version's artifact, so it cannot explain it"
    reference = _reference(ctx, records)
    if reference is None:
        return None, "no reference or training dataset to explain the version on"
    try:
        table = read_dataset_version(reference, settings=ctx.settings)
        inputs = list(model.features)
        background = sample(table.select(inputs), BACKGROUND_ROWS, SEED + 1)
        rows = sample(table.select(inputs), SAMPLE_ROWS, SEED)
        explained = explain(model, rows, background)
    except (InvalidInput, InvalidState, OSError, KeyError) as exc:
        return None, f"the version could not be explained on its reference ({type(exc).__name__})"
    how = (
        f"Computed for this report: mean absolute SHAP value of each input ({model.explainer} "
        f"explainer) on {explained.rows} rows of dataset {reference.name} version "
        f"{reference.version} (sha256 {reference.sha256}), sampled with numpy default_rng seed "
        f"{SEED}, {min(BACKGROUND_ROWS, table.num_rows)} background rows with seed {SEED + 1}."
    )
    sources = [src("model_version", records.version.id), src("dataset_version", reference.id)]
    return Importance(values=explained.importances, sources=sources, how=how), ""
