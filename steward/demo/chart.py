"""A picture of the demo's week: drift share and accuracy per daily window, alerts marked."""

from __future__ import annotations

from pathlib import Path

from governance.core.files import write_private_atomic
from steward.demo.replay import Day

DRIFT_SHARE_THRESHOLD = 0.5  # the demo monitor's dataset drift share (evidently's default)


def render_chart(days: list[Day], path: Path) -> Path | None:
    """Write a PNG of the monitor's results per day; returns its path (None without days)."""
    if not days:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only: the demo may run on a machine without a screen
    import matplotlib.pyplot as plt

    labels = [f"day {d.number}\n{d.run.window_start:%m-%d}" for d in days]
    summaries = [d.run.summary for d in days]
    share = [s.get("data_drift", {}).get("share_of_drifted_columns") or 0.0 for s in summaries]
    accuracy = [s.get("performance", {}).get("accuracy") for s in summaries]
    colours = ["#c0392b" if d.run.breached else "#2e86c1" for d in days]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
    top.bar(labels, share, color=colours)
    top.axhline(DRIFT_SHARE_THRESHOLD, color="black", linestyle="--", linewidth=1)
    top.set_ylabel("share of drifted features")
    top.set_ylim(0, 1)
    top.set_title("steward demo: income endpoint, daily data-drift monitor (red = alert)")
    bottom.plot(labels, [a if a is not None else float("nan") for a in accuracy], marker="o")
    bottom.set_ylabel("accuracy (labels)")
    for day_index, day in enumerate(days):
        if day.shifted:
            top.annotate("shift", (day_index, 0.02), ha="center", fontsize=8, color="white")
    fig.tight_layout()
    write_private_atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
    return path
