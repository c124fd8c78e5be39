"""Small builders of OTLP export requests for the trace tests."""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

START = 1_765_000_000_000_000_000  # 2025-12-06, in nanoseconds
DEFAULT_ATTRS: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 7,
}


def value(v: Any) -> AnyValue:
    """A Python value as an OTLP AnyValue."""
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, list):
        out = AnyValue()
        out.array_value.values.extend(value(x) for x in v)
        return out
    return AnyValue(string_value=str(v))


def kvs(attrs: dict[str, Any]) -> list[KeyValue]:
    """Attributes as OTLP KeyValues."""
    return [KeyValue(key=k, value=value(v)) for k, v in attrs.items()]


def span(
    n: int,
    *,
    attrs: dict[str, Any] | None = None,
    events: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    error: bool = False,
    millis: int = 250,
) -> Span:
    """A span with trace id ``n`` and span id ``n``."""
    out = Span(
        trace_id=n.to_bytes(16, "big"),
        span_id=n.to_bytes(8, "big"),
        name="chat gpt-4o",
        start_time_unix_nano=START + n * 1_000_000_000,
        end_time_unix_nano=START + n * 1_000_000_000 + millis * 1_000_000,
        attributes=kvs(DEFAULT_ATTRS if attrs is None else attrs),
    )
    for name, event_attrs in events:
        out.events.add(
            name=name, time_unix_nano=out.start_time_unix_nano, attributes=kvs(event_attrs)
        )
    if error:
        out.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
    return out


def request(spans: list[Span], resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    """An export request holding ``spans`` under one resource and scope."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(kvs(resource or {}))
    rs.scope_spans.add().spans.extend(spans)
    return req


def as_otlp_json(req: ExportTraceServiceRequest) -> bytes:
    """The request in the OTLP JSON encoding (hex ids, lowerCamelCase)."""
    payload = json_format.MessageToDict(req)
    for rs in payload.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                for key in ("traceId", "spanId"):
                    sp[key] = base64.b64decode(sp[key]).hex()
    return json.dumps(payload).encode()
