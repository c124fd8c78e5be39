"""Permission table of the triggers routes."""

from __future__ import annotations

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {}
