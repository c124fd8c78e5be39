"""Small seeded tables for monitor tests: a reference and hourly traffic with an optional shift."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa


def reference_table(rows: int = 2000, seed: int = 0) -> pa.Table:
    """Reference data: two numeric features, one categorical, a target called prediction."""
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "age": rng.normal(40, 10, rows),
            "hours": rng.normal(40, 5, rows),
            "sex": rng.choice(["Male", "Female"], rows, p=[0.66, 0.34]),
            "prediction": rng.choice(["<=50K", ">50K"], rows, p=[0.76, 0.24]),
        }
    )


def traffic(
    start: datetime,
    *,
    windows: int,
    every: timedelta = timedelta(hours=1),
    rows: int = 1000,
    shift_from: int | None = None,
    seed: int = 1,
) -> pa.Table:
    """``rows`` rows per window from ``start``; from window ``shift_from`` on, age shifts up."""
    rng = np.random.default_rng(seed)
    parts = []
    for w in range(windows):
        shifted = shift_from is not None and w >= shift_from
        stamps = [start + w * every + every * (i / rows) for i in range(rows)]
        parts.append(
            pa.table(
                {
                    "timestamp": pa.array(stamps, type=pa.timestamp("us", tz="UTC")),
                    "age": rng.normal(60 if shifted else 40, 10, rows),
                    "hours": rng.normal(40, 5, rows) + (15 if shifted else 0),
                    "sex": rng.choice(
                        ["Male", "Female"], rows, p=[0.3, 0.7] if shifted else [0.66, 0.34]
                    ),
                    "prediction": rng.choice(["<=50K", ">50K"], rows, p=[0.76, 0.24]),
                }
            )
        )
    return pa.concat_tables(parts)
