"""Benchmark data drift against evidently's DataDriftPreset, and profile mode against exact mode.

Reference versus current, 20 numeric and 5 categorical columns, at 100k and 1M rows. Every
engine runs in its own subprocess on the same seeded data, so peak memory is measured cleanly:
a sampler thread reads the resident set size while the timed call runs, and the table reports
the peak increase over the RSS just before the call. Workers run with one BLAS thread.

    .venv/bin/python benchmarks/drift.py [--rows 100000 1000000] [--repeat 3]

(The first touch of fresh memory is slow on the benchmark VM, so 3 GB are touched first.)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
N_NUMERIC, N_CATEGORICAL = 20, 5
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """Resident set size of this process in bytes."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


class PeakMemory:
    """Sample RSS every millisecond while the block runs; report the peak increase."""

    def __enter__(self) -> PeakMemory:
        gc.collect()
        self.before = rss()
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())

    @property
    def increase_mb(self) -> float:
        """Peak increase in MiB."""
        return (self.peak - self.before) / 2**20


def make_data(rows: int, seed: int = 42) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seeded reference and current columns; five numeric and one categorical column drift."""
    rng = np.random.default_rng(seed)
    reference: dict[str, Any] = {}
    current: dict[str, Any] = {}
    for i in range(N_NUMERIC):
        scale = 1.0 + i / 4
        shift = 0.2 * scale if i < 5 else 0.005 * scale
        reference[f"num_{i}"] = rng.normal(i, scale, rows)
        current[f"num_{i}"] = rng.normal(i + shift, scale, rows)
    current["num_7"][: rows // 1000] = np.nan
    for j in range(N_CATEGORICAL):
        levels = np.array([f"level_{k}" for k in range(4 + 6 * j)], dtype=object)
        weights = np.linspace(1, 2, levels.size)
        drifted = weights[::-1] if j == 0 else weights
        reference[f"cat_{j}"] = rng.choice(levels, rows, p=weights / weights.sum())
        current[f"cat_{j}"] = rng.choice(levels, rows, p=drifted / drifted.sum())
    return reference, current


def timed(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time over ``repeat`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def run_evidently(rows: int, repeat: int) -> dict[str, Any]:
    """Time evidently's DataDriftPreset on pandas frames."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference, current = (pd.DataFrame(d) for d in make_data(rows))
    definition = DataDefinition(
        numerical_columns=[f"num_{i}" for i in range(N_NUMERIC)],
        categorical_columns=[f"cat_{j}" for j in range(N_CATEGORICAL)],
    )

    def run() -> dict[str, Any]:
        report = Report([DataDriftPreset()], include_tests=True)
        return report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        ).dict()

    with PeakMemory() as memory:
        seconds, snapshot = timed(run, repeat)
    verdicts = {
        t["metric_config"]["params"]["column"]: t["status"] == "FAIL"
        for t in snapshot["tests"]
        if t["id"] == "drift"
    }
    columns = {
        m["config"]["column"]: {
            "method": m["config"]["method"],
            "score": m["value"],
            "drift": verdicts[m["config"]["column"]],
        }
        for m in snapshot["metrics"][1:]
    }
    return {"seconds": seconds, "memory_mb": memory.increase_mb, "columns": columns}


def _steward_tables(rows: int) -> tuple[Any, Any]:
    import pyarrow as pa

    reference, current = make_data(rows)
    return pa.table(reference), pa.table(current)


def _columns(result: Any) -> dict[str, Any]:
    return {
        c.column: {"method": c.test.value, "score": c.score, "drift": c.drifted}
        for c in result.columns
    }


def run_steward(rows: int, repeat: int) -> dict[str, Any]:
    """Time the reference profile build and the drift run of the exact mode."""
    from monitors.stats.drift import build_reference_profile, compute_data_drift

    reference, current = _steward_tables(rows)
    with PeakMemory() as memory:
        build_seconds, profile = timed(lambda: build_reference_profile(reference), repeat)
        seconds, result = timed(lambda: compute_data_drift(profile, current), repeat)
    # a window one row shorter takes the general unequal-size path (quantile grid, cold cache)
    shorter = current.slice(0, rows - 1)
    unequal_seconds, _ = timed(lambda: compute_data_drift(profile, shorter), 1)
    return {
        "seconds": seconds,
        "build_seconds": build_seconds,
        "unequal_seconds": unequal_seconds,
        "memory_mb": memory.increase_mb,
        "columns": _columns(result),
    }


def run_profile(rows: int, repeat: int) -> dict[str, Any]:
    """Time profile mode: summarise the window, then test the summary."""
    from monitors.stats.drift import build_reference_profile
    from monitors.stats.profile import profile_window
    from monitors.stats.profile_drift import compute_profile_drift

    reference, current = _steward_tables(rows)
    profile = build_reference_profile(reference)
    with PeakMemory() as memory:
        summarise_seconds, window = timed(lambda: profile_window(profile, current), repeat)
        test_seconds, result = timed(lambda: compute_profile_drift(profile, window), repeat)
    return {
        "seconds": summarise_seconds + test_seconds,
        "summarise_seconds": summarise_seconds,
        "test_seconds": test_seconds,
        "memory_mb": memory.increase_mb,
        "columns": _columns(result),
    }


WORKERS = {"evidently": run_evidently, "steward": run_steward, "profile": run_profile}
DISPLAY = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
}


def spawn(engine: str, rows: int, repeat: int) -> dict[str, Any]:
    """Run one engine in a fresh interpreter and return its JSON report."""
    command = [sys.executable, __file__, "--worker", engine, "--rows", str(rows)]
    command += ["--repeat", str(repeat)]
    # one BLAS thread for every engine: OpenBLAS threads spin badly on a shared 2-core machine
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def warm_up_memory(gigabytes: float = 3.0) -> None:
    """Touch memory once: the first touch of fresh pages is slow on this VM."""
    block = np.ones(int(gigabytes * 2**30) // 8)
    block.sum()
    del block


def compare(left: dict[str, Any], right: dict[str, Any]) -> tuple[float, int, bool]:
    """Largest score difference, number of differing verdicts, and whether tests agree."""
    worst, mismatched, same_tests = 0.0, 0, True
    for name, ours in left["columns"].items():
        theirs = right["columns"][name]
        worst = max(worst, abs(ours["score"] - theirs["score"]))
        mismatched += ours["drift"] != theirs["drift"]
        same_tests &= DISPLAY.get(theirs["method"], theirs["method"]) == ours["method"]
    return worst, mismatched, same_tests


def profile_errors(exact: dict[str, Any], approx: dict[str, Any]) -> dict[str, float]:
    """Largest absolute score error of profile mode per test."""
    errors: dict[str, float] = {}
    for name, ours in exact["columns"].items():
        error = abs(ours["score"] - approx["columns"][name]["score"])
        errors[ours["method"]] = max(errors.get(ours["method"], 0.0), error)
    return errors


def main() -> None:
    """Run every engine at every size and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="best-of runs of steward engines")
    parser.add_argument("--worker", choices=sorted(WORKERS))
    args = parser.parse_args()
    if args.worker:
        # a small first run pays for lazy imports (scipy, evidently's registries) off the clock
        WORKERS[args.worker](2000, 1)
        print(json.dumps(WORKERS[args.worker](args.rows[0], args.repeat)))
        return
    warm_up_memory()
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"data drift: {N_NUMERIC} numeric + {N_CATEGORICAL} categorical columns, seed 42")
    header = (
        f"{'rows':>9} {'engine':<26} {'time s':>8} {'speed-up':>9} {'mem MiB':>8} "
        f"{'mem ratio':>9} {'max |diff|':>11} {'verdicts':>9} {'tests':>6}"
    )
    print(header)
    for rows in args.rows:
        evidently = spawn("evidently", rows, 1)
        steward = spawn("steward", rows, args.repeat)
        profile = spawn("profile", rows, args.repeat)
        _print_rows(rows, evidently, steward, profile)
    print()


def _print_rows(
    rows: int, evidently: dict[str, Any], steward: dict[str, Any], profile: dict[str, Any]
) -> None:
    base_s, base_mb = evidently["seconds"], evidently["memory_mb"]
    worst, mismatched, same = compare(steward, evidently)
    total = steward["seconds"] + steward["build_seconds"]
    lines = [
        ("evidently DataDriftPreset", base_s, base_mb, "-", "-", "-"),
        ("steward drift run", steward["seconds"], steward["memory_mb"], worst, mismatched, same),
        ("steward profile+run", total, steward["memory_mb"], worst, mismatched, same),
        (
            "steward run, window n-1 rows",
            steward["unequal_seconds"],
            steward["memory_mb"],
            "-",
            "-",
            "-",
        ),
    ]
    p_worst, p_mismatched, _ = compare(profile, steward)
    lines.append(
        (
            "steward profile mode",
            profile["seconds"],
            profile["memory_mb"],
            p_worst,
            p_mismatched,
            "-",
        )
    )
    for name, seconds, memory, diff, verdicts, tests in lines:
        diff_text = diff if isinstance(diff, str) else f"{diff:.1e}"
        verdict_text = verdicts if isinstance(verdicts, str) else f"{25 - verdicts}/25"
        print(
            f"{rows:>9} {name:<26} {seconds:>8.3f} {base_s / seconds:>8.1f}x {memory:>8.0f} "
            f"{memory / base_mb:>9.3f} {diff_text:>11} {verdict_text:>9} {tests!s:>6}"
        )
    errors = profile_errors(steward, profile)
    detail = ", ".join(f"{k} {v:.2e}" for k, v in sorted(errors.items()))
    print(f"{'':>9} profile-mode max error vs exact, per test: {detail}")
    print(
        f"{'':>9} profile mode vs exact drift run: {steward['seconds'] / profile['seconds']:.1f}x"
        f" faster (summarise {profile['summarise_seconds']:.3f} s, test"
        f" {profile['test_seconds']:.3f} s)"
    )


if __name__ == "__main__":
    main()
