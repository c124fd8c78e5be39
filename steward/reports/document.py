"""A report as data: who and what it is about, when it was made, and its sections.

The JSON format is this model's canonical JSON (``canonical.canonical_bytes``); the published
JSON Schema (``schema/report.schema.json``) is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.settings import Settings
from steward.reports.blocks import Section

SCHEMA_VERSION = "steward.report/1"


class ReportKind(StrEnum):
    model = "model"  # model card / technical documentation of one model version
    project = "project"  # governance report of a project


class ReportFormat(StrEnum):
    html = "html"
    md = "md"
    json = "json"
    pdf = "pdf"


class ReportMeta(BaseModel):
    """What the report is about and when it was made (the only field that changes between two
    reports of the same records is ``generated_at``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: str = SCHEMA_VERSION
    kind: ReportKind
    title: str
    project: str
    model: str | None = None
    version: int | None = None
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    generator: str  # "steward <version>"


class Report(BaseModel):
    """A report: its metadata and its sections, in reading order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    meta: ReportMeta
    sections: list[Section]


@dataclass(frozen=True, kw_only=True)
class ReportContext:
    """What collectors read from: the database, the settings (storage root, audit key, witness),
    the project, the reporting period and the generation time (one ``now`` for the whole
    report, so two sections never disagree about the time)."""

    db: Database
    settings: Settings
    clock: Clock
    project: str
    period_start: datetime
    period_end: datetime
    generated_at: datetime
