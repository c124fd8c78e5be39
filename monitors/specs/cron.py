"""Five-field crontab expressions with crontab's meaning, scheduled by APScheduler 3.

APScheduler 3 numbers weekdays from Monday = 0 where crontab numbers them from Sunday = 0 (its
``from_crontab`` documents the mismatch and keeps it for compatibility), and it ANDs a restricted
day of month with a restricted day of week where crontab ORs them. A schedule must fire when its
author means, so weekday numbers are rewritten as names, and the ambiguous combination is refused.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# crontab's weekday numbers, Sunday = 0 (and 7), as the names APScheduler reads unambiguously.
_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _day(token: str) -> int:
    text = token.strip().lower()
    if text in _NAMES:
        return _NAMES.index(text)
    if text.isdigit() and int(text) <= 7:
        return int(text) % 7
    raise ValueError(f"day of week {token!r} is not 0-7 or a day name (sun-sat)")


def _days(item: str) -> set[int]:
    span, _, step_text = item.partition("/")
    step = int(step_text) if step_text.isdigit() else 0
    if step_text and step < 1:
        raise ValueError(f"day of week step in {item!r} must be a positive number")
    if span == "*":
        first, last = 0, 6
    elif "-" in span:
        first_text, last_text = span.split("-", 1)
        first, last = _day(first_text), _day(last_text)
        last = 7 if last_text.strip() == "7" else last  # "5-7" is Friday through Sunday
        if last < first:
            raise ValueError(f"day of week range {item!r} runs backwards")
    else:
        first = _day(span)
        last = 6 if step_text else first
    return {day % 7 for day in range(first, last + 1, step or 1)}


def weekday_names(field: str) -> str:
    """Rewrite a crontab day-of-week field (Sunday = 0) as APScheduler day names."""
    if field.strip() in ("*", "?"):
        return "*"
    days = set().union(*(_days(item) for item in field.split(",")))
    return ",".join(_NAMES[day] for day in sorted(days))


def crontab_trigger(expr: str, *, timezone: str) -> Any:
    """An APScheduler ``CronTrigger`` that fires when crontab would; ValueError says why not."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron needs five fields (minute hour day month weekday), got {len(fields)}"
        )
    if fields[2] not in ("*", "?") and fields[4] not in ("*", "?"):
        raise ValueError(
            "cron restricts both day of month and day of week, which crontab ORs and the "
            "scheduler would AND: give one of them and '*' for the other"
        )
    fields[4] = weekday_names(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=timezone)


def known_zone(value: str) -> str:
    """``value`` when it names an IANA time zone; ValueError (a 422 at apply) otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value
