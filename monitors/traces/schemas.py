"""The record an LLM span becomes: one row of an LLM endpoint's inference log.

These column names are the contract between trace ingest (which writes them), LLM monitor signals
and evaluation runs (which read them). The completion is the row's ``prediction``; the span's
end time its ``timestamp``; ``trace_id:span_id`` its ``correlation_id``, so labels (reference
answers) and judge scores can follow a record by id.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from monitors.capture.schemas import ColumnType, ExpectedSchema

TRACE_ID = "trace_id"
SPAN_ID = "span_id"
OPERATION = "operation"  # gen_ai.operation.name: chat, text_completion, embeddings, ...
SYSTEM = "system"  # gen_ai.system / gen_ai.provider.name: openai, ...
MODEL = "model"  # gen_ai.response.model, else gen_ai.request.model
PROMPT_NAME = "prompt_name"  # steward.prompt.name: the prompt asset that rendered the input
PROMPT_VERSION = "prompt_version"  # steward.prompt.version
PROMPT = "prompt"  # the input messages as text (after redaction)
CONTEXT = "context"  # retrieved context for grounded answers (steward.context), may be null
INPUT_TOKENS = "input_tokens"
OUTPUT_TOKENS = "output_tokens"
LATENCY_MS = "latency_ms"
STATUS = "status"  # "ok" or "error"
ERROR_TYPE = "error_type"
FINISH_REASON = "finish_reason"

LLM_FEATURES: tuple[tuple[str, ColumnType], ...] = (
    (TRACE_ID, ColumnType.string),
    (SPAN_ID, ColumnType.string),
    (OPERATION, ColumnType.string),
    (SYSTEM, ColumnType.string),
    (MODEL, ColumnType.string),
    (PROMPT_NAME, ColumnType.string),
    (PROMPT_VERSION, ColumnType.string),
    (PROMPT, ColumnType.string),
    (CONTEXT, ColumnType.string),
    (INPUT_TOKENS, ColumnType.integer),
    (OUTPUT_TOKENS, ColumnType.integer),
    (LATENCY_MS, ColumnType.float),
    (STATUS, ColumnType.string),
    (ERROR_TYPE, ColumnType.string),
    (FINISH_REASON, ColumnType.string),
)

# An LLM endpoint's captured rows: the features above and the completion text as prediction.
LLM_SCHEMA = ExpectedSchema(features=LLM_FEATURES, prediction=ColumnType.string)


# What a project's redaction setting holds, and what ingest reports.
class BuiltinRule(StrEnum):
    """A built-in PII rule (see ``monitors.traces.redact``)."""

    email = "email"
    credit_card = "credit_card"
    us_ssn = "us_ssn"
    ipv4 = "ipv4"
    phone = "phone"


class RedactionRule(BaseModel):
    """A project's own rule: matches of ``pattern`` become ``[REDACTED:<name>]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    pattern: str = Field(min_length=1, max_length=200)


class RedactionSettings(BaseModel):
    """Which PII is removed from a project's trace text before it is stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    builtins: list[BuiltinRule] = Field(default_factory=lambda: list(BuiltinRule))
    custom: list[RedactionRule] = Field(default_factory=list, max_length=20)
    updated_by: str | None = None
    updated_at: datetime | None = None


class RedactionUpdate(BaseModel):
    """Replace a project's redaction setting (every built-in rule listed stays on)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    builtins: list[BuiltinRule] = Field(default_factory=lambda: list(BuiltinRule))
    custom: list[RedactionRule] = Field(default_factory=list, max_length=20)


class TraceIngest(BaseModel):
    """What one OTLP export did: records stored per endpoint, spans refused, text redacted."""

    model_config = ConfigDict(frozen=True)

    records: int = 0
    duplicates: int = 0
    ignored: int = 0  # spans that are no GenAI operation
    rejected: int = 0
    redactions: int = 0
    messages: list[str] = Field(default_factory=list)
