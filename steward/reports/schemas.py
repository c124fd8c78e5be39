"""What leaves the report service: stored reports, a request to store one, a generated file.

Owner: helper C.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from governance.core.clock import to_utc
from steward.reports.document import ReportFormat, ReportKind

MEDIA_TYPES = {
    ReportFormat.html: "text/html; charset=utf-8",
    ReportFormat.md: "text/markdown; charset=utf-8",
    ReportFormat.json: "application/json",
    ReportFormat.pdf: "application/pdf",
}


class ReportOrigin(StrEnum):
    """Why a stored report was made."""

    on_demand = "on_demand"
    schedule = "schedule"


class ReportCreate(BaseModel):
    """Generate and store a report (a model version's, or the project's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ReportKind
    model: str | None = Field(default=None, max_length=200)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    format: ReportFormat = ReportFormat.html
    period_start: datetime | None = None
    period_end: datetime | None = None

    @model_validator(mode="after")
    def _subject(self) -> ReportCreate:
        """A model report names its model version; a project report names none."""
        named = self.model is not None and self.version is not None
        if self.kind is ReportKind.model and not named:
            raise ValueError("a model report needs model and version")
        if self.kind is ReportKind.project and (self.model is not None or self.version):
            raise ValueError("a project report takes no model or version")
        return self


class StoredReport(BaseModel):
    """A stored, signed report file (download it by id)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    project: str
    kind: ReportKind
    model: str | None
    version: int | None
    format: ReportFormat
    digest: str  # of the report's canonical JSON
    sha256: str  # of the signed file
    size: int
    generated_at: datetime
    generated_by: str
    origin: ReportOrigin
    period_start: datetime
    period_end: datetime

    @property
    def filename(self) -> str:
        """The file name a download is offered under."""
        return file_name(self.kind, self.project, self.model, self.version, self.format,
                         self.generated_at)  # fmt: skip


def file_name(
    kind: ReportKind, project: str, model: str | None, version: int | None, fmt: ReportFormat,
    at: datetime,
) -> str:  # fmt: skip
    """``model-<name>-v<version>-<date>.<ext>`` or ``project-<name>-<date>.<ext>``."""
    subject = f"{model}-v{version}" if kind is ReportKind.model else project
    return f"{kind}-{subject}-{to_utc(at):%Y%m%dT%H%M%SZ}.{fmt}"
