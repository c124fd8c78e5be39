"""Permission table of the pipelines routes."""

from __future__ import annotations

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {}
