"""GenAI spans (OpenTelemetry GenAI semantic conventions) as the rows of an LLM endpoint.

A span is a GenAI span when it carries ``gen_ai.*`` attributes. Its prompt comes from the
``gen_ai.*.message`` events, else the ``gen_ai.prompt`` / ``gen_ai.input.messages`` attributes
(or the indexed ``gen_ai.prompt.<n>.content`` ones some instrumentations write); its completion
from ``gen_ai.choice`` events, else ``gen_ai.completion`` / ``gen_ai.output.messages``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from monitors.traces import schemas as s

GENAI: Final = "gen_ai."
PROJECT_ATTR: Final = "steward.project"
ENDPOINT_ATTR: Final = "steward.endpoint"
SERVICE_NAME: Final = "service.name"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
STATUS_ERROR: Final = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR
_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.(\d{1,4})\.(content|role)$")
_MESSAGE_EVENT = re.compile(r"^gen_ai\.(system|user|assistant|tool)\.message$")


class SpanRefused(ValueError):
    """A GenAI span that cannot become a record (reported back as a rejected span)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Row:
    """One record before redaction: its id, end time, features and completion."""

    correlation_id: str
    timestamp: datetime
    features: dict[str, Any]
    completion: str | None


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a Python value (arrays as lists, key-value lists as dicts)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(pairs: Iterable[Any]) -> dict[str, Any]:
    """OTLP ``KeyValue`` pairs as a dict (the last of repeated keys wins)."""
    return {kv.key: any_value(kv.value) for kv in pairs}


def is_genai(span: Any) -> bool:
    """Whether the span describes a GenAI operation (any ``gen_ai.*`` attribute)."""
    return any(kv.key.startswith(GENAI) for kv in span.attributes)


def destination(
    resource: Mapping[str, Any], *, project: str | None, endpoint: str | None
) -> tuple[str | None, str | None]:
    """Project and endpoint of a resource's spans: headers win, then resource attributes."""
    project = project or _text(resource.get(PROJECT_ATTR))
    endpoint = endpoint or _text(resource.get(ENDPOINT_ATTR)) or _text(resource.get(SERVICE_NAME))
    return project, endpoint


def row_of(span: Any) -> Row:
    """The record of one GenAI span; raises ``SpanRefused`` when it lacks what a record needs."""
    from monitors.traces.otlp import hex_id

    if len(span.trace_id) != 16 or len(span.span_id) != 8:
        raise SpanRefused("span without a valid trace or span id")
    if not span.end_time_unix_nano or span.end_time_unix_nano < span.start_time_unix_nano:
        raise SpanRefused("span without a valid end time")
    attrs = attributes(span.attributes)
    trace, span_id = hex_id(span.trace_id), hex_id(span.span_id)
    error = span.status.code == STATUS_ERROR
    features = {
        s.TRACE_ID: trace,
        s.SPAN_ID: span_id,
        s.OPERATION: _text(attrs.get("gen_ai.operation.name")),
        s.SYSTEM: _text(attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system")),
        s.MODEL: _text(attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")),
        s.PROMPT_NAME: _text(attrs.get("steward.prompt.name")),
        s.PROMPT_VERSION: _text(attrs.get("steward.prompt.version")),
        s.PROMPT: prompt_text(span.events, attrs),
        s.CONTEXT: _text(attrs.get("steward.context")),
        s.INPUT_TOKENS: _count(attrs, "input_tokens", "prompt_tokens"),
        s.OUTPUT_TOKENS: _count(attrs, "output_tokens", "completion_tokens"),
        s.LATENCY_MS: (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
        s.STATUS: "error" if error else "ok",
        s.ERROR_TYPE: _error_type(span, attrs) if error else None,
        s.FINISH_REASON: _finish_reason(span.events, attrs),
    }
    return Row(
        correlation_id=f"{trace}:{span_id}",
        timestamp=_EPOCH + timedelta(microseconds=span.end_time_unix_nano // 1000),
        features=features,
        completion=completion_text(span.events, attrs),
    )


def prompt_text(events: Sequence[Any], attrs: Mapping[str, Any]) -> str | None:
    """The input messages as text: from message events, else from the span's attributes."""
    messages: list[tuple[str, str]] = []
    for event in events:
        found = _MESSAGE_EVENT.match(event.name)
        if found is not None:
            messages.extend(_event_messages(attributes(event.attributes), found.group(1)))
        elif event.name == "gen_ai.content.prompt":
            messages.extend(_messages(attributes(event.attributes).get("gen_ai.prompt"), "user"))
    if not messages:
        raw = attrs.get("gen_ai.input.messages") or attrs.get("gen_ai.prompt")
        messages = _messages(raw, "user") or _indexed(attrs, "prompt")
    return _joined(messages)


def completion_text(events: Sequence[Any], attrs: Mapping[str, Any]) -> str | None:
    """The output as text: from ``gen_ai.choice`` events, else from the span's attributes."""
    messages: list[tuple[str, str]] = []
    for event in events:
        event_attrs = attributes(event.attributes)
        if event.name == "gen_ai.choice":
            body = event_attrs.get("message", event_attrs)
            messages.extend(_event_messages(_decoded(body), "assistant"))
        elif event.name == "gen_ai.content.completion":
            messages.extend(_messages(event_attrs.get("gen_ai.completion"), "assistant"))
    if not messages:
        raw = attrs.get("gen_ai.output.messages") or attrs.get("gen_ai.completion")
        messages = _messages(raw, "assistant") or _indexed(attrs, "completion")
    return _joined(messages)


def _event_messages(body: Any, role: str) -> list[tuple[str, str]]:
    if not isinstance(body, Mapping):
        return _messages(body, role)
    content = body.get("content", body.get("gen_ai.event.content"))
    return _messages(content, str(body.get("role") or role))


def _messages(raw: Any, role: str) -> list[tuple[str, str]]:
    """Messages from a string, JSON text, a message dict or a list of them."""
    raw = _decoded(raw)
    if raw is None:
        return []
    if isinstance(raw, list):
        return [m for item in raw for m in _messages(item, role)]
    if isinstance(raw, Mapping):
        text = raw.get("content")
        if text is None and isinstance(raw.get("parts"), list):  # gen_ai.input.messages shape
            text = "\n".join(str(p.get("content", "")) for p in raw["parts"] if _is_text(p))
        if text is None and isinstance(raw.get("message"), Mapping):
            return _messages(raw["message"], role)
        return [] if text is None else _messages(text, str(raw.get("role") or role))
    return [(role, str(raw))]


def _is_text(part: Any) -> bool:
    return isinstance(part, Mapping) and part.get("type", "text") == "text"


def _decoded(raw: Any) -> Any:
    """JSON text as its value (messages are often attributes holding JSON); other text as is."""
    if isinstance(raw, str) and raw[:1] in ("[", "{"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _indexed(attrs: Mapping[str, Any], which: str) -> list[tuple[str, str]]:
    found: dict[int, dict[str, str]] = {}
    for key, value in attrs.items():
        match = _INDEXED.match(key)
        if match is not None and match.group(1) == which:
            found.setdefault(int(match.group(2)), {})[match.group(3)] = str(value)
    default = "user" if which == "prompt" else "assistant"
    return [
        (parts.get("role", default), parts["content"])
        for _, parts in sorted(found.items())
        if "content" in parts
    ]


def _joined(messages: list[tuple[str, str]]) -> str | None:
    """One text: the bare content of a lone message, else ``role: content`` lines."""
    if not messages:
        return None
    if len(messages) == 1:
        return messages[0][1]
    return "\n".join(f"{role}: {text}" for role, text in messages)


def _count(attrs: Mapping[str, Any], name: str, older: str) -> int | None:
    value = attrs.get(f"gen_ai.usage.{name}", attrs.get(f"gen_ai.usage.{older}"))
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _error_type(span: Any, attrs: Mapping[str, Any]) -> str:
    if attrs.get("error.type"):
        return str(attrs["error.type"])
    for event in span.events:
        if event.name == "exception":
            kind = attributes(event.attributes).get("exception.type")
            if kind:
                return str(kind)
    return "_OTHER"  # the value the semantic conventions give an unknown error type


def _finish_reason(events: Sequence[Any], attrs: Mapping[str, Any]) -> str | None:
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if reasons is None:
        reasons = [
            attributes(e.attributes).get("finish_reason")
            for e in events
            if e.name == "gen_ai.choice"
        ]
        reasons = [r for r in reasons if r]
    if isinstance(reasons, list):
        return ",".join(str(r) for r in reasons) or None
    return _text(reasons)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)
