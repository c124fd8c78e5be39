"""The rows a gate scores: the endpoint's latest labelled window and a share of a reference.

The reference is ``GateSpec.reference_dataset``, else the training data linked in the lineage
graph to the champion, else to the challenger, else none. Its share is a seeded sample without
replacement, so a decision can be replayed. When the reference is a model's own training data
its rows flatter that model; the provenance names the dataset so a reader can tell. A linked
reference that lacks the label column (``GateSpec.reference_label``) or a model's features is
left out, the provenance saying why; a reference the spec names must serve, or the gate fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState, NotFound
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.query import upstream
from lineage.schemas import DatasetVersion, ModelVersion, NodeKind
from monitors.capture.schemas import CORRELATION_ID, LABEL
from monitors.runs.adapters import read_dataset_version
from retrain.gate.schemas import GateSpec
from retrain.windows import latest_labelled_window


@dataclass(frozen=True, kw_only=True, slots=True)
class Holdout:
    """Feature columns, the labels, where every row came from, and what went wrong."""

    table: pa.Table
    labels: list[Any]
    provenance: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Rows in the holdout."""
        return len(self.labels)


def build_holdout(
    db: Database,
    settings: Settings,
    *,
    project: str,
    endpoint: str,
    spec: GateSpec,
    columns: Sequence[str],
    linked: Sequence[ModelVersion],
    clock: Clock,
) -> Holdout:
    """The window's labelled rows then the reference's sample, restricted to ``columns``."""
    window = latest_labelled_window(
        settings, project=project, endpoint=endpoint, clock=clock,
        span=timedelta(days=spec.window_days), min_rows=0,
    )  # fmt: skip
    ids = sorted(map(str, window.table.column(CORRELATION_ID).to_pylist()))
    provenance: dict[str, Any] = {
        "window": {"endpoint": endpoint, "start": window.start.isoformat(),
                   "end": window.end.isoformat(), "rows": len(ids),
                   "correlation_ids_sha256": _digest("\n".join(ids).encode())},
    }  # fmt: skip
    problems: list[str] = []
    parts: list[tuple[pa.Table, list[Any]]] = []
    if len(window.table):
        parts.append(_part(window.table, columns, LABEL, "the endpoint's window", problems))
    provenance["reference"] = None
    reference = _reference(db, project, spec, linked, problems)
    if reference is not None:
        _add_reference(reference, settings, spec, columns, parts, provenance, problems)
    if problems:
        return Holdout(table=pa.table({}), labels=[], provenance=provenance, problems=problems)
    return _combined(parts, provenance, problems)


def _add_reference(
    found: DatasetVersion,
    settings: Settings,
    spec: GateSpec,
    columns: Sequence[str],
    parts: list[tuple[pa.Table, list[Any]]],
    provenance: dict[str, Any],
    problems: list[str],
) -> None:
    """The reference's sample into ``parts``, its facts into ``provenance``."""
    try:
        table, provenance["reference"] = _sample(found, settings, spec)
    except InvalidState as exc:
        problems.append(str(exc))
        return
    # a reference nobody named that cannot serve (no label column, other features) is left
    # out and said so; one the spec names must serve, or the gate fails
    unfit: list[str] = []
    part = _part(table, columns, spec.reference_label, "the reference", unfit)
    if unfit and spec.reference_dataset is None:
        provenance["reference"] |= {"rows": 0, "skipped": unfit[0]}
    else:
        problems += unfit
        parts.append(part)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _part(
    table: pa.Table, columns: Sequence[str], label: str, what: str, problems: list[str]
) -> tuple[pa.Table, list[Any]]:
    missing = [c for c in (*columns, label) if c not in table.column_names]
    if missing:
        problems.append(f"{what} lacks the column(s) {', '.join(missing[:10])}")
        return pa.table({}), []
    return table.select(list(columns)), table.column(label).to_pylist()


def _combined(
    parts: list[tuple[pa.Table, list[Any]]], provenance: dict[str, Any], problems: list[str]
) -> Holdout:
    if not parts:
        return Holdout(table=pa.table({}), labels=[], provenance=provenance)
    schema = parts[0][0].schema
    try:  # the reference takes the window's column types (the signature's, as captured)
        tables = [parts[0][0], *(t.cast(schema) for t, _ in parts[1:])]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        problems.append(f"the reference's columns do not match the window's: {exc}"[:300])
        return Holdout(table=pa.table({}), labels=[], provenance=provenance, problems=problems)
    labels = [v for _, part_labels in parts for v in part_labels]
    return Holdout(table=pa.concat_tables(tables), labels=labels, provenance=provenance)


def _reference(
    db: Database, project: str, spec: GateSpec, linked: Sequence[ModelVersion], problems: list[str]
) -> DatasetVersion | None:
    """The named reference, or the training data of the first linked model that has one."""
    if spec.reference_fraction == 0:
        return None
    if spec.reference_dataset is not None:
        name, _, version = spec.reference_dataset.partition("@")
        try:
            return lineage.get_dataset_version(
                db, project=project, name=name, version=version or None
            )
        except NotFound:
            problems.append(f"the reference dataset {spec.reference_dataset!r} does not exist")
            return None
    for model in linked:
        graph = upstream(db, project=project, node_id=model.id, depth=1,
                         kinds={NodeKind.dataset_version})  # fmt: skip
        for node in graph.nodes:
            if node.kind is NodeKind.dataset_version:
                return lineage.get_dataset_version(
                    db, project=project, name=node.name, version=node.version,
                    namespace=node.namespace,
                )  # fmt: skip
    return None


def _sample(
    found: DatasetVersion, settings: Settings, spec: GateSpec
) -> tuple[pa.Table, dict[str, Any]]:
    """``reference_fraction`` of the version's rows, drawn with ``spec.seed``, in file order."""
    try:
        table = read_dataset_version(found, settings=settings)
    except (InvalidInput, InvalidState, OSError) as exc:
        raise InvalidState(f"the reference dataset {found.name!r} cannot be read") from exc
    count = round(spec.reference_fraction * len(table))
    rng = np.random.default_rng(spec.seed)
    rows = np.sort(rng.choice(len(table), size=count, replace=False)).astype(np.int64)
    facts = {
        "dataset": found.name, "namespace": found.namespace, "version": found.version,
        "sha256": found.sha256, "rows_total": len(table), "rows": count,
        "fraction": spec.reference_fraction, "seed": spec.seed,
        "sample": "numpy default_rng(seed).choice(rows_total, rows, replace=False), sorted",
        "row_indices_sha256": _digest(rows.tobytes()),
    }  # fmt: skip
    return table.take(pa.array(rows)), facts
