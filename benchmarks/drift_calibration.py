"""Calibration of the drift presets on Adult: false alarms on unshifted windows, and power.

The 48,842 rows of Adult (the training split shipped in steward/demo, the test split in
tests/data) are shuffled once and cut into two disjoint pools: the reference and the pool
windows are drawn from (without replacement inside a window). Every window goes through
``monitors.runs.signals.data_drift``, the function a monitor run calls for a data drift signal,
with the reference profile a run builds. For each preset the table gives the share of windows
in which the signal breached (``breach``) and in which any feature drifted (``any``):

- no drift: 200 windows at n = 60, 500 and 5,000 (the steward target is at most 5%);
- numeric shift: ``age`` moved up by 0.5 reference standard deviations, n = 5,000;
- categorical shift: 10 points of ``race`` moved from White to Black, n = 5,000.

A second table compares, for ``preset: evidently`` with ``method: wasserstein`` (the numeric
features) and ``method: jensenshannon`` (all features) at n = 60 and 500, the fixed cut-off
(0.1, the engine without reference chunks, measured in the same run) with the reference-chunk
thresholds the signal uses at small windows: the no-drift alarm rates and how often the
``age`` shift of 0.5 sd is caught (``age`` drifted; one column of several cannot move the
signal's 50% share).

    .venv/bin/python benchmarks/drift_calibration.py [--windows 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import io
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitors.runs.signals import SignalInput, data_drift
from monitors.specs.schemas import Signal, SignalKind
from monitors.stats.drift import compute_data_drift
from monitors.stats.reference import build_reference_profile
from monitors.stats.schemas import DriftConfig, StatTestName, Verdict
from steward.demo.data import FEATURES, NUMERIC, TARGET, load_adult

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("steward", "evidently", "azure")
SIZES = (60, 500, 5000)
SHIFT_SIZE = 5000
Shift = Callable[[pa.Table, np.random.Generator], pa.Table]


def load_adult_test() -> pa.Table:
    """The UCI test split: a comment line first, ', ' separators, labels ending in '.'."""
    import pyarrow.csv as pacsv

    lines = gzip.decompress((ROOT / "tests/data/adult.test.gz").read_bytes()).splitlines()
    text = b"\n".join(line.replace(b", ", b",") for line in lines[1:] if line.strip())
    table = pacsv.read_csv(
        io.BytesIO(text),
        read_options=pacsv.ReadOptions(column_names=[*load_adult().column_names]),
        convert_options=pacsv.ConvertOptions(
            null_values=["?"],
            column_types={name: pa.int64() for name in NUMERIC} | {TARGET: pa.string()},
            strings_can_be_null=True,
        ),
    )
    return table.set_column(
        table.schema.get_field_index(TARGET), TARGET, pc.utf8_rtrim(table[TARGET], ".")
    )


def pools(seed: int) -> tuple[pa.Table, pa.Table]:
    """Disjoint reference and window pools of the features, cut from shuffled Adult."""
    table = pa.concat_tables([load_adult(), load_adult_test()]).select(list(FEATURES))
    order = np.random.default_rng(seed).permutation(table.num_rows)
    cut = table.num_rows // 2
    return table.take(order[:cut]), table.take(order[cut:])


def no_shift(window: pa.Table, rng: np.random.Generator) -> pa.Table:
    """The window as drawn."""
    return window


def age_shift(sigma: float) -> Shift:
    """Move ``age`` up by 0.5 reference standard deviations."""

    def shift(window: pa.Table, rng: np.random.Generator) -> pa.Table:
        age = pc.add(pc.cast(window["age"], pa.float64()), 0.5 * sigma)
        return window.set_column(window.schema.get_field_index("age"), "age", age)

    return shift


def race_shift(window: pa.Table, rng: np.random.Generator) -> pa.Table:
    """Relabel White rows as Black: 10% of the window's rows."""
    race = np.asarray(window["race"].to_pylist(), dtype=object)
    white = np.flatnonzero(race == "White")
    moved = rng.choice(white, size=window.num_rows // 10, replace=False)
    race[moved] = "Black"
    column = pa.array(race.tolist(), type=pa.string())
    return window.set_column(window.schema.get_field_index("race"), "race", column)


def alert_rates(
    data: tuple[pa.Table, pa.Table], size: int, shift: Shift, windows: int, seed: int
) -> dict[str, tuple[float, float]]:
    """Per preset, the share of windows whose signal breached and that had any drifted feature."""
    reference, pool = data
    profile = build_reference_profile(reference)
    signals = {p: Signal(kind=SignalKind.data_drift, preset=p) for p in PRESETS}
    signals["steward"] = Signal(kind=SignalKind.data_drift)  # the default preset
    counts = {p: [0, 0] for p in PRESETS}
    rng = np.random.default_rng(seed)
    for _ in range(windows):
        window = shift(pool.take(rng.choice(pool.num_rows, size, replace=False)), rng)
        data_in = SignalInput(profile=profile, reference=reference, current=window)
        for preset, signal in signals.items():
            outcome = data_drift(signal, data_in)
            counts[preset][0] += outcome.breached
            counts[preset][1] += bool(outcome.summary["drifted"])
    return {p: (b / windows, a / windows) for p, (b, a) in counts.items()}


DISTANCES = {"wasserstein": NUMERIC, "jensenshannon": FEATURES}
CHUNK_SIZES = (60, 500)
# per scheme: no-drift windows breached, with any feature drifted; shifted windows with age drifted
Rates = dict[str, tuple[float, float, float]]


def _alarms(drifted: list[str], breached: bool) -> tuple[int, int, int]:
    return int(breached), int(bool(drifted)), int("age" in drifted)


def distance_rates(
    data: tuple[pa.Table, pa.Table], method: str, size: int, shift: Shift, windows: int, seed: int
) -> Rates:
    """Per scheme (fixed cut-off, reference chunks): the shares of windows that alarmed."""
    reference, pool = data
    columns = DISTANCES[method]
    profile = build_reference_profile(reference, columns=list(columns))
    signal = Signal(
        kind=SignalKind.data_drift, preset="evidently", method=method, features=list(columns)
    )
    fixed = DriftConfig(method=StatTestName(method), columns=tuple(columns))
    counts = {"fixed": np.zeros(3), "chunks": np.zeros(3)}
    rng = np.random.default_rng(seed)
    for _ in range(windows):
        window = shift(pool.take(rng.choice(pool.num_rows, size, replace=False)), rng)
        result = compute_data_drift(profile, window, fixed)
        drifted = [c.column for c in result.columns if c.verdict is Verdict.drift]
        counts["fixed"] += _alarms(drifted, result.dataset_drift)
        outcome = data_drift(
            signal, SignalInput(profile=profile, reference=reference, current=window)
        )
        assert outcome.summary["threshold_source"] == "reference_chunks"
        counts["chunks"] += _alarms(outcome.summary["drifted"], outcome.breached)
    return {k: (v[0] / windows, v[1] / windows, v[2] / windows) for k, v in counts.items()}


def _ratio(chunks: float, fixed: float) -> str:
    return f"{chunks / fixed:.2f}" if fixed else "-"


def distance_table(data: tuple[pa.Table, pa.Table], sigma: float, windows: int, seed: int) -> None:
    """Print fixed cut-offs against reference-chunk thresholds for the two distances."""
    print(
        "\n| evidently, method, n | fixed: no drift breach / any | chunks: no drift breach / any"
        " | any ratio chunks/fixed | fixed: age +0.5 sd caught | chunks: age caught | seconds |"
    )
    print("| --- |" + " --- |" * 6)
    for method in DISTANCES:
        for size in CHUNK_SIZES:
            started = time.perf_counter()
            calm = distance_rates(data, method, size, no_shift, windows, seed + size)
            moved = distance_rates(data, method, size, age_shift(sigma), windows, seed + size)
            f, c = calm["fixed"], calm["chunks"]
            print(
                f"| {method}, n={size} | {f[0]:.1%} / {f[1]:.1%} | {c[0]:.1%} / {c[1]:.1%} "
                f"| {_ratio(c[1], f[1])} | {moved['fixed'][2]:.1%} | {moved['chunks'][2]:.1%} "
                f"| {time.perf_counter() - started:.1f} |",
                flush=True,
            )


def main() -> None:
    """Print the calibration table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = pools(args.seed)
    sigma = float(np.std(data[0]["age"].to_numpy().astype(float)))
    alert_rates(data, 60, no_shift, 3, args.seed)  # warm up: imports, caches
    rows = [
        *((f"no drift, n={n:,}", n, no_shift) for n in SIZES),
        (f"age +0.5 sd, n={SHIFT_SIZE:,}", SHIFT_SIZE, age_shift(sigma)),
        (f"race 10 pts, n={SHIFT_SIZE:,}", SHIFT_SIZE, race_shift),
    ]
    print(
        f"reference {data[0].num_rows:,} rows, window pool {data[1].num_rows:,} rows, "
        f"{len(FEATURES)} features, {args.windows} windows per row"
    )
    header = " | ".join(f"{p} breach / any" for p in PRESETS)
    print(f"| windows | {header} | seconds |")
    print("| --- |" + " --- |" * (len(PRESETS) + 1))
    for label, size, shift in rows:
        started = time.perf_counter()
        rates = alert_rates(data, size, shift, args.windows, args.seed + size)
        cells = " | ".join(f"{rates[p][0]:.1%} / {rates[p][1]:.1%}" for p in PRESETS)
        print(f"| {label} | {cells} | {time.perf_counter() - started:.1f} |", flush=True)
    distance_table(data, sigma, args.windows, args.seed)


if __name__ == "__main__":
    main()
