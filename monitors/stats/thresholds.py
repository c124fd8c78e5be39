"""Thresholds learnt from the reference's own variability (mean +/- 3 sigma over its chunks)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from monitors.stats.columns import TableLike, as_columns
from monitors.stats.drift import compute_data_drift
from monitors.stats.reference import build_reference_profile
from monitors.stats.schemas import ChunkThreshold, ColumnKind, DriftConfig, StatTestName

SIGMAS = 3.0


def reference_chunk_thresholds(
    reference: TableLike,
    *,
    config: DriftConfig | None = None,
    chunks: int = 10,
    kinds: Mapping[str, ColumnKind] | None = None,
) -> dict[str, ChunkThreshold]:
    """Learn mean +/- 3 sigma of each column's score over reference chunks, as NannyML does."""
    config = config or DriftConfig()
    table = pa.table(as_columns(reference))
    profile = build_reference_profile(table, kinds=kinds, columns=config.columns)
    size = max(table.num_rows // chunks, 1)
    scores: dict[str, list[float]] = {}
    tests: dict[str, StatTestName] = {}
    for start in range(0, size * chunks, size):
        result = compute_data_drift(profile, table.slice(start, size), config)
        for column in result.columns:
            if column.score is not None:
                scores.setdefault(column.column, []).append(column.score)
                tests[column.column] = column.test
    return {name: _threshold(tests[name], values) for name, values in scores.items()}


def _threshold(test: StatTestName, values: list[float]) -> ChunkThreshold:
    mean, std = float(np.mean(values)), float(np.std(values))
    return ChunkThreshold(
        test=test,
        lower=mean - SIGMAS * std,
        upper=mean + SIGMAS * std,
        mean=mean,
        std=std,
        chunks=len(values),
    )
