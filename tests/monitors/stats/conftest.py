"""Fixtures of the statistics tests: the Adult and German credit data sets, read from disk."""

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


def _read_adult(name: str, skiprows: int) -> pd.DataFrame:
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


@pytest.fixture(scope="session")
def adult() -> pd.DataFrame:
    """Adult training split (32,561 rows)."""
    return _read_adult("adult.data", 0)


@pytest.fixture(scope="session")
def adult_test() -> pd.DataFrame:
    """Adult test split (16,281 rows), with the trailing dot of the label removed."""
    return _read_adult("adult.test", 1)


@pytest.fixture(scope="session")
def german() -> pd.DataFrame:
    """German credit data (1,000 rows)."""
    path = DATA / "german-credit" / "german.csv"
    if not path.exists():
        pytest.skip(f"German credit data not found at {path}")
    return pd.read_csv(path)
