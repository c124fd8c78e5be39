"""What issue 16 must show: a prompt change that makes answers worse raises the daily quality
monitor's alert on its first window, not before, through the daemon, the real judge path (the
evaluators service and a local OpenAI-compatible judge) and the capture store; the endpoint's
report shows the change from version 1 to 2 and the scores of every day."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from governance.core.clock import ManualClock
from monitors.capture.service import capture_files, ingest_inferences
from monitors.runs.adapters import default_environment
from monitors.scheduler.daemon import Daemon, DaemonOptions
from monitors.specs.service import get_monitor
from monitors.traces.service import lineage_schemas
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.llm.fakellm import FakeLLM, fake_llm, judge_by_rules
from tests.llm_monitors.traffic import DAY, Day, body, records, score_answer

BASE = "/api/v1/projects/alpha"
START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = [Day(requests=40)] * 5 + [Day(requests=40, version="2")] * 3  # v2 from day 5
FIRST_V2_WINDOW = START + 6 * DAY  # the daily window ending here holds day 5


def _setup(client: TestClient, services: Services, world: World, llm: FakeLLM) -> None:
    owner = world.headers("owner")
    r = client.post(f"{BASE}/endpoints", json={"name": "chat", "kind": "llm"}, headers=owner)
    assert r.status_code == 201, r.text
    r = client.put(
        f"{BASE}/connections/judge", headers=owner,
        json={"base_url": llm.url, "model": "judge-1", "api_key": llm.key, "max_retries": 0},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    ingest_inferences(
        services.db, files=capture_files(services.settings), schemas=lineage_schemas(),
        project="alpha", endpoint="chat", body=body(records(START, DAYS)),
        content_type="application/json", actor=OPERATOR,
    )  # fmt: skip
    spec: dict[str, Any] = {
        "name": "chat-quality",
        "target": {"name": "chat"},
        "reference": {"kind": "production_window", "lookback": "P3D", "offset": "P1D"},
        "schedule": {"interval": "P1D", "start": START.isoformat()},
        "signals": [
            {"kind": "llm_quality",
             "options": {"evaluators": ["relevance"], "connection": "judge", "sample_size": 20}},
            {"kind": "llm_usage",
             "options": {"prices": {"gpt-small": {"input_per_1k": 0.5, "output_per_1k": 1.5}}}},
            {"kind": "llm_latency"},
            {"kind": "llm_errors"},
        ],
    }  # fmt: skip
    r = client.post(f"{BASE}/monitors", json=spec, headers=world.headers("ml-engineer"))
    assert r.status_code == 201, r.text


def _alerts(client: TestClient, world: World) -> list[dict[str, Any]]:
    r = client.get(f"{BASE}/alerts", headers=world.headers("viewer"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()
    return items


def test_prompt_change_alerts_on_its_first_window_and_the_report_shows_it(
    client: TestClient, services: Services, world: World
) -> None:
    with fake_llm(judge_by_rules(score_answer)) as llm:
        _setup(client, services, world, llm)
        clock = ManualClock(START)
        env = default_environment(services.db, services.settings, clock=clock)
        daemon = Daemon(services.db, env=env, clock=clock, options=DaemonOptions(tick=60))
        daemon.leading = True
        monitor = get_monitor(services.db, project="alpha", name="chat-quality")
        for day in range(1, len(DAYS) + 1):
            clock.set(START + day * DAY)
            assert daemon.run_due(monitor) == (2 if day == 1 else 1)  # day 1: also START
            alerts = _alerts(client, world)
            if START + day * DAY < FIRST_V2_WINDOW:
                assert alerts == [], f"a false alarm on day {day}"
            if START + day * DAY == FIRST_V2_WINDOW:
                (alert,) = alerts
                assert alert["signal"] == "llm_quality" and alert["monitor"] == "chat-quality"
                assert alert["window_end"].startswith(FIRST_V2_WINDOW.date().isoformat())
        judged = len(llm.requests)
    assert 0 < judged <= 20 * 2 * (len(DAYS) - 1)  # sample and baseline, cached answers reused
    _report_shows_the_change(client, world)


def _report_shows_the_change(client: TestClient, world: World) -> None:
    period = {"period_start": START.isoformat(), "period_end": (START + 9 * DAY).isoformat()}
    r = client.get(f"{BASE}/endpoints/chat/report", headers=world.headers("auditor"),
                   params={"format": "json", **period})  # fmt: skip
    assert r.status_code == 200, r.text
    report = r.json()
    assert [c["before"] + ">" + c["after"] for c in report["prompt_changes"]] == [
        "support@1>support@2"
    ]
    assert report["prompt_changes"][0]["window_end"].startswith("2026-03-08")
    windows = report["windows"]
    assert len(windows) == len(DAYS)
    judged = [w for w in windows if w["scores"]]
    assert len(judged) == len(DAYS) - 1  # the first window had no baseline yet (no data)
    for w in judged:
        version = next(iter(w["prompt_versions"]))
        score = w["scores"]["relevance"]
        assert (score >= 3) if version == "support@1" else (score <= 2), (version, score)
        assert w["sample_size"] == 20 and w["input_tokens"] > 0 and w["cost"] > 0
        assert w["latency_p95_ms"] > 0 and w["error_rate"] is not None
    flagged = [w["window_end"][:10] for w in windows if w["alerts"]]
    assert flagged[0] == "2026-03-08"
    html = client.get(f"{BASE}/endpoints/chat/report", headers=world.headers("viewer"),
                      params=period)  # fmt: skip
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    page = html.text
    assert "support@1 → support@2" in page and 'class="prompt-change"' in page
    assert page.count("<tr>") == len(DAYS) + 1 and "<svg" in page
