"""Column names and readers of the real data sets the statistics tests use.

Every file is inside the repository or the installed package: a missing one fails the test.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "data"
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


def read_adult_train() -> pd.DataFrame:
    """Read the Adult training split shipped with the demo (header row, trimmed, '?' missing)."""
    raw = resources.files("steward.demo").joinpath("adult.csv.gz").read_bytes()
    frame = pd.read_csv(io.BytesIO(raw), compression="gzip", na_values="?")
    assert list(frame.columns) == ADULT_COLUMNS, list(frame.columns)
    return frame


def read_adult_test() -> pd.DataFrame:
    """Read the Adult test split as UCI ships it: a comment line first, labels ending in '.'."""
    frame = pd.read_csv(
        DATA / "adult.test.gz",
        names=ADULT_COLUMNS,
        skipinitialspace=True,
        na_values="?",
        skiprows=1,
    )
    frame["income"] = frame["income"].str.rstrip(".")
    return frame


def read_german_credit() -> pd.DataFrame:
    """Read the preprocessed German credit data (header row)."""
    return pd.read_csv(DATA / "german.csv")
