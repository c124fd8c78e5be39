"""Use cases of trace capture: OTLP exports become records of LLM endpoints; redaction settings.

An export names its destination per resource (``steward.project`` and ``steward.endpoint``
resource attributes, the endpoint falling back to ``service.name``) unless the request's headers
name it. The caller needs ``(inference, write)`` in every project the export writes to, checked
before anything is stored (a project it cannot see is a 404, as on every project route). The
spans' text is redacted with the project's rules, then stored through inference capture, so
retention, size caps, the Parquet layout and idempotency on retried exports apply unchanged.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa

from governance.access.authorization import authorize
from governance.access.enforcer import PolicyEngine
from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import InvalidInput
from governance.core.principal import Principal
from lineage import service as lineage
from lineage.schemas import EndpointKind
from monitors.capture import bulk
from monitors.capture.files import ParquetCaptureStore
from monitors.capture.schemas import CORRELATION_ID, PREDICTION, TIMESTAMP
from monitors.capture.service import ingest_scored
from monitors.capture.source import LineageSchemaSource
from monitors.traces import otlp, records
from monitors.traces import schemas as s
from monitors.traces.redact import Redactor
from monitors.traces.store import SqlRedactionStore

log = logging.getLogger(__name__)

_WALL: Final = SystemClock()
_REDACTED: Final = (s.PROMPT, s.CONTEXT)
Destination = tuple[str, str]


def lineage_schemas() -> LineageSchemaSource:
    """Expected schemas from the lineage graph, LLM endpoints taking ``LLM_SCHEMA``."""
    return LineageSchemaSource(kinds={EndpointKind.llm: s.LLM_SCHEMA})


@dataclass(frozen=True, kw_only=True, slots=True)
class Export:
    """One OTLP/HTTP request as received: body, its headers, and where its spans go."""

    body: bytes
    content_type: str | None
    content_encoding: str | None = None
    project: str | None = None  # X-Steward-Project: wins over resource attributes
    endpoint: str | None = None  # X-Steward-Endpoint


@dataclass(kw_only=True)
class _Sorted:
    rows: dict[Destination, list[records.Row]] = field(default_factory=lambda: defaultdict(list))
    ignored: int = 0
    rejected: int = 0
    messages: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if reason not in self.messages:
            self.messages.append(reason)


def ingest_traces(
    db: Database,
    *,
    files: ParquetCaptureStore,
    export: Export,
    actor: Principal,
    policy: PolicyEngine | None,
    max_bytes: int,
    clock: Clock = _WALL,
    limits: bulk.IngestLimits = bulk.DEFAULT_LIMITS,
) -> tuple[s.TraceIngest, str]:
    """Store an export's GenAI spans as records; the outcome and the body's media type."""
    media = otlp.media_type(export.content_type)
    data = otlp.decompress(export.body, export.content_encoding, limit=max_bytes)
    spans = _sort(otlp.parse_request(data, media), export)
    for project, endpoint in spans.rows:  # every check before anything is stored
        authorize(actor, project, "inference", "write", db=db, policy=policy)
        _check_llm_endpoint(db, project, endpoint)
    stored = duplicates = redactions = 0
    for (project, endpoint), rows in spans.rows.items():
        redactor = _redactor(db, project)
        table, count = _table(rows, redactor)
        result = ingest_scored(
            db, files=files, schemas=lineage_schemas(), project=project, endpoint=endpoint,
            table=table, actor=actor, clock=clock, limits=limits,
        )  # fmt: skip
        redactions += count
        stored += 0 if result.duplicate else result.rows
        duplicates += result.rows if result.duplicate else 0
    outcome = s.TraceIngest(
        records=stored, duplicates=duplicates, ignored=spans.ignored, rejected=spans.rejected,
        redactions=redactions, messages=spans.messages,
    )  # fmt: skip
    return outcome, media


def _sort(request: Any, export: Export) -> _Sorted:
    """The GenAI spans' rows by destination; other spans ignored, unusable ones rejected."""
    found = _Sorted()
    for resource_spans in request.resource_spans:
        resource = records.attributes(resource_spans.resource.attributes)
        project, endpoint = records.destination(
            resource, project=export.project, endpoint=export.endpoint
        )
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                if not records.is_genai(span):
                    found.ignored += 1
                elif project is None or endpoint is None:
                    found.reject(
                        "no destination: set the steward.project and steward.endpoint (or "
                        "service.name) resource attributes or the X-Steward-Project and "
                        "X-Steward-Endpoint headers"
                    )
                else:
                    _add(found, (project, endpoint), span)
    return found


def _add(found: _Sorted, destination: Destination, span: Any) -> None:
    try:
        found.rows[destination].append(records.row_of(span))
    except records.SpanRefused as exc:
        found.reject(str(exc))


def _check_llm_endpoint(db: Database, project: str, endpoint: str) -> None:
    found = lineage.get_endpoint(db, project=project, name=endpoint)  # NotFound: 404
    if found.kind is not EndpointKind.llm:
        raise InvalidInput(
            f"endpoint {endpoint!r} is a {found.kind} endpoint; traces go to an endpoint "
            'created with "kind": "llm"',
            code="not_llm_endpoint",
        )


def _table(rows: list[records.Row], redactor: Redactor) -> tuple[pa.Table, int]:
    """The rows as an Arrow table of ``LLM_SCHEMA``, their text redacted; and the redactions."""
    rows = _unique(rows)
    redactions = 0
    columns: dict[str, list[Any]] = {
        CORRELATION_ID: [r.correlation_id for r in rows],
        TIMESTAMP: [r.timestamp for r in rows],
    }
    for name, _kind in s.LLM_FEATURES:
        values = [r.features[name] for r in rows]
        if name in _REDACTED:
            values, count = _redact_all(redactor, values)
            redactions += count
        columns[name] = values
    columns[PREDICTION], count = _redact_all(redactor, [r.completion for r in rows])
    return pa.table(columns, schema=s.LLM_SCHEMA.inference_arrow()), redactions + count


def _unique(rows: list[records.Row]) -> list[records.Row]:
    # A span sent twice in one export is one record (its id is the record's key).
    return list({r.correlation_id: r for r in rows}.values())


def _redact_all(redactor: Redactor, values: list[Any]) -> tuple[list[Any], int]:
    done: list[Any] = []
    total = 0
    for value in values:
        text, count = redactor.redact(value)
        done.append(text)
        total += count
    return done, total


def _redactor(db: Database, project: str) -> Redactor:
    settings = get_redaction(db, project=project)
    return Redactor.build(
        [str(b) for b in settings.builtins], [(c.name, c.pattern) for c in settings.custom]
    )


def reply(outcome: s.TraceIngest, media: str) -> bytes:
    """The OTLP response body for an outcome, with partial success when spans were refused."""
    return otlp.reply(media, rejected=outcome.rejected, message="; ".join(outcome.messages))


def get_redaction(db: Database, *, project: str) -> s.RedactionSettings:
    """The project's redaction setting (every built-in rule when none was saved)."""
    with db.read() as session:
        return SqlRedactionStore(session).get(project)


def set_redaction(
    db: Database, *, project: str, data: s.RedactionUpdate, actor: Principal, clock: Clock = _WALL
) -> s.RedactionSettings:
    """Replace the project's redaction setting; custom patterns are checked before they are kept."""
    Redactor.build([], [(c.name, c.pattern) for c in data.custom])  # refuses unsafe patterns
    names = [c.name for c in data.custom]
    if len(set(names)) != len(names):
        raise InvalidInput("custom rule names must be distinct", code="invalid_redaction_rule")
    settings = s.RedactionSettings(
        builtins=list(dict.fromkeys(data.builtins)), custom=data.custom,
        updated_by=actor.ref, updated_at=clock.now(),
    )  # fmt: skip
    with db.transaction() as session:
        saved = SqlRedactionStore(session).put(project, settings)
        record_audit(
            session, actor=actor, action="trace.redaction.update", project=project,
            target=f"project:{project}",
            details={"builtins": [str(b) for b in saved.builtins], "custom": names},
        )  # fmt: skip
    return saved
