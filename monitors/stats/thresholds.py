"""Thresholds learnt from the reference's own variability (mean +/- 3 sigma over its chunks).

At a small window a distance's fixed cut-off (0.1, set for large samples) sits inside the
distance's own sampling noise, so it alarms on unshifted data. ``small_window_thresholds``
judges such columns against the upper band of the same distance over reference chunks of the
window's size instead (NannyML's scheme), learnt once per window size and kept in a small LRU.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from governance.core.cache import BoundedCache
from monitors.stats.columns import TableLike, as_columns
from monitors.stats.drift import (
    apply_chunk_thresholds,
    compute_data_drift,
    resolve_threshold,
    summarise,
)
from monitors.stats.reference import ReferenceProfile, build_reference_profile
from monitors.stats.schemas import (
    ChunkThreshold,
    ColumnDrift,
    ColumnKind,
    DataDriftResult,
    DriftConfig,
    Preset,
    ScoreKind,
    StatTestName,
    ThresholdSource,
)

SIGMAS = 3.0
# A window below this many rows is small: evidently only picks distances for references above
# 1,000 rows, and its fixed cut-offs are calibrated for samples of that size.
SMALL_WINDOW_ROWS = 1000
# Fewer chunks give no usable sigma: the fixed cut-off stays, and the result says why.
MIN_CHUNKS = 5
# A reference holding more chunks of the window's size gives a seeded sample of this many.
MAX_CHUNKS = 50
CHUNK_SEED = 0
# Window sizes are bucketed down the ladder 10 * 1.25**k (59, 74, 93, ... 444, 555): a distance
# shrinks as a window grows, so a bucket's thresholds err towards fewer false alarms.
LADDER_BASE = 10
LADDER_RATIO = 1.25
CACHE_SIZE = 64


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
    pieces = [table.slice(start, size) for start in range(0, size * chunks, size)]
    return learn_thresholds(profile, pieces, config)


def learn_thresholds(
    profile: ReferenceProfile, chunks: Sequence[pa.Table], config: DriftConfig
) -> dict[str, ChunkThreshold]:
    """The band of each column's score over ``chunks``, each tested against ``profile``."""
    scores: dict[str, list[float]] = {}
    tests: dict[str, StatTestName] = {}
    for chunk in chunks:
        for column in compute_data_drift(profile, chunk, config).columns:
            if column.score is not None and math.isfinite(column.score):
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


LADDER = tuple(
    int(LADDER_BASE * LADDER_RATIO**k)
    for k in range(math.ceil(math.log(SMALL_WINDOW_ROWS / LADDER_BASE, LADDER_RATIO)))
)


def chunk_rows(window_rows: int) -> int:
    """The chunk size thresholds are learnt at: the window's size bucketed down the ladder."""
    if window_rows < LADDER_BASE:
        return max(window_rows, 1)
    return LADDER[bisect.bisect_right(LADDER, window_rows) - 1]


def reference_chunks(reference: pa.Table, size: int) -> list[pa.Table]:
    """Disjoint runs of ``size`` consecutive reference rows, at most ``MAX_CHUNKS`` (seeded)."""
    starts = np.arange(reference.num_rows // size) * size
    if starts.size > MAX_CHUNKS:
        rng = np.random.default_rng(CHUNK_SEED)
        starts = np.sort(rng.choice(starts, MAX_CHUNKS, replace=False))
    return [reference.slice(int(start), size) for start in starts]


@dataclass(frozen=True, kw_only=True, slots=True)
class LearntThresholds:
    """Thresholds learnt for a window size, or why the fixed cut-offs judge instead."""

    thresholds: Mapping[str, ChunkThreshold] = field(default_factory=dict)
    chunk_rows: int | None = None
    chunks: int = 0
    reason: str | None = None


Key = tuple[int, tuple[tuple[str, StatTestName], ...], int]


class ChunkThresholdCache:
    """Learnt thresholds per (reference profile, columns and tests, chunk size); LRU, locked."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        # the entry keeps its profile alive, so the profile's id cannot be reused meanwhile
        self.cache: BoundedCache[Key, tuple[ReferenceProfile, LearntThresholds]] = BoundedCache(
            size
        )

    @property
    def learnt(self) -> int:
        """How many times thresholds were learnt."""
        return self.cache.builds

    def get(
        self,
        profile: ReferenceProfile,
        tests: Mapping[str, StatTestName],
        rows: int,
        learn: Callable[[], LearntThresholds],
    ) -> LearntThresholds:
        """The cached thresholds of this key, learning them on first use."""
        key = (id(profile), tuple(sorted(tests.items())), rows)
        return self.cache.get(key, lambda: (profile, learn()))[1]


CHUNK_THRESHOLDS = ChunkThresholdCache()


def window_thresholds(
    profile: ReferenceProfile,
    reference: pa.Table,
    tests: Mapping[str, StatTestName],
    window_rows: int,
    cache: ChunkThresholdCache = CHUNK_THRESHOLDS,
) -> LearntThresholds:
    """Thresholds of ``tests`` over reference chunks of the (bucketed) window size."""
    size = chunk_rows(window_rows)
    available = reference.num_rows // size
    if available < MIN_CHUNKS:
        reason = (
            f"the reference's {reference.num_rows} rows make {available} chunks of {size} "
            f"rows, fewer than {MIN_CHUNKS}"
        )
        return LearntThresholds(chunk_rows=size, chunks=available, reason=reason)
    return cache.get(profile, tests, size, lambda: _learn(profile, reference, tests, size))


def _learn(
    profile: ReferenceProfile, reference: pa.Table, tests: Mapping[str, StatTestName], size: int
) -> LearntThresholds:
    # each column keeps the test it had in the window; every chunk row counts
    config = DriftConfig(per_column_method=dict(tests), columns=tuple(tests), min_sample_size=1)
    chunks = reference_chunks(reference, size)
    learnt = learn_thresholds(profile, chunks, config)
    usable = {name: t for name, t in learnt.items() if t.chunks >= MIN_CHUNKS}
    return LearntThresholds(thresholds=usable, chunk_rows=size, chunks=len(chunks))


def small_window_thresholds(
    profile: ReferenceProfile,
    reference: pa.Table,
    result: DataDriftResult,
    config: DriftConfig,
    cache: ChunkThresholdCache = CHUNK_THRESHOLDS,
) -> tuple[DataDriftResult, LearntThresholds]:
    """Re-judge a small window's distances at their default cut-off against reference chunks.

    A threshold the configuration sets (``threshold``, per kind or per column) is kept: only
    the tests' fixed defaults are replaced.
    """
    rows = result.window_rows or 0
    if config.preset is Preset.steward or rows >= SMALL_WINDOW_ROWS:
        reason = f"window of {rows} rows is not small (< {SMALL_WINDOW_ROWS})"
        return result, LearntThresholds(reason=reason)
    tests = {c.column: c.test for c in result.columns if _default_distance(c, profile, config)}
    if not tests:
        reason = "no column judged by a distance at its default cut-off"
        return result, LearntThresholds(reason=reason)
    learnt = window_thresholds(profile, reference, tests, rows, cache)
    if not learnt.thresholds:
        return result, learnt
    return rejudge(result, learnt.thresholds, config), learnt


def _default_distance(column: ColumnDrift, profile: ReferenceProfile, config: DriftConfig) -> bool:
    return (
        column.score_kind is ScoreKind.distance
        and column.score is not None
        and resolve_threshold(column.column, profile.kinds[column.column], config) is None
    )


def rejudge(
    result: DataDriftResult, thresholds: Mapping[str, ChunkThreshold], config: DriftConfig
) -> DataDriftResult:
    """The result with its columns judged against ``thresholds`` and the share recounted."""
    learnt = replace(config, chunk_thresholds=thresholds)
    columns = apply_chunk_thresholds(list(result.columns), learnt)
    return replace(
        summarise(tuple(columns), config),
        window_rows=result.window_rows,
        min_window_rows=result.min_window_rows,
        window_large_enough=result.window_large_enough,
    )


def chunk_judged(result: DataDriftResult) -> list[str]:
    """The columns judged against reference-chunk thresholds."""
    source = ThresholdSource.reference_chunks
    return [c.column for c in result.columns if c.threshold_source is source]
