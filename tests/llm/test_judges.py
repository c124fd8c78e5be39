"""Judge evaluators against a real local OpenAI-compatible server (tests/llm/fakellm.py)."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound
from governance.core.settings import Settings
from monitors.evaluators import judge, service
from monitors.evaluators.schemas import ConnectionSet, EvalCase, EvaluatorName, Score
from tests.builders import OPERATOR
from tests.conftest import make_settings
from tests.llm.fakellm import FakeLLM, Reply, fake_llm, judge_by_rules

J = EvaluatorName
CASE = EvalCase(
    query="What is the capital of France?",
    response="Paris is the capital of France.",
    context="France's capital city is Paris.",
    ground_truth="The capital of France is Paris.",
)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Judges may call the fake server on the loopback."""
    return make_settings(tmp_path / "home", db_url, webhook_allowlist=["127.0.0.1"])


def connect(db: Database, settings: Settings, llm: FakeLLM, **options: Any) -> None:
    """Register the fake server as connection 'judge' of project alpha."""
    data = ConnectionSet(base_url=llm.url, model="judge-1", api_key=llm.key, **options)
    service.put_connection(
        db, settings=settings, project="alpha", name="judge", data=data, actor=OPERATOR
    )


def score(
    db: Database, settings: Settings, names: list[EvaluatorName], cases: list[EvalCase], **kw: Any
) -> list[list[Score]]:
    return service.score_cases(
        db, settings=settings, project="alpha", evaluators=names, cases=cases,
        connection="judge", **kw,
    )  # fmt: skip


def test_every_judge_parses_the_reply_and_sends_its_inputs(
    db: Database, settings: Settings
) -> None:
    """Each judge gets a prompt with its fields and reports the judge's score and reason."""
    with fake_llm(judge_by_rules(lambda text: 5 if "Paris" in text else 1)) as llm:
        connect(db, settings, llm)
        judges = [J.groundedness, J.relevance, J.coherence, J.fluency, J.similarity]
        scores = score(db, settings, judges, [CASE, CASE.model_copy(update={"response": "No."})])
    assert [s.value for s in scores[0]] == [5.0] * 5
    assert [s.value for s in scores[1]] == [1.0] * 5
    assert all(s.reason == "rule" and s.error is None for s in scores[0])
    first = llm.requests[0]
    assert first["model"] == "judge-1" and first["temperature"] == 0
    user = first["messages"][1]["content"]
    assert "<context>\nFrance's capital city is Paris.\n</context>" in user
    fluency = llm.requests[3]["messages"][1]["content"]
    assert "<query>" not in fluency  # fluency reads only the response
    assert "<ground_truth>" in llm.requests[4]["messages"][1]["content"]


@pytest.mark.parametrize(
    ("reply", "value", "error"),
    [
        ('{"score": 4, "reason": "clear"}', 4.0, None),
        ('Sure!\n```json\n{"score": 2, "reason": "vague"}\n```', 2.0, None),
        ("3 - mostly fine", 3.0, None),
        ("The answer is good.", None, judge.MALFORMED),
        ('{"reason": "no score"}', None, judge.MALFORMED),
        ('{"score": "high"}', None, judge.MALFORMED),
        ('{"score": 9, "reason": "?"}', None, judge.OUT_OF_RANGE),
        ('{"score": 3.5}', None, judge.OUT_OF_RANGE),
        ("", None, judge.MALFORMED),
    ],
)
def test_parse_reply(reply: str, value: float | None, error: str | None) -> None:
    """JSON, a fenced block or a leading number count; anything else is an error, not a guess."""
    found = judge.parse_reply(J.fluency, reply)
    assert (found.value, found.error) == (value, error)


def test_malformed_reply_scores_none_and_is_not_cached(db: Database, settings: Settings) -> None:
    """A reply without a score is an error Score; asking again calls the judge again."""
    with fake_llm(lambda request: "I would rather not say.") as llm:
        connect(db, settings, llm)
        first = score(db, settings, [J.fluency], [CASE])
        second = score(db, settings, [J.fluency], [CASE])
    assert first == second == [[Score(evaluator=J.fluency, value=None, error=judge.MALFORMED)]]
    assert len(llm.requests) == 2


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Reply(raw_body=b"<html>gateway</html>"), "judge_bad_response"),
        (Reply(raw_body=b'{"choices": []}'), "judge_bad_response"),
        (Reply(status=400), "judge_rejected"),
    ],
)
def test_bad_bodies_and_client_errors_are_final(
    db: Database, settings: Settings, answer: Reply, error: str
) -> None:
    """An unusable body or a 4xx is not retried and yields its error code."""
    with fake_llm(lambda request: answer) as llm:
        connect(db, settings, llm, max_retries=2)
        found = score(db, settings, [J.fluency], [CASE])
    assert found[0][0].error == error and found[0][0].value is None
    assert len(llm.requests) == 1


def test_a_reply_slower_than_the_timeout_is_an_error(db: Database, settings: Settings) -> None:
    """The call gives up after ``timeout_seconds`` (no retries configured)."""
    with fake_llm(lambda request: Reply(text='{"score": 5}', delay=1.5)) as llm:
        connect(db, settings, llm, timeout_seconds=0.2, max_retries=0)
        found = score(db, settings, [J.fluency], [CASE])
    assert found[0][0].error == "judge_timeout"


def test_server_error_then_success_is_retried(db: Database, settings: Settings) -> None:
    """A 500 and a 429 are retried with backoff; the third answer counts."""
    answers = iter([Reply(status=500), Reply(status=429), Reply(text='{"score": 4}')])
    with fake_llm(lambda request: next(answers)) as llm:
        connect(db, settings, llm, max_retries=2)
        found = score(db, settings, [J.fluency], [CASE])
    assert found[0][0].value == 4.0
    assert len(llm.requests) == 3


def test_retries_are_bounded(db: Database, settings: Settings) -> None:
    """A server that keeps failing is asked 1 + max_retries times, then the case fails."""
    with fake_llm(lambda request: Reply(status=503)) as llm:
        connect(db, settings, llm, max_retries=1)
        found = score(db, settings, [J.fluency], [CASE])
    assert found[0][0].error == "judge_server_error"
    assert len(llm.requests) == 2


def test_budget_is_counted_per_day_and_never_overspent(db: Database, settings: Settings) -> None:
    """Beyond the daily budget no call is made; the next UTC day has a fresh budget."""
    clock = ManualClock(datetime(2026, 12, 7, 23, 0, tzinfo=UTC))
    counter = itertools.count()
    with fake_llm(lambda request: json.dumps({"score": 1 + next(counter) % 5})) as llm:
        connect(db, settings, llm, daily_budget=2)
        cases = [CASE.model_copy(update={"response": f"Answer {i}."}) for i in range(3)]
        today = score(db, settings, [J.fluency], cases, clock=clock)
        assert len(llm.requests) == 2
        clock.advance(timedelta(hours=2))
        tomorrow = score(db, settings, [J.fluency], cases[2:], clock=clock)
    assert [row[0].error for row in today] == [None, None, service.BUDGET_EXHAUSTED]
    assert today[2][0].value is None
    assert tomorrow[0][0].error is None and len(llm.requests) == 3


def test_a_cached_answer_is_never_paid_twice(db: Database, settings: Settings) -> None:
    """The same inputs to the same judge and model are answered from the cache."""
    with fake_llm(judge_by_rules(lambda text: 4)) as llm:
        connect(db, settings, llm, daily_budget=1)
        first = score(db, settings, [J.relevance], [CASE])
        again = score(db, settings, [J.relevance], [CASE, CASE])
        other = score(db, settings, [J.coherence], [CASE])  # another judge: a new question
    assert first[0] == again[0] == again[1]
    assert len(llm.requests) == 1
    assert other[0][0].error == service.BUDGET_EXHAUSTED


def test_concurrent_calls_share_the_budget(db: Database, settings: Settings) -> None:
    """Threads scoring at once never make more calls than the budget allows."""
    with fake_llm(judge_by_rules(lambda text: 3)) as llm:
        connect(db, settings, llm, daily_budget=3)
        results: list[list[list[Score]]] = []

        def run(i: int) -> None:
            case = CASE.model_copy(update={"response": f"Reply number {i}."})
            results.append(score(db, settings, [J.fluency], [case]))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(llm.requests) == 3
    assert sorted(str(r[0][0].error) for r in results) == ["None"] * 3 + ["budget_exhausted"] * 3


def test_a_wrong_key_is_an_auth_error_without_retries(db: Database, settings: Settings) -> None:
    """401 from the server is final and reported as judge_auth_failed."""
    with fake_llm(judge_by_rules(lambda text: 5)) as llm:
        data = ConnectionSet(base_url=llm.url, model="m", api_key="sk-wrong", max_retries=3)
        service.put_connection(
            db, settings=settings, project="alpha", name="judge", data=data, actor=OPERATOR
        )
        found = score(db, settings, [J.fluency], [CASE])
    assert found[0][0].error == "judge_auth_failed"
    assert len(llm.requests) == 1


def test_an_env_key_is_read_at_call_time(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``env:VAR`` reads the server's environment when scoring; unset, scoring is refused."""
    with fake_llm(judge_by_rules(lambda text: 5)) as llm:
        data = ConnectionSet(base_url=llm.url, model="m", api_key="env:STEWARD_TEST_JUDGE_KEY")
        service.put_connection(
            db, settings=settings, project="alpha", name="judge", data=data, actor=OPERATOR
        )
        monkeypatch.delenv("STEWARD_TEST_JUDGE_KEY", raising=False)
        with pytest.raises(Exception) as missing:
            score(db, settings, [J.fluency], [CASE])
        assert getattr(missing.value, "code", None) == "connection_key_missing"
        monkeypatch.setenv("STEWARD_TEST_JUDGE_KEY", llm.key)
        assert score(db, settings, [J.fluency], [CASE])[0][0].value == 5.0


def test_judges_need_a_connection_and_their_inputs(db: Database, settings: Settings) -> None:
    """No connection, an unknown one, or a missing field is refused before any call."""
    kw: dict[str, Any] = {"settings": settings, "project": "alpha", "cases": [CASE]}
    with pytest.raises(InvalidInput) as none:
        service.score_cases(db, evaluators=[J.fluency], connection=None, **kw)
    assert none.value.code == "connection_required"
    with pytest.raises(NotFound):
        service.score_cases(db, evaluators=[J.fluency], connection="absent", **kw)
    with pytest.raises(InvalidInput) as missing:
        service.score_cases(
            db, settings=settings, project="alpha", evaluators=[J.groundedness],
            cases=[EvalCase(response="x")], connection="absent",
        )  # fmt: skip
    assert missing.value.code == "evaluator_input_missing"


def test_deterministic_metrics_need_ground_truth(db: Database, settings: Settings) -> None:
    """Text metrics score locally and refuse a case without ground truth."""
    names = [J.f1_score, J.bleu, J.gleu, J.rouge_1, J.rouge_2, J.rouge_l]
    found = service.score_cases(
        db, settings=settings, project="alpha", evaluators=names, cases=[CASE], connection=None
    )
    assert [s.evaluator for s in found[0]] == names
    assert all(s.value is not None and 0 < s.value <= 1 for s in found[0])
    with pytest.raises(InvalidInput) as refused:
        service.score_cases(
            db, settings=settings, project="alpha", evaluators=[J.bleu],
            cases=[EvalCase(response="x")], connection=None,
        )  # fmt: skip
    assert refused.value.code == "evaluator_input_missing"


def test_a_name_resolving_to_an_internal_address_is_not_called() -> None:
    """At call time the host is resolved once; an internal answer is refused, never connected."""
    from governance.core.urlguard import MapResolver
    from monitors.evaluators.connections import ChatTarget, JudgeCallError, OpenAIChat

    target = ChatTarget(
        base_url="https://judge.example/v1", model="m", api_key="k", timeout_seconds=1,
        max_retries=3,
    )  # fmt: skip
    chat = OpenAIChat(target, resolver=MapResolver({"judge.example": ["10.1.2.3"]}))
    with pytest.raises(JudgeCallError) as refused:
        chat.complete([{"role": "user", "content": "hi"}])
    assert refused.value.code == "url_refused"
