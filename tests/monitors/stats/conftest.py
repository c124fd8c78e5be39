"""Fixtures of the statistics tests: the Adult and German credit data sets."""

from __future__ import annotations

import pandas as pd
import pytest
from stats_data import read_adult_test, read_adult_train, read_german_credit


@pytest.fixture(scope="session")
def adult() -> pd.DataFrame:
    """Adult training split (32,561 rows)."""
    frame = read_adult_train()
    assert len(frame) == 32_561
    return frame


@pytest.fixture(scope="session")
def adult_test() -> pd.DataFrame:
    """Adult test split (16,281 rows), with the trailing dot of the label removed."""
    frame = read_adult_test()
    assert len(frame) == 16_281
    return frame


@pytest.fixture(scope="session")
def german() -> pd.DataFrame:
    """German credit data (1,000 rows)."""
    frame = read_german_credit()
    assert len(frame) == 1_000
    return frame
