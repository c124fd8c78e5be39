"""Profile mode over partitions: in-process and on a Dask LocalCluster, equal to the whole window.

The window is the Adult test split captured over two days in several files (one of them with
several row groups); the reference is the Adult training split.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from governance.core.db import Database
from governance.core.settings import Settings
from monitors.capture.schemas import CaptureKind
from monitors.capture.service import capture_files
from monitors.runs.adapters import CaptureWindowReader, default_environment
from monitors.runs.compute import LoadedWindow, compute_loaded, compute_window
from monitors.runs.partitioned import CapturePartitions
from monitors.runs.sources import (
    MemoryAlertSink,
    NoLineage,
    ProfileCache,
    RunEnvironment,
    StaticReferenceLoader,
)
from monitors.specs.schemas import Monitor, MonitorSpec, Signal, SignalKind, Target
from monitors.specs.windows import Span, WindowPlan
from monitors.stats.partition import (
    Sampling,
    allocate,
    canonical,
    finish,
    merge_partitions,
    summarise_partition,
)
from monitors.stats.profile import profile_window
from monitors.stats.reference import build_reference_profile
from tests.monitors.stats.stats_data import read_adult_test, read_adult_train

START = datetime(2026, 3, 1, tzinfo=UTC)
SPAN = Span(start=START, end=START + timedelta(days=2))
PLAN = WindowPlan(window_end=SPAN.end, production=SPAN, reference=None)
SIGNALS = (
    Signal(kind=SignalKind.data_drift),
    Signal(kind=SignalKind.data_drift, name="evidently", preset="evidently"),
    Signal(kind=SignalKind.data_quality),
)


def _frame_table(frame: Any) -> pa.Table:
    return pa.Table.from_pandas(frame.drop(columns=["income"]), preserve_index=False)


@pytest.fixture(scope="module")
def reference() -> pa.Table:
    """The Adult training split."""
    return _frame_table(read_adult_train())


@pytest.fixture(scope="module")
def window() -> pa.Table:
    """The Adult test split, a row every ten seconds from START (two days), ages shifted by 3."""
    table = _frame_table(read_adult_test())
    table = table.set_column(0, "age", pc.add(table.column("age"), 3))  # a drift to find
    seconds = np.arange(table.num_rows, dtype=np.int64) * 10
    stamps = pa.array(
        (np.datetime64(START.replace(tzinfo=None), "us") + seconds * 1_000_000).astype("M8[us]"),
        pa.timestamp("us", "UTC"),
    )
    assert stamps[-1].as_py() < SPAN.end
    return table.append_column("timestamp", stamps)


def _capture(settings: Settings, table: pa.Table) -> int:
    """Capture ``table`` in five batches, the last written in several row groups; file count."""
    store = capture_files(settings)
    pieces = np.array_split(np.arange(table.num_rows), 5)
    for piece in pieces[:-1]:
        batch = uuid4()
        part = table.take(pa.array(piece))
        days = store.stage(CaptureKind.inference, "alpha", "scorer", batch, part, "timestamp")
        store.publish(CaptureKind.inference, "alpha", "scorer", batch, days, fresh=True)
    last = table.take(pa.array(pieces[-1]))
    day = last.column("timestamp")[0].as_py().date().isoformat()
    folder = store.day_path(CaptureKind.inference, "alpha", "scorer", day)
    store.filesystem.create_dir(folder, recursive=True)
    pq.write_table(last, f"{folder}/part-{uuid4().hex}.parquet", row_group_size=700)
    days = store.days(CaptureKind.inference, "alpha", "scorer")
    return len(store.files(CaptureKind.inference, "alpha", "scorer", days))


@pytest.fixture
def profiled(settings: Settings, window: pa.Table) -> Settings:
    """Settings running every window in profile mode, over the captured Adult test split."""
    chosen = settings.model_copy(update={"monitor_profile_rows": 0, "monitor_sample_rows": 5000})
    assert _capture(chosen, window) >= 6  # the days split batches: several files per day
    return chosen


def _monitor(signals: tuple[Signal, ...] = SIGNALS) -> Monitor:
    spec = MonitorSpec(name="drift", target=Target(name="scorer"), signals=signals)
    now = datetime.now(UTC)
    return Monitor(
        id=uuid4(), project="alpha", spec=spec, created_at=now, updated_at=now,
        created_by="test", revision=1,
    )  # fmt: skip


def _env(db: Database, settings: Settings, reference: pa.Table, **kw: Any) -> RunEnvironment:
    return RunEnvironment(
        windows=CaptureWindowReader(db, settings),
        references=StaticReferenceLoader({"train": reference}, default="train"),
        alerts=MemoryAlertSink(),
        lineage=NoLineage(),
        profiles=ProfileCache(),
        **kw,
    )


def _outcomes(computed: Any) -> str:
    """The outcomes as JSON (equal floats print equal, NaN included), but how many partitions."""
    found = [vars_of(o) for o in computed.outcomes]
    for outcome in found:
        outcome["summary"].get("profile_mode", {}).pop("partitions", None)
    return json.dumps(found, sort_keys=True, default=str)


def vars_of(outcome: Any) -> dict[str, Any]:
    """A signal outcome as plain data."""
    metrics = [(m.metric, m.feature, m.value, m.threshold, m.breached) for m in outcome.metrics]
    summary = {k: dict(v) if isinstance(v, dict) else v for k, v in outcome.summary.items()}
    return {"key": outcome.key, "breached": outcome.breached, "metrics": metrics,
            "summary": summary, "error": outcome.error}  # fmt: skip


def _single_machine(monitor: Monitor, reference: pa.Table, whole: pa.Table, rows: int) -> Any:
    """The single-machine profile path: the whole window summarised as one partition."""
    profiles = ProfileCache()
    loaded = StaticReferenceLoader({"train": reference}, default="train")
    ref = loaded.load(project="alpha", spec=monitor.spec, span=None, windows=None)  # type: ignore[arg-type]
    sampling = Sampling(rows=rows)
    summary = finish(summarise_partition(profiles.profile(ref), whole, sampling), sampling)
    window = LoadedWindow(plan=PLAN, reference=ref, current=summary.sample)
    return compute_loaded(monitor, window, profiles=profiles, model=None, summary=summary)


def test_merged_partitions_equal_the_whole_window(
    profiled: Settings, reference: pa.Table, window: pa.Table
) -> None:
    """Profile and sample merged over row groups equal those of the window read whole."""
    partitions = CapturePartitions(profiled)
    parts = partitions.find(project="alpha", target=Target(name="scorer"), span=SPAN)
    assert parts is not None and len(parts.units) >= 10 and parts.rows == window.num_rows
    profile = build_reference_profile(reference)
    merged = partitions.summarise(parts, profile)
    whole = profile_window(profile, window)
    assert merged.partitions == len(parts.units)
    assert merged.profile.to_dict() == canonical(whole).to_dict()  # categories in one order
    single = finish(summarise_partition(profile, window, merged.sampling), merged.sampling)
    assert merged.sample.num_rows == 5000
    assert merged.sample.equals(single.sample)


def test_profile_run_equals_the_single_machine_profile_path(
    db: Database, profiled: Settings, reference: pa.Table, window: pa.Table
) -> None:
    """A run over the captured partitions gives the outcomes of the whole window summarised."""
    monitor = _monitor()
    env = _env(db, profiled, reference, partitions=CapturePartitions(profiled))
    computed = compute_window(monitor, PLAN, env)
    assert computed.rows == window.num_rows and computed.error is None
    assert _outcomes(computed) == _outcomes(_single_machine(monitor, reference, window, 5000))
    steward, evidently, quality = computed.outcomes
    described = steward.summary["profile_mode"]
    assert described["tested_on"] == "profile" and described["sample_seed"] == 0
    assert described["sample_rows"] == 5000 and described["window_rows"] == window.num_rows
    assert described["sampled_columns"] == ["fnlwgt"]  # the one continuous column: exact KS
    assert evidently.summary["profile_mode"]["sampled_columns"] == []
    assert quality.summary["profile_mode"]["tested_on"] == "sample"
    assert steward.breached and evidently.breached is False  # evidently: 1 of 13 drifted
    exact = compute_window(monitor, PLAN, _env(db, profiled, reference))
    assert "profile_mode" not in exact.outcomes[0].summary
    for profile, whole in zip(computed.outcomes[:2], exact.outcomes[:2], strict=True):
        verdicts = [(m.feature, m.breached) for m in profile.metrics]
        assert verdicts == [(m.feature, m.breached) for m in whole.metrics]


def test_dask_cluster_equals_in_process(
    db: Database, profiled: Settings, reference: pa.Table, dask_address: str
) -> None:
    """With ``dask_address`` set, the workers summarise the row groups: the same outcomes."""
    monitor = _monitor()
    local = compute_window(
        monitor, PLAN, _env(db, profiled, reference, partitions=CapturePartitions(profiled))
    )
    on_dask = profiled.model_copy(update={"dask_address": dask_address})
    env = _env(db, on_dask, reference, partitions=default_environment(db, on_dask).partitions)
    remote = compute_window(monitor, PLAN, env)
    assert remote.rows == local.rows and remote.status == local.status
    assert _outcomes(remote) == _outcomes(local)


def test_a_window_below_the_threshold_is_read_whole(
    db: Database, profiled: Settings, reference: pa.Table, window: pa.Table
) -> None:
    """Fewer rows than ``monitor_profile_rows``: the exact path, no profile-mode summary."""
    above = profiled.model_copy(update={"monitor_profile_rows": window.num_rows + 1})
    env = _env(db, above, reference, partitions=default_environment(db, above).partitions)
    computed = compute_window(_monitor(), PLAN, env)
    assert computed.rows == window.num_rows
    assert all("profile_mode" not in o.summary for o in computed.outcomes)
    unset = default_environment(db, profiled.model_copy(update={"monitor_profile_rows": None}))
    assert unset.partitions is None


def test_signals_on_labels_are_refused_in_profile_mode(
    db: Database, profiled: Settings, reference: pa.Table
) -> None:
    """Labels are joined to rows: a performance signal fails, saying why; drift still runs."""
    signals = (Signal(kind=SignalKind.data_drift), Signal(kind=SignalKind.performance))
    env = _env(db, profiled, reference, partitions=CapturePartitions(profiled))
    computed = compute_window(_monitor(signals), PLAN, env)
    drift, performance = computed.outcomes
    assert drift.error is None
    assert performance.error is not None and "profile mode" in performance.error
    assert str(computed.status) == "partial"


def test_the_sample_does_not_depend_on_the_partitioning(
    reference: pa.Table, window: pa.Table
) -> None:
    """Bottom-k by seeded row hashes: any split of the window draws the same sample."""
    profile = build_reference_profile(reference)
    sampling = Sampling(rows=1000, seed=7)
    whole = finish(summarise_partition(profile, window, sampling), sampling)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, window.num_rows), size=9, replace=False))
    pieces = [
        window.slice(a, b - a) for a, b in zip([0, *cuts], [*cuts, window.num_rows], strict=True)
    ]
    split = merge_partitions((summarise_partition(profile, p, sampling) for p in pieces), sampling)
    assert finish(split, sampling).sample.equals(whole.sample)
    other = Sampling(rows=1000, seed=8)
    assert not finish(summarise_partition(profile, window, other), other).sample.equals(
        whole.sample
    )
    days = whole.sample.column("timestamp").to_pandas().dt.date.value_counts()
    assert sorted(days.tolist()) == sorted(
        allocate({0: 8640, 1: window.num_rows - 8640}, 1000).values()
    )


def test_allocation_is_proportional_and_exact() -> None:
    """Largest remainders: the shares add up to the sample and follow the strata's sizes."""
    assert allocate({1: 10, 2: 20}, 100) == {1: 10, 2: 20}
    shares = allocate({1: 333, 2: 333, 3: 334}, 100)
    assert sum(shares.values()) == 100 and shares[3] == 34


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    """A real distributed cluster: two worker processes, one thread each."""
    from distributed import LocalCluster

    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address
