"""Permission table of the gates routes."""

from __future__ import annotations

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {}
