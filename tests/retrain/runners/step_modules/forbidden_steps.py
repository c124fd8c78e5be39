"""A module outside the allowed prefixes: importing it leaves a mark in the working directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# the side effect the runner must never trigger for a refused function
Path("imported.flag").write_text("imported")


def step(ctx: Any) -> dict[str, Any]:
    """Do nothing (the import already did what matters)."""
    return {}
