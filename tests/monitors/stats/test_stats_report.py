"""Drill-down: an evidently HTML report for a drift result."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitors.stats.drift import build_reference_profile, compute_data_drift
from monitors.stats.report import render_drift_report
from monitors.stats.schemas import DriftConfig, StatTestName


def test_drift_result_renders_as_an_evidently_html_report() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"amount": rng.normal(size=600), "city": rng.choice(["a", "b"], 600)})
    current = pd.DataFrame(
        {"amount": rng.normal(0.5, size=600), "city": rng.choice(["a", "b", "c"], 600)}
    )
    config = DriftConfig(per_column_method={"city": StatTestName.jensenshannon})
    result = compute_data_drift(build_reference_profile(reference), current, config)
    html = render_drift_report(reference, current, result)
    assert html.lstrip().lower().startswith("<html") or "<!doctype html>" in html.lower()
    assert "amount" in html and "city" in html
