"""Scheduled reports: the daemon leader stores one report per deployed model version per fire
of ``report_schedule`` (weekly by default).

Each report is keyed by (project, model, version, fire time): a second daemon, a retry or a
leader taking over finds the key taken and stores nothing (at-least-once scheduling,
exactly-once effects). After downtime only the latest fire is caught up.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from governance.access.service import list_projects
from governance.audit.signing import Signer
from governance.core.clock import Clock, to_utc
from governance.core.db import Database
from governance.core.errors import InvalidInput
from governance.core.principal import SYSTEM
from governance.core.settings import Settings
from lineage.service import list_endpoints
from monitors.scheduler.daemon import LeaderJob
from steward.reports.document import ReportFormat, ReportKind
from steward.reports.schemas import ReportCreate, ReportOrigin
from steward.reports.service import (
    DEFAULT_PERIOD,
    build,
    render_signed,
    schedule_key_taken,
    store_report,
)

log = logging.getLogger(__name__)
EVERY_SECONDS = 60.0
_PAGE = 100
_LOOKBACK_LIMIT = timedelta(days=400)  # a crontab fires at least once a year


def schedule_trigger(settings: Settings) -> Any | None:
    """The schedule as an APScheduler cron trigger in UTC; None when it is "off"."""
    from monitors.specs.cron import crontab_trigger

    if settings.report_schedule == "off":
        return None
    try:
        return crontab_trigger(settings.report_schedule, timezone="UTC")
    except ValueError as exc:
        raise InvalidInput(f"STEWARD_REPORT_SCHEDULE {settings.report_schedule!r}: {exc}") from exc


def last_fire(trigger: Any, now: datetime) -> datetime | None:
    """The schedule's latest fire time at or before ``now`` (None: none within a year)."""
    now = to_utc(now)
    lookback = timedelta(hours=1)
    while lookback <= _LOOKBACK_LIMIT * 2:
        fire = trigger.get_next_fire_time(None, now - lookback)
        if fire is not None and fire <= now:
            while (after := trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))) and (
                after <= now
            ):
                fire = after
            return to_utc(fire)
        lookback *= 2
    return None


def deployed_versions(db: Database) -> list[tuple[str, str, int]]:
    """(project, model, version) served by some endpoint now, sorted, without repeats."""
    found: set[tuple[str, str, int]] = set()
    for project in list_projects(db):
        after = ""
        while page := list_endpoints(db, project=project.name, after=after, limit=_PAGE):
            for endpoint in page:
                served = endpoint.model_version
                if served is not None:
                    found.add((project.name, served.model, served.version))
            after = page[-1].name
            if len(page) < _PAGE:
                break
    return sorted(found)


def schedule_key(project: str, model: str, version: int, fire: datetime) -> str:
    """The key a scheduled model report is stored under (one per version and fire)."""
    return f"model:{project}/{model}@{version}#{to_utc(fire).isoformat()}"


def store_scheduled_reports(
    db: Database, *, settings: Settings, signer: Signer, clock: Clock
) -> int:
    """Store the latest fire's report of every deployed model version not stored yet."""
    trigger = schedule_trigger(settings)
    if trigger is None:
        return 0
    fire = last_fire(trigger, clock.now())
    if fire is None:
        return 0
    stored = 0
    for project, model, version in deployed_versions(db):
        try:
            stored += _store_one(db, settings, signer, clock, (project, model, version), fire)
        except Exception:  # one model's failure must not stop the others; retried next round
            log.exception("scheduled report of %s/%s v%s failed", project, model, version)
    if stored:
        log.info("stored %d scheduled reports for %s", stored, fire.isoformat())
    return stored


def _store_one(
    db: Database, settings: Settings, signer: Signer, clock: Clock,
    subject: tuple[str, str, int], fire: datetime,
) -> int:  # fmt: skip
    from steward.reports.document import ReportContext

    project, model, version = subject
    key = schedule_key(project, model, version, fire)
    if schedule_key_taken(db, key):
        return 0
    request = ReportCreate(kind=ReportKind.model, model=model, version=version,
                           format=ReportFormat(settings.report_format))  # fmt: skip
    ctx = ReportContext(db=db, settings=settings, clock=clock, project=project,
                        period_start=fire - DEFAULT_PERIOD[ReportKind.model], period_end=fire,
                        generated_at=clock.now())  # fmt: skip
    generated = render_signed(build(ctx, request), request.format, signer)
    done = store_report(db, settings=settings, generated=generated, actor=SYSTEM,
                        origin=ReportOrigin.schedule, schedule_key=key)  # fmt: skip
    return 0 if done is None else 1


def report_leader_job(
    db: Database, settings: Settings, clock: Clock, signer: Signer, *, every: float = EVERY_SECONDS
) -> LeaderJob | None:
    """The daemon leader's job storing scheduled reports; None when the schedule is "off".

    Builds the trigger at once, so a bad ``STEWARD_REPORT_SCHEDULE`` stops the daemon at start.
    """
    if schedule_trigger(settings) is None:
        return None
    return LeaderJob(
        name="reports", every=every,
        run=lambda: store_scheduled_reports(db, settings=settings, signer=signer, clock=clock),
    )  # fmt: skip
