"""Column names and readers of the data sets used by the statistics tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]
ADULT_NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
ADULT_CATEGORICAL = [c for c in ADULT_COLUMNS if c not in ADULT_NUMERIC]


def read_adult(name: str, skiprows: int) -> pd.DataFrame:
    path = DATA / "adult" / name
    if not path.exists():
        pytest.skip(f"Adult data set not found at {path} (expected /work/shared/data/adult)")
    frame = pd.read_csv(
        path,
        names=ADULT_COLUMNS,
        sep=", ",
        engine="python",
        na_values="?",
        skiprows=skiprows,
    )
    frame["income"] = frame["income"].str.rstrip(".")
    return frame
