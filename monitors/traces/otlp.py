"""Decode OTLP/HTTP trace export bodies (protobuf or JSON, maybe gzip) and encode replies.

Follows the OTLP/HTTP specification: ``application/x-protobuf`` bodies are the binary
``ExportTraceServiceRequest``; ``application/json`` bodies its JSON mapping, with trace and span
ids as hex strings (not base64, as protobuf's own JSON mapping would have them). The reply is an
``ExportTraceServiceResponse`` in the request's encoding.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import TYPE_CHECKING, Any, Final

from governance.core.errors import InvalidInput, TooLarge

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
MALFORMED: Final = "otlp_malformed"
_ID_FIELDS: Final = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def media_type(content_type: str | None) -> str:
    """The body's encoding from its Content-Type: protobuf or JSON (422 otherwise)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in (PROTOBUF, JSON):
        return media
    raise InvalidInput(
        f"OTLP bodies are {PROTOBUF} or {JSON}, not {media or 'untyped'}",
        code="otlp_media_type",
    )


def decompress(body: bytes, encoding: str | None, *, limit: int) -> bytes:
    """The body without its Content-Encoding (identity or gzip), at most ``limit`` bytes."""
    coding = (encoding or "identity").strip().lower()
    if coding == "identity":
        return body
    if coding != "gzip":
        raise InvalidInput(f"unsupported Content-Encoding {coding!r}", code="otlp_encoding")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        # Never inflate more than the cap (plus one byte to notice it): a gzip bomb stops here.
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput("the body is not valid gzip", code=MALFORMED) from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"the decompressed body exceeds {limit} bytes")
    if not inflater.eof:
        raise InvalidInput("the gzip body is truncated", code=MALFORMED)
    return data


def parse_request(body: bytes, media: str) -> ExportTraceServiceRequest:
    """The export request a body holds; malformed bodies are refused with ``otlp_malformed``."""
    from google.protobuf import json_format  # type: ignore[import-untyped]
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    try:
        if media == PROTOBUF:
            request.ParseFromString(body)
        else:
            json_format.ParseDict(
                _hex_ids_to_base64(_json(body)), request, ignore_unknown_fields=True
            )
    except (DecodeError, json_format.ParseError, RecursionError) as exc:
        raise InvalidInput(f"malformed OTLP {media} body", code=MALFORMED) from exc
    return request


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidInput("the body is not JSON", code=MALFORMED) from exc
    if not isinstance(payload, dict):
        raise InvalidInput("an OTLP JSON body is an object", code=MALFORMED)
    return payload


def _hex_ids_to_base64(payload: dict[str, Any]) -> dict[str, Any]:
    """OTLP JSON writes ids as hex; protobuf's JSON parser reads bytes as base64."""
    for resource in _items(payload, "resourceSpans", "resource_spans"):
        for scope in _items(resource, "scopeSpans", "scope_spans"):
            for span in _items(scope, "spans"):
                _convert_ids(span)
                for link in _items(span, "links"):
                    _convert_ids(link)
    return payload


def _items(node: Any, *keys: str) -> list[Any]:
    if not isinstance(node, dict):
        return []
    for key in keys:
        value = node.get(key)
        if isinstance(value, list):
            return value
    return []


def _convert_ids(node: Any) -> None:
    if not isinstance(node, dict):
        return
    for key in _ID_FIELDS:
        value = node.get(key)
        if isinstance(value, str) and value:
            try:
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError as exc:
                raise InvalidInput(f"{key} is not a hex id", code=MALFORMED) from exc


def reply(media: str, *, rejected: int = 0, message: str = "") -> bytes:
    """An ``ExportTraceServiceResponse`` in ``media``, with partial success when spans failed."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if media == PROTOBUF:
        return bytes(response.SerializeToString())
    return str(json_format.MessageToJson(response, indent=None)).encode()


def hex_id(raw: bytes) -> str:
    """A trace or span id as OTLP writes it in JSON and W3C trace context: lower-case hex."""
    return binascii.hexlify(raw).decode()
