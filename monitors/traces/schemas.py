"""The record an LLM span becomes: one row of an LLM endpoint's inference log.

These column names are the contract between trace ingest (which writes them), LLM monitor signals
and evaluation runs (which read them). The completion is the row's ``prediction``; the span's
end time its ``timestamp``; ``trace_id:span_id`` its ``correlation_id``, so labels (reference
answers) and judge scores can follow a record by id.
"""

from __future__ import annotations

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
