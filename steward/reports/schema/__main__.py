"""Regenerate the published report schema: ``python -m steward.reports.schema``."""

from __future__ import annotations

from steward.reports.schema import write

if __name__ == "__main__":
    print(write())
