"""Fixtures of the scheduler tests: the run tests' monitor over in-memory traffic."""

from __future__ import annotations

from tests.monitors.runs.conftest import HOUR, START, env, monitor

__all__ = ["HOUR", "START", "env", "monitor"]
