"""Small helpers every collector of the model report uses: sources, times, empty sections."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from uuid import UUID

from governance.core.clock import isoformat
from steward.reports.blocks import Block, Cell, Coverage, Paragraph, Section, Source


def src(kind: str, ident: UUID | str | int) -> Source:
    """The source of a figure: a record's kind and id."""
    return Source(kind=kind, id=str(ident))


def when(value: datetime | None) -> str | None:
    """A time as canonical UTC text (None stays None)."""
    return None if value is None else isoformat(value)


def cell(value: Any) -> Cell:
    """A value a table cell can hold: numbers as they are (NaN as None), the rest as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def section(ident: str, title: str, blocks: list[Block], *, missing: list[str]) -> Section:
    """A section whose coverage follows what is missing: nothing, some of it, or all of it."""
    if not blocks:
        why = "; ".join(missing) or "no records of this kind"
        return empty(ident, title, why)
    if missing:
        note = Paragraph(text="Not covered by records: " + "; ".join(missing) + ".")
        return Section(id=ident, title=title, coverage=Coverage.partial, blocks=[*blocks, note])
    return Section(id=ident, title=title, coverage=Coverage.filled, blocks=blocks)


def empty(ident: str, title: str, why: str) -> Section:
    """A section with no records, saying why (never left out)."""
    text = f"No records: {why}."
    return Section(id=ident, title=title, coverage=Coverage.empty, blocks=[Paragraph(text=text)])
