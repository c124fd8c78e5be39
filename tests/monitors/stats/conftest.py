"""Fixtures of the statistics tests: the Adult and German credit data sets, read from disk."""

from __future__ import annotations

import pandas as pd
import pytest
from stats_data import DATA, read_adult


@pytest.fixture(scope="session")
def adult() -> pd.DataFrame:
    """Adult training split (32,561 rows)."""
    return read_adult("adult.data", 0)


@pytest.fixture(scope="session")
def adult_test() -> pd.DataFrame:
    """Adult test split (16,281 rows), with the trailing dot of the label removed."""
    return read_adult("adult.test", 1)


@pytest.fixture(scope="session")
def german() -> pd.DataFrame:
    """German credit data (1,000 rows)."""
    path = DATA / "german-credit" / "german.csv"
    if not path.exists():
        pytest.skip(f"German credit data not found at {path}")
    return pd.read_csv(path)
