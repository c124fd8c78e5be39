"""Score LLM answers: deterministic text metrics locally, judges through a project connection.

Judge verdicts are cached by SHA-256 of (project, evaluator, prompt version, model, inputs), so
the same question is never paid twice; each connection has a daily budget of judge calls, and a
call beyond it is not made (the score carries ``budget_exhausted``). No transaction is held open
while a judge answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import InvalidInput, NotFound, Unavailable
from governance.core.principal import Principal
from governance.core.secrets import SecretBox
from governance.core.settings import Settings
from governance.core.urlguard import Allowlist, check_static
from monitors.evaluators import judge, text
from monitors.evaluators.connections import ChatTarget, JudgeCallError, OpenAIChat
from monitors.evaluators.schemas import (
    CONNECTION_NAME,
    ENV_KEY,
    Connection,
    ConnectionSet,
    EvalCase,
    EvaluatorName,
    KeySource,
    Score,
)
from monitors.evaluators.store import SqlEvaluatorStore, StoredConnection

_WALL = SystemClock()
BUDGET_EXHAUSTED = "budget_exhausted"
_ROUGE = {
    EvaluatorName.rouge_1: "rouge1",
    EvaluatorName.rouge_2: "rouge2",
    EvaluatorName.rouge_l: "rougeL",
}
_METRICS: dict[EvaluatorName, Callable[[str, str], float]] = {
    EvaluatorName.f1_score: text.f1_score,
    EvaluatorName.bleu: text.bleu,
    EvaluatorName.gleu: text.gleu,
    EvaluatorName.meteor: text.meteor,
}


def _key_context(project: str, name: str) -> str:
    """What a connection's sealed key is bound to (copied to another row, it does not open)."""
    return f"monitors_llm_connections.key:{project}:{name}"


def _check_name(name: str) -> None:
    if not re.fullmatch(CONNECTION_NAME, name):
        raise InvalidInput("connection names are 1-64 of a-z 0-9 _ . - ", code="invalid_name")


def _key_fields(
    settings: Settings, project: str, name: str, data: ConnectionSet
) -> tuple[str | None, str | None]:
    """The key as stored: (environment variable name, sealed key); at most one is set."""
    if data.api_key is None:
        return None, None
    plain = data.api_key.get_secret_value()
    env = ENV_KEY.match(plain)
    if env:
        return env.group(1), None
    box = SecretBox.from_settings(settings)
    if not box.has_key():
        box.create_key()
    return None, box.seal(plain, context=_key_context(project, name))


def put_connection(
    db: Database, *, settings: Settings, project: str, name: str, data: ConnectionSet,
    actor: Principal, clock: Clock = _WALL,
) -> Connection:  # fmt: skip
    """Create or replace a judge connection; its key is sealed (or named) and never shown."""
    _check_name(name)
    check_static(data.base_url, allow=Allowlist(settings.webhook_allowlist))
    key_env, sealed = _key_fields(settings, project, name, data)
    with db.transaction() as session:
        found = SqlEvaluatorStore(session).put_connection(
            project, name, data, key_env=key_env, sealed_key=sealed, by=actor.ref, at=clock.now()
        )
        record_audit(
            session, actor=actor, action="llm_connection.set", project=project,
            target=f"llm-connection:{project}/{name}",
            details={
                "base_url": found.base_url, "model": found.model,
                "key_source": str(found.key_source), "daily_budget": found.daily_budget,
            },
        )  # fmt: skip
    return found


def get_connection(db: Database, *, project: str, name: str) -> Connection:
    """The named connection (never its key); NotFound if absent."""
    with db.transaction() as session:
        found = SqlEvaluatorStore(session).connection(project, name)
    if found is None:
        raise NotFound(f"no connection {name!r}")
    return found.connection


def list_connections(db: Database, *, project: str) -> list[Connection]:
    """Every connection of the project."""
    with db.transaction() as session:
        return SqlEvaluatorStore(session).connections(project)


def delete_connection(db: Database, *, project: str, name: str, actor: Principal) -> None:
    """Remove a connection (its cached answers stay: they are keyed by model, not connection)."""
    with db.transaction() as session:
        if not SqlEvaluatorStore(session).delete_connection(project, name):
            raise NotFound(f"no connection {name!r}")
        record_audit(
            session, actor=actor, action="llm_connection.delete", project=project,
            target=f"llm-connection:{project}/{name}",
        )  # fmt: skip


def _api_key(settings: Settings, stored: StoredConnection) -> str | None:
    conn = stored.connection
    if conn.key_source is KeySource.env:
        assert conn.key_env is not None
        value = os.environ.get(conn.key_env)
        if not value:
            raise Unavailable(
                f"the server environment has no {conn.key_env} for connection {conn.name!r}",
                code="connection_key_missing",
            )
        return value
    if stored.sealed_key is None:
        return None
    box = SecretBox.from_settings(settings)
    return box.open(stored.sealed_key, context=_key_context(conn.project, conn.name))


def chat_target(db: Database, *, settings: Settings, project: str, name: str) -> ChatTarget:
    """Connection ``name`` as a chat target with its key resolved (never leaves the server)."""
    with db.read() as session:
        stored = SqlEvaluatorStore(session).connection(project, name)
    if stored is None:
        raise NotFound(f"no connection {name!r}")
    return _target(settings, stored)


def _target(settings: Settings, stored: StoredConnection) -> ChatTarget:
    conn = stored.connection
    return ChatTarget(
        base_url=conn.base_url, model=conn.model, api_key=_api_key(settings, stored),
        timeout_seconds=conn.timeout_seconds, max_retries=conn.max_retries,
    )  # fmt: skip


class _Judges:
    """Judge calls of one scoring request: cache first, then budget, then the model."""

    def __init__(
        self, db: Database, settings: Settings, stored: StoredConnection, clock: Clock
    ) -> None:
        self.db, self.clock, self.stored = db, clock, stored
        self.chat = OpenAIChat(_target(settings, stored), allowlist=settings.webhook_allowlist)

    def cache_key(self, name: EvaluatorName, inputs: dict[str, str]) -> str:
        """SHA-256 over what decides the verdict."""
        material = {
            "project": self.stored.connection.project, "evaluator": name.value,
            "prompt": judge.prompt_version(name), "model": self.stored.connection.model,
            "inputs": inputs,
        }  # fmt: skip
        canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def score(self, name: EvaluatorName, case: EvalCase) -> Score:
        """The judge's verdict on ``case``: cached, fresh, or an error Score."""
        inputs = judge.judge_inputs(name, case)
        key = self.cache_key(name, inputs)
        with self.db.transaction() as session:
            store = SqlEvaluatorStore(session)
            cached = store.answer(key)
            if cached is not None:
                return Score(evaluator=name, value=cached.value, reason=cached.reason)
            day = self.clock.now().date().isoformat()
            conn = self.stored.connection
            if not store.reserve_call(self.stored.id, day, conn.daily_budget):
                return Score(evaluator=name, value=None, error=BUDGET_EXHAUSTED)
        return self._ask(name, inputs, key)

    def _ask(self, name: EvaluatorName, inputs: dict[str, str], key: str) -> Score:
        try:
            reply = self.chat.complete(judge.messages(name, inputs))
        except JudgeCallError as exc:
            return Score(evaluator=name, value=None, error=exc.code)
        verdict = judge.parse_reply(name, reply)
        if verdict.value is not None:
            with self.db.transaction() as session:
                SqlEvaluatorStore(session).keep_answer(
                    key, project=self.stored.connection.project, evaluator=name.value,
                    value=verdict.value, reason=verdict.reason, at=self.clock.now(),
                )  # fmt: skip
        return verdict


def _metric(name: EvaluatorName, case: EvalCase) -> Score:
    assert case.ground_truth is not None
    if name in _ROUGE:
        found = text.rouge(_ROUGE[name], case.response, case.ground_truth)
        return Score(evaluator=name, value=found.fmeasure)
    return Score(evaluator=name, value=_METRICS[name](case.response, case.ground_truth))


def _check_inputs(evaluators: Sequence[EvaluatorName], cases: Sequence[EvalCase]) -> None:
    """Refuse up front what cannot be scored: missing ground truth or judge inputs."""
    for index, case in enumerate(cases):
        for name in evaluators:
            try:
                if name.judged:
                    judge.judge_inputs(name, case)
                elif case.ground_truth is None:
                    raise InvalidInput(
                        f"{name.value} needs ground_truth", code="evaluator_input_missing"
                    )
            except InvalidInput as exc:
                raise InvalidInput(f"case {index}: {exc.detail}", code=exc.code) from None


def _judges(
    db: Database, settings: Settings, project: str, connection: str | None, clock: Clock
) -> _Judges:
    if connection is None:
        raise InvalidInput("judge evaluators need a connection", code="connection_required")
    with db.transaction() as session:
        stored = SqlEvaluatorStore(session).connection(project, connection)
    if stored is None:
        raise NotFound(f"no connection {connection!r}")
    return _Judges(db, settings, stored, clock)


def prepare_text(settings: Settings, evaluators: Sequence[EvaluatorName]) -> None:
    """Make the NLTK data ready; refuse METEOR when no WordNet is installed."""
    data = text.prepare(Path(settings.home) / "cache", wordnet_dirs=settings.wordnet_dirs)
    if EvaluatorName.meteor in evaluators:
        text.require_meteor(data)


def score_cases(
    db: Database,
    *,
    settings: Settings,
    project: str,
    evaluators: Sequence[EvaluatorName],
    cases: Sequence[EvalCase],
    connection: str | None,
    clock: Clock | None = None,
) -> list[list[Score]]:
    """Score every case with every evaluator: one list per case, in ``evaluators`` order.

    Raises InvalidInput (missing inputs, no connection for judges), NotFound (unknown
    connection) or Unavailable (``evaluator_unavailable``, ``connection_key_missing``) before
    anything is scored; a judge that fails on one case yields a Score with ``error`` instead.
    """
    _check_inputs(evaluators, cases)
    if any(not name.judged for name in evaluators):
        prepare_text(settings, evaluators)
    judges = None
    if any(name.judged for name in evaluators):
        judges = _judges(db, settings, project, connection, clock or _WALL)
    return [
        [judges.score(name, case) if judges and name.judged else _metric(name, case)
         for name in evaluators]
        for case in cases
    ]  # fmt: skip
