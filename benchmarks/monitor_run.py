"""Benchmark one monitor run over a 1M-row window, read from the stored Parquet capture files.

Adult census rows (shipped with the package) are scored with random predictions, ingested
through the capture store as Parquet batches spread over one day, and a daily drift monitor
then runs the window ending at midnight: read the window from the day partition, build the
reference profile (first run; cached afterwards), compute data and prediction drift, store the
results and the audit entry. Each stage is timed; the run is repeated on fresh window ends so
that the cached-profile case is measured too.

    .venv/bin/python benchmarks/monitor_run.py [--rows 1000000] [--repeat 3] [--evidently]

``--evidently`` also times evidently's DataDriftPreset on the same window and reference (pandas
frames, column kinds declared as the monitor infers them) against the monitor's drift step.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from governance.access.service import bootstrap
from governance.audit.service import configure_audit
from governance.audit.signing import Signer
from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.principal import SYSTEM
from governance.core.settings import Settings
from monitors.capture.service import capture_files, ingest_inferences, read_window
from monitors.capture.source import StaticSchemaSource, schema_from_signature
from monitors.runs.adapters import CaptureWindowReader
from monitors.runs.service import run_window
from monitors.runs.sources import (
    MemoryAlertSink,
    NoLineage,
    ProfileCache,
    RunEnvironment,
    StaticReferenceLoader,
)
from monitors.specs.schemas import MonitorSpec, Schedule, Target
from monitors.specs.service import create_monitor
from steward.demo.data import CLASSES, FEATURES, TARGET, load_adult, split
from steward.demo.setup import signature
from steward.migrations import upgrade

DAY0 = datetime(2026, 2, 1, tzinfo=UTC)
PARQUET = "application/x-parquet"


def _day(pool: pa.Table, rows: int, day: datetime, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    part = pool.take(rng.integers(0, pool.num_rows, rows)).select(list(FEATURES))
    stamps = day.timestamp() + np.sort(rng.random(rows)) * 86400
    p = rng.random(rows)
    return (
        part.append_column("correlation_id", pa.array([f"{seed}-{i}" for i in range(rows)]))
        .append_column(
            "timestamp", pa.array((stamps * 1e6).astype("int64"), pa.timestamp("us", tz="UTC"))
        )
        .append_column("prediction", pa.array(np.where(p > 0.76, CLASSES[1], CLASSES[0])))
        .append_column(
            "probabilities", pa.array(np.stack([1 - p, p], 1).tolist(), pa.list_(pa.float64()))
        )
    )


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _ingest(db: Database, settings: Settings, pool: pa.Table, rows: int, day: datetime) -> float:
    schemas = StaticSchemaSource({("bench", "income"): schema_from_signature(signature())})
    started = time.perf_counter()
    batch = 250_000
    for i, offset in enumerate(range(0, rows, batch)):
        table = _day(pool, min(batch, rows - offset), day, seed=int(day.timestamp()) + i)
        ingest_inferences(
            db,
            files=capture_files(settings),
            schemas=schemas,
            project="bench",
            endpoint="income",
            body=_parquet(table),
            content_type=PARQUET,
            actor=SYSTEM,
            clock=ManualClock(day + timedelta(days=1)),
        )
    return time.perf_counter() - started


def main() -> None:
    """Print a table of stage timings."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--evidently", action="store_true", help="compare with DataDriftPreset")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    settings = Settings(home=home)
    db = Database(settings.database_url)
    upgrade(db)
    configure_audit(
        db, signer=Signer.load_or_create(settings.key_path, origin="bench"), checkpoint_every=256
    )
    bootstrap(db, owner="admin", project="bench", actor=SYSTEM)
    data = split(load_adult())
    reference = data.reference.rename_columns(
        ["prediction" if c == TARGET else c for c in data.reference.column_names]
    )
    spec = MonitorSpec(
        name="bench", target=Target(name="income"), schedule=Schedule(interval=timedelta(days=1))
    )
    monitor = create_monitor(db, project="bench", spec=spec, actor=SYSTEM)
    profiles = ProfileCache()
    env = RunEnvironment(
        windows=CaptureWindowReader(db, settings),
        references=StaticReferenceLoader({"adult": reference}, default="adult"),
        alerts=MemoryAlertSink(),
        lineage=NoLineage(),
        profiles=profiles,
    )
    print(f"rows per window: {args.rows:,}; reference rows: {reference.num_rows:,}; home {home}")
    header = f"{'run':>4} {'ingest s':>9} {'read s':>7} {'profile':>8} {'run s':>7} {'rows/s':>11}"
    print(header)
    print("-" * len(header))
    for i in range(args.repeat):
        day = DAY0 + timedelta(days=i)
        ingest = _ingest(db, settings, data.pool, args.rows, day)
        t = time.perf_counter()
        window = read_window(
            settings, project="bench", endpoint="income", start=day, end=day + timedelta(days=1)
        )
        read = time.perf_counter() - t
        assert window.num_rows == args.rows, window.num_rows
        builds = profiles.builds
        t = time.perf_counter()
        report = run_window(db, monitor=monitor, window_end=day + timedelta(days=1), env=env)
        total = time.perf_counter() - t
        assert report.created and report.run.row_count == args.rows
        cached = "cold" if profiles.builds > builds else "cached"
        rate = args.rows / total
        print(f"{i + 1:>4} {ingest:>9.2f} {read:>7.2f} {cached:>8} {total:>7.2f} {rate:>11,.0f}")
    print(
        "run s: the whole run_window (read Parquet + drift of 14 features and the prediction"
        " + store results and audit entry, one transaction)"
    )
    if args.evidently:
        loaded = env.references.load(project="bench", spec=spec, span=None, windows=env.windows)
        _versus_evidently(reference, window, profiles.profile(loaded))


def _versus_evidently(reference: pa.Table, window: pa.Table, profile: Any) -> None:
    """Drift step only: the monitor's engine (cached profile) vs evidently's DataDriftPreset."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from monitors.stats.drift import compute_data_drift
    from monitors.stats.schemas import ColumnKind, DriftConfig, Preset

    names = [*FEATURES, "prediction"]
    t = time.perf_counter()
    compute_data_drift(profile, window.select(names), DriftConfig(preset=Preset.azure))
    ours = time.perf_counter() - t
    definition = DataDefinition(
        numerical_columns=[n for n in names if profile.kinds[n] is ColumnKind.numerical],
        categorical_columns=[n for n in names if profile.kinds[n] is ColumnKind.categorical],
    )
    current, ref = window.select(names).to_pandas(), reference.select(names).to_pandas()
    t = time.perf_counter()
    Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    theirs = time.perf_counter() - t
    print(
        f"drift step, {window.num_rows:,} rows x {len(names)} columns: steward {ours:.2f} s, "
        f"evidently DataDriftPreset {theirs:.2f} s (evidently / steward = {theirs / ours:.1f})"
    )


if __name__ == "__main__":
    main()
