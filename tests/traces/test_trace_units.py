"""Unit tests of the hard parts: OTLP decoding, span mapping and PII redaction."""

from __future__ import annotations

import gzip
import json

import pytest

from governance.core.errors import InvalidInput, TooLarge
from monitors.traces import otlp, records
from monitors.traces.redact import BUILTINS, Redactor, check_pattern, luhn_valid
from tests.traces.otlp_builders import as_otlp_json, request, span


def test_gzip_is_inflated_up_to_the_cap_only() -> None:
    data = b"x" * 5000
    assert otlp.decompress(gzip.compress(data), "gzip", limit=5000) == data
    with pytest.raises(TooLarge):
        otlp.decompress(gzip.compress(data), "gzip", limit=4999)
    with pytest.raises(InvalidInput) as bad:
        otlp.decompress(b"not gzip", "gzip", limit=5000)
    assert bad.value.code == "otlp_malformed"
    with pytest.raises(InvalidInput) as cut:
        otlp.decompress(gzip.compress(data)[:-12], "gzip", limit=5000)
    assert cut.value.code == "otlp_malformed"
    with pytest.raises(InvalidInput) as coding:
        otlp.decompress(data, "br", limit=5000)
    assert coding.value.code == "otlp_encoding"


def test_json_and_protobuf_decode_to_the_same_request() -> None:
    req = request([span(3), span(4, error=True)], {"service.name": "svc"})
    from_json = otlp.parse_request(as_otlp_json(req), otlp.JSON)
    assert from_json == otlp.parse_request(req.SerializeToString(), otlp.PROTOBUF) == req


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    with pytest.raises(InvalidInput) as exc:
        otlp.parse_request(b"[" * 100_000, otlp.JSON)
    assert exc.value.code == "otlp_malformed"


def test_reply_reports_partial_success_in_either_encoding() -> None:
    assert otlp.reply(otlp.PROTOBUF) == b""
    body = json.loads(otlp.reply(otlp.JSON, rejected=2, message="why"))
    assert body == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "why"}}


def test_row_from_indexed_attributes_and_exception_event() -> None:
    attrs = {
        "gen_ai.system": "anthropic",
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "Be kind",
        "gen_ai.prompt.1.content": "Hi",
        "gen_ai.completion.0.content": "Hello",
        "gen_ai.usage.completion_tokens": "4",
    }
    sp = span(9, attrs=attrs, events=[("exception", {"exception.type": "ValueError"})], error=True)
    row = records.row_of(sp)
    assert row.features["prompt"] == "system: Be kind\nuser: Hi"
    assert row.completion == "Hello" and row.features["output_tokens"] == 4
    assert row.features["error_type"] == "ValueError" and row.features["input_tokens"] is None
    assert row.timestamp.microsecond == 250_000


def test_span_without_end_time_is_refused() -> None:
    sp = span(1)
    sp.end_time_unix_nano = 0
    with pytest.raises(records.SpanRefused):
        records.row_of(sp)


def test_destination_headers_win_and_service_name_is_the_fallback() -> None:
    resource = {"service.name": "svc", "steward.project": "p"}
    assert records.destination(resource, project=None, endpoint=None) == ("p", "svc")
    assert records.destination(resource, project="q", endpoint="e") == ("q", "e")
    assert records.destination({}, project=None, endpoint=None) == (None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to a.b+c@mail.example.com.", "write to [REDACTED:email]."),
        ("card 5555-5555-5555-4444 then", "card [REDACTED:credit_card] then"),
        ("not a card 1234 5678 9012 3456", "not a card 1234 5678 9012 3456"),
        ("from 192.168.10.254:8080", "from [REDACTED:ipv4]:8080"),
        ("version 1.2.3.4.5 and 999.1.1.1", "version 1.2.3.4.5 and 999.1.1.1"),
        ("ssn 078-05-1120 ok", "ssn [REDACTED:us_ssn] ok"),
        ("ring (212) 555-0199 or +44 207 946 0958", "ring [REDACTED:phone] or [REDACTED:phone]"),
        ("nothing here, 2026-12-07", "nothing here, 2026-12-07"),
    ],
)
def test_builtin_rules(text: str, expected: str) -> None:
    assert Redactor.build(BUILTINS, []).redact(text)[0] == expected


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_disabled_builtins_keep_their_text() -> None:
    redactor = Redactor.build(["ipv4"], [("ticket", r"TCK-\d{4}")])
    assert redactor.redact("x@y.io 10.0.0.1 TCK-1234") == (
        "x@y.io [REDACTED:ipv4] [REDACTED:ticket]", 2,
    )  # fmt: skip


@pytest.mark.parametrize(
    "pattern", ["(a+)+b", "(a*)*", "(?:\\w+\\s?)+$", "(a|aa)+", "(\\d)\\1", "(?=(a+)+)b", "x*"]
)
def test_patterns_that_backtrack_or_match_nothing_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_pattern("custom", pattern)
    assert exc.value.code == "invalid_redaction_rule"


@pytest.mark.parametrize(
    "pattern", [r"[a-z]{1,30}@corp\.example", r"(?:[a-z]{1,8}\.){1,4}internal", r"ID-\d+"]
)
def test_patterns_with_bounded_nesting_are_accepted(pattern: str) -> None:
    assert check_pattern("custom", pattern).pattern == pattern
    with pytest.raises(InvalidInput):
        check_pattern("email", pattern)  # a built-in's name
