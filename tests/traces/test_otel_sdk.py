"""The OpenTelemetry Python SDK and its OTLP/HTTP exporter, unchanged, against a real server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Status, StatusCode

from tests.builders import World


class _Recorded(SpanExporter):
    """Wraps the OTLP exporter to keep its results (the SDK's processors drop them)."""

    def __init__(self, inner: OTLPSpanExporter) -> None:
        self.inner = inner
        self.results: list[SpanExportResult] = []

    def export(self, spans: Any) -> SpanExportResult:
        result = self.inner.export(spans)
        self.results.append(result)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()


@pytest.fixture
def llm_endpoint(client: TestClient, world: World) -> str:
    r = client.post(
        "/api/v1/projects/alpha/endpoints",
        json={"name": "chatbot", "kind": "llm"}, headers=world.headers("owner"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return "chatbot"


def _provider(
    server: str, token: str, processor: str, **exporter: Any
) -> tuple[TracerProvider, _Recorded]:
    resource = Resource.create({"service.name": "chatbot", "steward.project": "alpha"})
    provider = TracerProvider(resource=resource)
    otlp = OTLPSpanExporter(
        endpoint=f"{server}/v1/traces", headers={"Authorization": f"Bearer {token}"}, **exporter
    )
    recorded = _Recorded(otlp)
    proc = SimpleSpanProcessor(recorded) if processor == "simple" else BatchSpanProcessor(recorded)
    provider.add_span_processor(proc)
    return provider, recorded


def _chat(provider: TracerProvider, question: str, answer: str, *, fail: bool = False) -> None:
    tracer = provider.get_tracer("my-llm-app")
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.system", "openai")
        span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        span.set_attribute("gen_ai.usage.input_tokens", 21)
        span.set_attribute("gen_ai.usage.output_tokens", 5)
        span.set_attribute("gen_ai.response.finish_reasons", ["stop"])
        span.set_attribute("steward.prompt.name", "support")
        span.add_event("gen_ai.system.message", {"content": "Be brief."})
        span.add_event("gen_ai.user.message", {"content": question})
        span.add_event("gen_ai.choice", {"index": 0, "message": json.dumps({"content": answer})})
        if fail:
            span.set_attribute("error.type", "RateLimitError")
            span.set_status(Status(StatusCode.ERROR, "429"))
    with tracer.start_as_current_span("http GET"):  # an ordinary span: exported, ignored
        pass


def _rows(server: str, token: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{server}/api/v1/projects/alpha/endpoints/chatbot/inferences",
        params={"start": datetime(2020, 1, 1, tzinfo=UTC).isoformat(),
                "end": datetime(2100, 1, 1, tzinfo=UTC).isoformat()},
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


@pytest.mark.parametrize("processor", ["simple", "batch"])
def test_sdk_spans_arrive_as_records(
    server: str, world: World, llm_endpoint: str, processor: str
) -> None:
    provider, recorded = _provider(server, world.tokens["app-developer"], processor)
    _chat(provider, "Where is my order?", "It ships today.")
    _chat(provider, "Refund?", "", fail=True)
    assert provider.force_flush()
    provider.shutdown()
    assert recorded.results and all(r is SpanExportResult.SUCCESS for r in recorded.results)
    rows = _rows(server, world.tokens["auditor"])
    assert len(rows) == 2
    ok, failed = rows
    assert ok["prompt"] == "system: Be brief.\nuser: Where is my order?"
    assert (ok["prediction"], ok["finish_reason"], ok["status"]) == (
        "It ships today.",
        "stop",
        "ok",
    )
    assert (ok["model"], ok["system"], ok["input_tokens"], ok["output_tokens"]) == (
        "gpt-4o-mini", "openai", 21, 5,
    )  # fmt: skip
    assert ok["prompt_name"] == "support" and ok["latency_ms"] >= 0
    assert ok["correlation_id"] == f"{ok['trace_id']}:{ok['span_id']}"
    assert (failed["status"], failed["error_type"]) == ("error", "RateLimitError")


def test_sdk_gzip_export(server: str, world: World, llm_endpoint: str) -> None:
    provider, recorded = _provider(
        server, world.tokens["ml-engineer"], "simple", compression=Compression.Gzip
    )
    _chat(provider, "Mail me at ann@example.org", "Sure")
    provider.shutdown()
    assert recorded.results == [SpanExportResult.SUCCESS] * 2
    (row,) = _rows(server, world.tokens["owner"])
    assert row["prompt"] == "system: Be brief.\nuser: Mail me at [REDACTED:email]"


def test_sdk_export_without_the_right_is_a_failure(
    server: str, world: World, llm_endpoint: str
) -> None:
    provider, recorded = _provider(server, world.tokens["viewer"], "simple")
    _chat(provider, "q", "a")
    provider.shutdown()
    assert SpanExportResult.FAILURE in recorded.results
    assert _rows(server, world.tokens["owner"]) == []
