"""Permission table of the approvals routes."""

from __future__ import annotations

ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {}
