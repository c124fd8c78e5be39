"""Trace ingest through the REST API: OTLP protobuf and JSON bodies become LLM records."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from governance.core.settings import Settings
from monitors.capture.service import read_window
from tests.builders import World
from tests.traces.otlp_builders import as_otlp_json, request, span

PROTO = {"Content-Type": "application/x-protobuf"}
JSONCT = {"Content-Type": "application/json"}
WHERE = {"steward.project": "alpha", "steward.endpoint": "chatbot"}
START, END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)


def _llm_endpoint(client: TestClient, world: World, name: str = "chatbot", **extra: Any) -> None:
    body = {"name": name, "kind": "llm", **extra}
    r = client.post("/api/v1/projects/alpha/endpoints", json=body, headers=world.headers("owner"))
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "llm" and r.json()["model_version"] is None


def _post(
    client: TestClient, world: World, body: bytes, role: str = "app-developer", **h: str
) -> Any:
    return client.post("/v1/traces", content=body, headers={**PROTO, **world.headers(role), **h})


def _rows(settings: Settings, endpoint: str = "chatbot") -> list[dict[str, Any]]:
    table = read_window(settings, project="alpha", endpoint=endpoint, start=START, end=END)
    return table.to_pylist()


def test_protobuf_export_becomes_records(
    client: TestClient, world: World, settings: Settings
) -> None:
    _llm_endpoint(client, world)
    spans = [
        span(1, events=[("gen_ai.user.message", {"content": "What is 2+2?"}),
                        ("gen_ai.choice", {"finish_reason": "stop",
                                           "message": json.dumps({"content": "4"})})]),
        span(2, attrs={"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                       "gen_ai.response.model": "gpt-4o-2024", "gen_ai.usage.prompt_tokens": 3,
                       "gen_ai.prompt": "hi", "gen_ai.completion": "hello",
                       "error.type": "timeout", "steward.prompt.name": "greet",
                       "steward.prompt.version": "2", "steward.context": "docs"}, error=True),
        span(3, attrs={"http.method": "GET"}),  # no GenAI span: not a record
    ]  # fmt: skip
    r = _post(client, world, request(spans, WHERE).SerializeToString())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-protobuf"
    reply = ExportTraceServiceResponse.FromString(r.content)
    assert reply.partial_success.rejected_spans == 0
    rows = _rows(settings)
    assert [row["correlation_id"] for row in rows] == [f"{1:032x}:{1:016x}", f"{2:032x}:{2:016x}"]
    first, second = rows
    assert (first["prompt"], first["prediction"], first["finish_reason"]) == (
        "What is 2+2?",
        "4",
        "stop",
    )
    assert (first["input_tokens"], first["output_tokens"], first["status"]) == (12, 7, "ok")
    assert first["latency_ms"] == pytest.approx(250.0) and first["model"] == "gpt-4o"
    assert (second["status"], second["error_type"], second["system"]) == (
        "error",
        "timeout",
        "openai",
    )
    assert (second["prompt"], second["prediction"], second["input_tokens"]) == ("hi", "hello", 3)
    assert (second["prompt_name"], second["prompt_version"], second["context"]) == (
        "greet",
        "2",
        "docs",
    )
    assert second["model"] == "gpt-4o-2024"


def test_a_retried_export_is_stored_once(
    client: TestClient, world: World, settings: Settings
) -> None:
    _llm_endpoint(client, world)
    body = request([span(1), span(2)], WHERE).SerializeToString()
    assert _post(client, world, body).headers["X-Steward-Records"] == "2"
    again = _post(client, world, body)
    assert again.status_code == 200 and again.headers["X-Steward-Records"] == "0"
    assert len(_rows(settings)) == 2


def test_json_export_with_hex_ids_and_gzip(
    client: TestClient, world: World, settings: Settings
) -> None:
    _llm_endpoint(client, world)
    body = as_otlp_json(
        request(
            [
                span(
                    7,
                    attrs={
                        "gen_ai.input.messages": json.dumps(
                            [
                                {
                                    "role": "user",
                                    "parts": [{"type": "text", "content": "Tell a joke"}],
                                }
                            ]
                        ),
                        "gen_ai.output.messages": json.dumps(
                            [{"role": "assistant", "parts": [{"type": "text", "content": "No."}]}]
                        ),
                    },
                )
            ],
            WHERE,
        )
    )
    assert b'"traceId": "00000000000000000000000000000007"' in body
    r = client.post(
        "/v1/traces", content=gzip.compress(body),
        headers={**JSONCT, "Content-Encoding": "gzip", **world.headers("app-developer")},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert json.loads(r.content) == {}
    (row,) = _rows(settings)
    assert (row["trace_id"], row["prompt"], row["prediction"]) == (
        f"{7:032x}",
        "Tell a joke",
        "No.",
    )


def test_headers_name_the_destination_and_win(
    client: TestClient, world: World, settings: Settings
) -> None:
    _llm_endpoint(client, world, "assistant")
    body = request([span(1)], {"service.name": "chatbot", "steward.project": "beta"})
    r = _post(client, world, body.SerializeToString(),
              **{"X-Steward-Project": "alpha", "X-Steward-Endpoint": "assistant"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert len(_rows(settings, "assistant")) == 1


def test_spans_without_a_destination_are_reported_rejected(
    client: TestClient, world: World
) -> None:
    body = request([span(1), span(2, attrs={"db.system": "x"})]).SerializeToString()
    r = _post(client, world, body)
    assert r.status_code == 200
    partial = ExportTraceServiceResponse.FromString(r.content).partial_success
    assert partial.rejected_spans == 1 and "steward.project" in partial.error_message


def test_malformed_bodies_are_refused_with_a_code(client: TestClient, world: World) -> None:
    _llm_endpoint(client, world)
    cases = [
        (b"\xff\xff\xff\xff garbage", PROTO),
        (b'{"resourceSpans": [', JSONCT),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', JSONCT),
        (b'{"resourceSpans": 5}', JSONCT),
    ]
    for body, media in cases:
        r = client.post("/v1/traces", content=body, headers={**media, **world.headers("owner")})
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == "otlp_malformed", body
    r = client.post(
        "/v1/traces", content=b"x", headers={"Content-Type": "text/plain", **world.headers("owner")}
    )
    assert (r.status_code, r.json()["code"]) == (422, "otlp_media_type")


def test_oversized_and_gzip_bomb_bodies_are_refused(
    client: TestClient, world: World, settings: Settings
) -> None:
    limit = settings.max_body_bytes
    r = _post(client, world, b"\0" * (limit + 1))
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
    bomb = gzip.compress(b"\0" * (limit * 4))
    assert len(bomb) < limit
    r = _post(client, world, bomb, **{"Content-Encoding": "gzip"})
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")


def test_streamed_oversized_body_is_refused(
    client: TestClient, world: World, settings: Settings
) -> None:
    def chunks() -> Any:  # no Content-Length: the cap holds while the body is read
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"\0" * 65536

    r = client.post("/v1/traces", content=chunks(), headers={**PROTO, **world.headers("owner")})
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")


def test_permissions_and_other_projects(client: TestClient, world: World) -> None:
    _llm_endpoint(client, world)
    body = request([span(1)], WHERE).SerializeToString()
    r = _post(client, world, body, role="viewer")
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")
    r = client.post(
        "/v1/traces",
        content=body,
        headers={**PROTO, "Authorization": f"Bearer {world.outsider_token}"},
    )
    assert r.status_code == 404 and "project 'alpha'" in r.json()["detail"]
    r = client.post("/v1/traces", content=body, headers=PROTO)
    assert r.status_code == 401
    other = request([span(1)], {"steward.project": "alpha", "steward.endpoint": "nope"})
    r = _post(client, world, other.SerializeToString())
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


def test_model_endpoints_take_no_traces_and_llm_endpoints_no_models(
    client: TestClient, world: World
) -> None:
    owner = world.headers("owner")
    r = client.post("/api/v1/projects/alpha/endpoints", json={"name": "tabular"}, headers=owner)
    assert r.json()["kind"] == "model"
    body = request([span(1)], {"steward.project": "alpha", "steward.endpoint": "tabular"})
    r = _post(client, world, body.SerializeToString())
    assert (r.status_code, r.json()["code"]) == (422, "not_llm_endpoint")
    _llm_endpoint(client, world)
    r = client.post(
        "/api/v1/projects/alpha/endpoints/chatbot/deployments",
        json={"model": "m", "version": 1},
        headers=owner,
    )
    assert (r.status_code, r.json()["code"]) == (422, "llm_endpoint")
    r = client.post(
        "/api/v1/projects/alpha/endpoints/chatbot/inferences",
        json={"records": [{"correlation_id": "a", "features": {}}]}, headers=owner,
    )  # fmt: skip
    assert r.status_code == 422  # rows must follow LLM_SCHEMA
    r = client.post(
        "/api/v1/projects/alpha/endpoints/chatbot/score",
        json={"records": [{"features": {"x": 1}}]}, headers=owner,
    )  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (422, "llm_endpoint")


def test_redaction_happens_before_the_parquet_is_written(
    client: TestClient, world: World, settings: Settings
) -> None:
    _llm_endpoint(client, world)
    attrs = {
        "gen_ai.operation.name": "chat",
        "steward.context": "call 555-123-4567",
        "gen_ai.prompt": "I am jane.doe@example.com, card 4111 1111 1111 1111, order 1234567890123",
        "gen_ai.completion": "Noted ACCT-998877 for jane.doe@example.com",
    }
    owner = world.headers("owner")
    custom = {"custom": [{"name": "account", "pattern": r"ACCT-\d{6}"}]}
    r = client.put("/api/v1/projects/alpha/traces/redaction", json=custom, headers=owner)
    assert r.status_code == 200 and r.json()["builtins"][0] == "email"
    r = _post(client, world, request([span(1, attrs=attrs)], WHERE).SerializeToString())
    assert r.status_code == 200 and r.headers["X-Steward-Redactions"] == "5"
    files = sorted(Path(settings.home).rglob("*.parquet"))
    assert files
    stored = [pq.read_table(f).to_pylist() for f in files]
    text = json.dumps(stored, default=str)
    assert "jane.doe@example.com" not in text and "4111 1111 1111 1111" not in text
    assert "ACCT-998877" not in text and "555-123-4567" not in text
    (row,) = _rows(settings)
    assert row["prompt"] == (
        "I am [REDACTED:email], card [REDACTED:credit_card], order 1234567890123"
    )
    assert row["prediction"] == "Noted [REDACTED:account] for [REDACTED:email]"


def test_redaction_setting_refuses_unsafe_patterns(client: TestClient, world: World) -> None:
    owner = world.headers("owner")
    url = "/api/v1/projects/alpha/traces/redaction"
    for pattern in ["(a+)+$", "(x|xy)*z", "(", "a" * 201]:
        r = client.put(url, json={"custom": [{"name": "bad", "pattern": pattern}]}, headers=owner)
        assert r.status_code == 422, pattern
    r = client.put(url, json={"builtins": ["email"]}, headers=world.headers("ml-engineer"))
    assert r.status_code == 403
    r = client.put(url, json={"builtins": ["email"]}, headers=owner)
    assert r.json()["builtins"] == ["email"] and r.json()["updated_by"] == "user:owner-user"
    assert client.get(url, headers=world.headers("viewer")).json()["builtins"] == ["email"]
