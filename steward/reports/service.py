"""Generating reports on demand and on a schedule; storing, listing and downloading them.

A generated report is built from the records, rendered and signed with the audit key. Stored
files are content-addressed (``<report_dir>/<sha256>.<format>``) and only ever read through
their row: a caller names a report id, never a path.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from governance.audit.service import record_audit
from governance.audit.signing import Signer
from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState, NotFound
from governance.core.files import storage_errors, write_private_atomic
from governance.core.principal import Principal
from governance.core.settings import Settings
from steward.reports.document import Report, ReportContext, ReportFormat, ReportKind
from steward.reports.models import ReportRow
from steward.reports.schemas import ReportCreate, ReportOrigin, StoredReport, file_name
from steward.reports.signing import sign

DEFAULT_PERIOD = {ReportKind.model: timedelta(days=30), ReportKind.project: timedelta(days=7)}
_WALL = SystemClock()


@dataclass(frozen=True, kw_only=True, slots=True)
class Generated:
    """A signed report file; ``stored`` is its row when it was stored."""

    report: Report
    format: ReportFormat
    content: bytes
    stored: StoredReport | None = None

    @property
    def filename(self) -> str:
        """The file name it is offered under."""
        meta = self.report.meta
        return file_name(meta.kind, meta.project, meta.model, meta.version, self.format,
                         meta.generated_at)  # fmt: skip


def report_root(settings: Settings) -> Path:
    """The folder stored report files live in."""
    assert settings.report_dir is not None
    return settings.report_dir


def period(
    kind: ReportKind, *, start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The reporting period: as given, or the default length (model 30 days, project 7) to now."""
    try:
        end = to_utc(end) if end is not None else now
        start = to_utc(start) if start is not None else end - DEFAULT_PERIOD[kind]
    except OverflowError as exc:  # e.g. the year 1 minus 30 days
        raise InvalidInput("period out of range", field="period_start") from exc
    if start >= end:
        raise InvalidInput("period_start must be before period_end", field="period_start")
    return start, end


def build(ctx: ReportContext, request: ReportCreate) -> Report:
    """Collect the report ``request`` asks for from the records."""
    if request.kind is ReportKind.model:
        from lineage.service import get_model_version
        from steward.reports.model_report import build_model_report

        assert request.model is not None and request.version is not None
        # an unknown version is a 404 before any collection starts
        get_model_version(ctx.db, project=ctx.project, model=request.model, version=request.version)
        return build_model_report(ctx, model=request.model, version=request.version)
    from steward.reports.project_report import build_project_report

    return build_project_report(ctx)


def generate(
    db: Database,
    *,
    settings: Settings,
    signer: Signer,
    project: str,
    request: ReportCreate,
    actor: Principal,
    clock: Clock = _WALL,
    store: bool = False,
) -> Generated:
    """Build, render and sign a report; with ``store`` also keep it (file, row, audit entry)."""
    now = clock.now()
    start, end = period(request.kind, start=request.period_start, end=request.period_end, now=now)
    ctx = ReportContext(db=db, settings=settings, clock=clock, project=project,
                        period_start=start, period_end=end, generated_at=now)  # fmt: skip
    generated = render_signed(build(ctx, request), request.format, signer)
    if not store:
        return generated
    stored = store_report(db, settings=settings, generated=generated, actor=actor,
                          origin=ReportOrigin.on_demand)  # fmt: skip
    assert stored is not None  # only a scheduled report's key can be taken
    return Generated(report=generated.report, format=generated.format,
                     content=generated.content, stored=stored)  # fmt: skip


def render_signed(report: Report, fmt: ReportFormat, signer: Signer) -> Generated:
    """The report rendered as ``fmt`` and signed."""
    from steward.reports.canonical import digest
    from steward.reports.render import render

    content = sign(render(report, fmt), fmt=fmt, report_digest=digest(report), signer=signer)
    return Generated(report=report, format=fmt, content=content)


def store_report(
    db: Database,
    *,
    settings: Settings,
    generated: Generated,
    actor: Principal,
    origin: ReportOrigin,
    schedule_key: str | None = None,
) -> StoredReport | None:
    """Write the file and its row (with the audit entry) together; None when ``schedule_key``
    is taken already (another daemon or an earlier try stored that report)."""
    sha = hashlib.sha256(generated.content).hexdigest()
    relative = f"{sha}.{generated.format}"
    target = report_root(settings) / relative
    if not target.is_file():
        write_private_atomic(target, generated.content)
    row = _row(generated, sha=sha, path=relative, actor=actor, origin=origin, key=schedule_key)
    try:
        with db.transaction() as session:
            session.add(row)
            session.flush()
            record_audit(session, actor=actor, action="report.generate", project=row.project,
                         target=f"report:{row.id}", details=_details(row))  # fmt: skip
            return _schema(row)
    except IntegrityError:
        _forget_file(db, target, relative)
        if schedule_key is None:
            raise
        return None
    except BaseException:
        _forget_file(db, target, relative)
        raise


def _row(
    generated: Generated, *, sha: str, path: str, actor: Principal, origin: ReportOrigin,
    key: str | None,
) -> ReportRow:  # fmt: skip
    from steward.reports.canonical import digest

    meta = generated.report.meta
    return ReportRow(
        id=uuid.uuid4(), project=meta.project, kind=str(meta.kind), model=meta.model,
        version=meta.version, format=str(generated.format), digest=digest(generated.report),
        sha256=sha, size=len(generated.content), path=path, generated_at=meta.generated_at,
        generated_by=actor.ref, origin=str(origin), period_start=meta.period_start,
        period_end=meta.period_end, schedule_key=key,
    )  # fmt: skip


def _details(row: ReportRow) -> dict[str, object]:
    return {"kind": row.kind, "model": row.model, "version": row.version, "format": row.format,
            "digest": row.digest, "sha256": row.sha256, "origin": row.origin}  # fmt: skip


def _forget_file(db: Database, target: Path, relative: str) -> None:
    """Remove a file written for a row that was not stored, unless another row holds it."""
    with db.read() as session:
        held = session.scalar(select(ReportRow.id).where(ReportRow.path == relative).limit(1))
    if held is None:
        target.unlink(missing_ok=True)


def _schema(row: ReportRow) -> StoredReport:
    return StoredReport.model_validate(row, from_attributes=True)


def schedule_key_taken(db: Database, key: str) -> bool:
    """Whether a scheduled report with this key is stored already."""
    with db.read() as session:
        found = session.scalar(select(ReportRow.id).where(ReportRow.schedule_key == key))
    return found is not None


def list_reports(
    db: Database,
    *,
    project: str,
    kind: ReportKind | None = None,
    model: str | None = None,
    version: int | None = None,
    origin: ReportOrigin | None = None,
    limit: int = 100,
) -> list[StoredReport]:
    """Stored reports of a project, newest first, optionally filtered."""
    query = select(ReportRow).where(ReportRow.project == project)
    for column, value in ((ReportRow.kind, kind), (ReportRow.model, model),
                          (ReportRow.version, version), (ReportRow.origin, origin)):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    query = query.order_by(ReportRow.generated_at.desc(), ReportRow.id).limit(limit)
    with db.read() as session:
        return [_schema(row) for row in session.scalars(query)]


def get_report(db: Database, *, project: str, report_id: uuid.UUID) -> StoredReport:
    """A stored report of ``project``; raises NotFound (also for another project's id)."""
    with db.read() as session:
        row = session.get(ReportRow, report_id)
        if row is None or row.project != project:
            raise NotFound("report not found")
        return _schema(row)


def read_report(
    db: Database, *, settings: Settings, project: str, report_id: uuid.UUID
) -> tuple[StoredReport, bytes]:
    """A stored report and its file's bytes, read from its row's path and hash-checked."""
    with db.read() as session:
        row = session.get(ReportRow, report_id)
        if row is None or row.project != project:
            raise NotFound("report not found")
        stored, relative = _schema(row), row.path
    root = report_root(settings).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path == root:
        raise InvalidState("stored report path leaves the report folder")
    try:
        with storage_errors():
            content = path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidState("the stored report file is missing") from exc
    if hashlib.sha256(content).hexdigest() != stored.sha256:
        raise InvalidState("the stored report file does not match its hash")
    return stored, content
