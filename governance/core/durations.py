"""Whole-second durations as the API writes them: ISO-8601 text (``PT6H``, ``P1DT30M``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer


def iso_duration(value: timedelta) -> str:
    """Render a whole-second duration as ISO-8601 (``P1D``, ``PT6H``, ``P1DT30M``, ``PT0S``)."""
    days, rest = divmod(int(value.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    text = "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return text if text != "P" else "PT0S"


def whole_seconds(value: timedelta) -> timedelta:
    """Refuse a negative duration or one with a fraction of a second."""
    if value.total_seconds() < 0 or value.microseconds:
        raise ValueError("durations are whole seconds and not negative")
    return value


WholeSeconds = Annotated[
    timedelta, AfterValidator(whole_seconds), PlainSerializer(iso_duration, return_type=str)
]
