"""The evaluation scenario: a 30-row QA dataset, two prompts, a fake LLM that generates and judges.

Generation answers by the variant's system prompt ("Answer well" gives the ground truth); the
judge scores by rules on the answer text, and the judge model ``judge-slow`` answers some rows
after its connection's timeout.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from monitors.evaluators import service as evaluators
from monitors.evaluators.schemas import ConnectionSet
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.llm.fakellm import FakeLLM, Reply, fake_llm, judged_text

P = "/api/v1/projects/alpha"
PARQUET = "application/vnd.apache.parquet"
ROWS = 30
SLOW = {3, 10, 17, 24}  # rows whose judge answers after the judge connection's timeout


def _question(text: str) -> int:
    found = re.search(r"question (\d+)", text)
    return int(found.group(1)) if found else -1


def handler(request: dict[str, Any]) -> Reply | str:
    messages = request["messages"]
    if request["model"].startswith("judge"):
        answer = judged_text(request)
        n = _question(answer)
        if request["model"] == "judge-slow" and n in SLOW:
            return Reply(text='{"score": 5, "reason": "late"}', delay=1.5)
        good = "correct" in answer
        score = (4 + n % 2) if good else (2 + n % 2 + (n % 5 == 0))
        return f'{{"score": {score}, "reason": "rule"}}'
    if request["model"] == "gen-flaky" and _question(messages[-1]["content"]) % 6 == 0:
        return Reply(status=500)
    system = next(m["content"] for m in messages if m["role"] == "system")
    n = _question(messages[-1]["content"])
    if "Answer well" in system:
        return f"the correct answer to question {n} is {n * 7}"
    return f"maybe question {n} is about {n + 1}"


@contextmanager
def llm_server() -> Iterator[FakeLLM]:
    """The fake OpenAI-compatible server answering by ``handler``."""
    with fake_llm(handler) as server:
        yield server


def connect(services: Services, llm: FakeLLM, name: str, model: str, timeout: float = 10) -> None:
    evaluators.put_connection(
        services.db, settings=services.settings, project="alpha", name=name,
        data=ConnectionSet(base_url=llm.url, model=model, api_key=llm.key,
                           timeout_seconds=timeout, max_retries=0),
        actor=OPERATOR,
    )  # fmt: skip


def scenario(client: Any, services: Services, world: World, llm: FakeLLM) -> World:
    """Dataset 'qa' (30 rows), prompts 'terse' and 'careful', connections gen/judge/slow."""
    table = pa.table({
        "question": [f"What is question {i}?" for i in range(ROWS)],
        "ground_truth": [f"the correct answer to question {i} is {i * 7}" for i in range(ROWS)],
    })  # fmt: skip
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    headers = world.headers("ml-engineer")
    put = client.put(f"{P}/datasets/qa/versions/v1/file", content=buffer.getvalue(),
                     headers=headers | {"Content-Type": PARQUET})  # fmt: skip
    assert put.status_code == 201, put.text
    for name, system in (("terse", "Answer briefly."), ("careful", "Answer well.")):
        created = client.post(f"{P}/prompts", headers=headers, json={
            "name": name, "model": "gen-model",
            "messages": [{"role": "system", "content": system},
                         {"role": "user", "content": "{{ question }}"}],
        })  # fmt: skip
        assert created.status_code == 201, created.text
    connect(services, llm, "gen", "gen-model")
    connect(services, llm, "judge", "judge-model")
    connect(services, llm, "slow", "judge-slow", timeout=0.5)
    connect(services, llm, "flaky", "gen-flaky")
    return world


def request(a: str, b: str, judge: str = "judge") -> dict[str, Any]:
    """A launch request comparing prompt ``a`` (variant A) with ``b`` (variant B)."""
    return {
        "dataset": "qa@v1",
        "variants": [{"name": "A", "prompt": a, "connection": "gen"},
                     {"name": "B", "prompt": b, "connection": "gen"}],
        "evaluators": ["relevance", "f1_score"], "judge_connection": judge,
        "query_column": "question",
    }  # fmt: skip
