"""A picture of the demo's days: drift, fairness and accuracy per daily window, and who served.

Every axis starts at zero, so that a change looks as large as it is.
"""

from __future__ import annotations

from pathlib import Path

from governance.core.files import write_private_atomic
from steward.demo.replay import Day
from steward.demo.setup import DRIFT, FAIRNESS

DRIFT_SHARE = 0.5  # the drift monitor's dataset drift share (evidently's default)


def _series(days: list[Day]) -> dict[str, list[float]]:
    nan = float("nan")
    out: dict[str, list[float]] = {"share": [], "eod": [], "eod_ref": [], "accuracy": [], "v2": []}
    for day in days:
        drift = day.runs[DRIFT].summary.get("data_drift", {})
        fair = day.runs[FAIRNESS].summary
        out["share"].append(drift.get("share_of_drifted_columns") or 0.0)
        out["eod"].append(fair.get("fairness", {}).get("equalized_odds_difference", nan))
        out["eod_ref"].append(
            fair.get("fairness", {}).get("equalized_odds_difference_reference", nan)
        )
        out["accuracy"].append(fair.get("performance", {}).get("accuracy", nan))
        out["v2"].append(day.served.get(2, 0) / max(day.rows, 1))
    return out


def render_chart(days: list[Day], path: Path) -> Path | None:
    """Write a PNG of the days' monitor results; its path (None without days)."""
    if not days:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only: the demo may run on a machine without a screen
    import matplotlib.pyplot as plt

    s = _series(days)
    x = [d.number for d in days]
    fig, (drift, fair, acc) = plt.subplots(3, 1, figsize=(8, 7.5), sharex=True)
    drift.bar(x, s["share"], color=["#c0392b" if d.runs[DRIFT].breached else "#2e86c1"
                                    for d in days])  # fmt: skip
    drift.axhline(DRIFT_SHARE, color="black", linestyle="--", linewidth=1, label="alert above")
    drift.set(ylim=(0, 1), ylabel="share of drifted\ninput columns")
    drift.set_title("steward demo: endpoint income, one window a day (red = alert)")
    drift.legend(loc="upper left", fontsize=8)
    fair.plot(x, s["eod"], marker="o", color="#8e44ad", label="window")
    fair.plot(x, s["eod_ref"], linestyle=":", color="#555555", label="reference (scored test rows)")
    for day in days:
        if day.runs[FAIRNESS].breached:
            fair.plot(day.number, s["eod"][day.number - x[0]], "o", color="#c0392b")
    fair.set(
        ylim=(0, max(0.3, *[v for v in s["eod"] if v == v])), ylabel="equalized odds\ndiff. by sex"
    )
    fair.legend(loc="upper left", fontsize=8)
    acc.plot(x, s["accuracy"], marker="o", color="#27ae60", label="accuracy (labels)")
    acc.bar(x, s["v2"], color="#f5b041", alpha=0.5, label="share served by v2")
    acc.set(ylim=(0, 1), xlabel="day", xticks=x)
    acc.legend(loc="lower left", fontsize=8)
    shift = next((d.number for d in days if d.shifted), None)
    if shift is not None:
        for axis in (drift, fair, acc):
            axis.axvline(shift - 0.5, color="#999999", linewidth=1)
        drift.annotate("shift", (shift - 0.45, 0.9), fontsize=8, color="#555555")
    fig.tight_layout()
    write_private_atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
    return path
