"""Fixtures of the lineage tests: a manual clock, an actor, a small registry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from governance.core.clock import ManualClock
from governance.core.principal import Principal, PrincipalKind

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ACTOR = Principal(id=None, name="lineage@test", kind=PrincipalKind.system, via="test")


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when told to."""
    return ManualClock(T0)
