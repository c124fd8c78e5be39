"""Benchmark the data-drift monitor in profile mode over a partitioned window: in-process by row
group, and on a two-worker Dask LocalCluster.

A window of N rows (20 numeric and 5 categorical columns, two days, three columns drifted) is
written as capture Parquet files (row groups of ``--row-group`` rows) in a temporary folder,
removed at the end. Each mode runs in its own child process, warmed up on a small window first,
then timed on the whole one; the table gives seconds, seconds per million rows and the peak RSS
of every process (ru_maxrss of the child, which holds the LocalCluster's scheduler, and of each
Dask worker). At the smallest size, the exact single-machine run (the window read whole, every
test on every row) also runs, and the table says whether each feature's verdict is the same.

    .venv/bin/python benchmarks/partitioned_drift.py                      # 1M,5M: minutes
    .venv/bin/python benchmarks/partitioned_drift.py --rows 10M,50M,100M  # the full run

(The exact run reads the whole window into one process: at 10M rows that alone needs about
2.5 GB; the 2 GiB bound is the profile modes'.)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_NUMERIC, N_CATEGORICAL = 20, 5
DRIFTED = ("num_0", "num_1", "cat_0")  # shifted in the window: every mode must find them
START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 2
BATCH = 1_000_000
WARMUP_ROWS = 1_000_000  # two tasks: each worker runs one before the timed run
REFERENCE_ROWS = 200_000
CATEGORIES = [f"c{i:02d}" for i in range(12)]
GiB = 1024**3


def parse_rows(text: str) -> list[int]:
    """``1M,5M,500k`` as row counts."""
    scale = {"k": 1_000, "m": 1_000_000}
    sizes = []
    for item in text.split(","):
        item = item.strip().lower()
        sizes.append(int(float(item[:-1]) * scale[item[-1]]) if item[-1] in scale else int(item))
    return sizes


def columns(rows: int, rng: np.random.Generator, *, drifted: bool) -> dict[str, Any]:
    """One batch of feature columns; in the window, ``DRIFTED`` are shifted."""
    data: dict[str, Any] = {}
    for i in range(N_NUMERIC):
        shift = 0.1 if drifted and f"num_{i}" in DRIFTED else 0.0
        data[f"num_{i}"] = rng.normal(shift, 1.0 + 0.05 * i, rows)
    weights = np.linspace(1, 2, len(CATEGORIES))
    for i in range(N_CATEGORICAL):
        p = weights[::-1] if drifted and f"cat_{i}" in DRIFTED else weights
        codes = rng.choice(len(CATEGORIES), size=rows, p=p / p.sum())
        data[f"cat_{i}"] = pa.DictionaryArray.from_arrays(
            pa.array(codes, pa.int32()), pa.array(CATEGORIES)
        ).cast(pa.string())
    return data


def reference() -> pa.Table:
    """The reference: undrifted rows of the same generator."""
    return pa.table(columns(REFERENCE_ROWS, np.random.default_rng(1), drifted=False))


def write_window(store: Any, endpoint: str, rows: int, row_group: int, seed: int) -> None:
    """Write ``rows`` over two days as capture files of at most ``BATCH`` rows each."""
    from monitors.capture.schemas import CaptureKind

    rng = np.random.default_rng(seed)
    step = DAYS * 86_400_000_000 // rows  # microseconds between rows: time order, two days
    start_us = int(START.timestamp() * 1_000_000)
    for first in range(0, rows, BATCH):
        count = min(BATCH, rows - first)
        stamps = start_us + (np.arange(first, first + count, dtype=np.int64) * step)
        table = pa.table(
            {"timestamp": pa.array(stamps, pa.timestamp("us", "UTC")),
             **columns(count, rng, drifted=True)}
        )  # fmt: skip
        days = table.column("timestamp").cast(pa.date32())
        for day in sorted(set(days.unique().to_pylist())):
            part = table.filter(pc.equal(days, pa.scalar(day)))
            folder = store.day_path(CaptureKind.inference, "bench", endpoint, day.isoformat())
            store.filesystem.create_dir(folder, recursive=True)
            path = f"{folder}/part-{uuid4().hex}.parquet"
            pq.write_table(part, path, row_group_size=row_group, compression="snappy")


def monitor() -> Any:
    """A data-drift monitor (the steward preset) of endpoint ``window``."""
    from monitors.specs.schemas import Monitor, MonitorSpec, Signal, SignalKind, Target

    spec = MonitorSpec(
        name="drift", target=Target(name="window"), signals=(Signal(kind=SignalKind.data_drift),)
    )
    now = datetime.now(UTC)
    return Monitor(
        id=UUID(int=1), project="bench", spec=spec, created_at=now, updated_at=now,
        created_by="bench", revision=1,
    )  # fmt: skip


def peak_rss() -> int:
    """Peak resident set size of this process, in bytes (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_child(mode: str, home: str, sample_rows: int) -> dict[str, Any]:
    """Warm up, then time one monitor run in ``mode``: inprocess, dask or exact."""
    from governance.core.settings import Settings
    from monitors.runs.compute import compute_window
    from monitors.runs.partitioned import CapturePartitions
    from monitors.runs.sources import (
        MemoryAlertSink,
        NoLineage,
        ProfileCache,
        RunEnvironment,
        StaticReferenceLoader,
    )  # fmt: skip
    from monitors.specs.schemas import Target
    from monitors.specs.windows import Span, WindowPlan

    settings = Settings(home=Path(home), monitor_profile_rows=0, monitor_sample_rows=sample_rows)
    cluster = client = None
    if mode == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster, set_as_default=False)  # type: ignore[no-untyped-call]
        client.run(_warm_worker)  # every worker imports the engine before the timed run
    span = Span(start=START, end=START + timedelta(days=DAYS))
    plan = WindowPlan(window_end=span.end, production=span, reference=None)
    env = RunEnvironment(
        windows=_Reader(settings),
        references=StaticReferenceLoader({"train": reference()}, default="train"),
        alerts=MemoryAlertSink(), lineage=NoLineage(), profiles=ProfileCache(),
        partitions=None if mode == "exact" else CapturePartitions(settings, client=client),
    )  # fmt: skip
    warm = monitor().model_copy(
        update={"spec": monitor().spec.model_copy(update={"target": Target(name="warmup")})}
    )
    compute_window(warm, plan, env)
    started = time.perf_counter()
    computed = compute_window(monitor(), plan, env)
    seconds = time.perf_counter() - started
    (outcome,) = computed.outcomes
    result: dict[str, Any] = {
        "seconds": seconds, "rows": computed.rows, "main": peak_rss(), "error": computed.error,
        "verdicts": {m.feature: m.breached for m in outcome.metrics if m.feature},
        "breached": outcome.breached, "workers": [],
    }  # fmt: skip
    if client is not None:
        result["workers"] = sorted(client.run(peak_rss).values())
        client.close()  # type: ignore[no-untyped-call]
        cluster.close()  # type: ignore[union-attr]
    return result


def _warm_worker() -> None:
    import monitors.runs.partitioned
    import monitors.stats.partition_drift  # noqa: F401


class _Reader:
    """The exact path's reader: the window read whole from the capture store."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def read(self, *, project: str, target: Any, span: Any, labels: bool = False) -> pa.Table:
        from monitors.capture.service import read_window

        return read_window(
            self.settings, project=project, endpoint=target.name, start=span.start, end=span.end
        )


def in_child(mode: str, home: Path, sample_rows: int) -> dict[str, Any]:
    """Run ``mode`` in a fresh interpreter, so its peak memory is its own."""
    command = [sys.executable, __file__, "--child", mode, str(home), str(sample_rows)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench_size(rows: int, args: argparse.Namespace, exact: bool) -> list[dict[str, Any]]:
    """Write a window of ``rows``, run each mode on it, remove it."""
    from monitors.capture.service import capture_files

    home = Path(tempfile.mkdtemp(prefix="steward-partitioned-"))
    try:
        store = capture_files(_settings(home))
        write_window(store, "warmup", WARMUP_ROWS, args.row_group, seed=3)
        write_window(store, "window", rows, args.row_group, seed=2)
        modes = ["inprocess", "dask", *(["exact"] if exact else [])]
        return [{"mode": m, **in_child(m, home, args.sample_rows)} for m in modes]
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _settings(home: Path) -> Any:
    from governance.core.settings import Settings

    return Settings(home=home)


def report(results: list[tuple[int, list[dict[str, Any]]]]) -> None:
    """Print the table: time, time per million rows, peak RSS per process, verdicts."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="data drift in profile mode over a partitioned window")
    for name in ("rows", "mode", "seconds", "s / M rows", "peak RSS main",
                 "peak RSS workers", "drifted", "= exact"):  # fmt: skip
        table.add_column(name, justify="right")
    worst = 0
    for rows, runs in results:
        exact = next((r for r in runs if r["mode"] == "exact"), None)
        for run in runs:
            peaks = [run["main"], *run["workers"]]
            if run["mode"] != "exact":
                worst = max(worst, *peaks)
            drifted = sorted(f for f, v in run["verdicts"].items() if v)
            same = (
                "-" if exact is None or run is exact else str(run["verdicts"] == exact["verdicts"])
            )
            table.add_row(
                f"{rows:,}", run["mode"], f"{run['seconds']:.2f}",
                f"{run['seconds'] / (rows / 1e6):.3f}", _mib(run["main"]),
                ", ".join(_mib(w) for w in run["workers"]) or "-",
                ",".join(drifted), same,
            )  # fmt: skip
    Console(width=160).print(table)
    print("(the LocalCluster's scheduler runs in the main process: its memory is in 'main')")
    verdict = "under" if worst < 2 * GiB else "OVER"
    print(f"largest peak RSS of a profile-mode process: {_mib(worst)} ({verdict} 2 GiB)")


def _mib(value: int) -> str:
    return f"{value / 2**20:,.0f} MiB"


def main() -> None:
    """Parse the arguments, run every size, print the table."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, home, sample_rows = sys.argv[2], sys.argv[3], int(sys.argv[4])
        print(json.dumps(run_child(mode, home, sample_rows)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1M,5M", help="window sizes, e.g. 10M,50M,100M")
    parser.add_argument("--row-group", type=int, default=500_000, help="rows per row group")
    parser.add_argument("--sample-rows", type=int, default=100_000, help="rows of the sample")
    args = parser.parse_args()
    sizes = sorted(parse_rows(args.rows))
    results = []
    for rows in sizes:
        results.append((rows, bench_size(rows, args, exact=rows == sizes[0])))
        print(f"{rows:,} rows done", file=sys.stderr)
    report(results)


if __name__ == "__main__":
    main()
