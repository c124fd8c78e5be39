"""The real judge of LLM answers: ``monitors.evaluators`` through the project's connections."""

from __future__ import annotations

from collections.abc import Sequence

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import InvalidInput
from governance.core.settings import Settings
from monitors.evaluators.schemas import EvalCase, EvaluatorName, Score

INPUT_MISSING = "evaluator_input_missing"


def _scorable(name: EvaluatorName, case: EvalCase) -> bool:
    """Whether ``case`` has what ``name`` reads (a judge's fields, a metric's ground truth)."""
    from monitors.evaluators import judge

    if not name.judged:
        return bool((case.ground_truth or "").strip())
    try:
        judge.judge_inputs(name, case)
    except InvalidInput:
        return False
    return True


class EvaluatorJudge:
    """Scores cases with the evaluators service (its budget, cache, timeouts and SSRF guard).

    A case lacking what an evaluator reads (no ground truth, no context) is not sent: its score
    is None with ``evaluator_input_missing``, so one such answer never fails the whole sample.
    """

    def __init__(self, db: Database, settings: Settings, *, clock: Clock | None = None) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def score(
        self, *, project: str, evaluators: Sequence[EvaluatorName], cases: Sequence[EvalCase],
        connection: str | None,
    ) -> list[list[Score]]:  # fmt: skip
        """One list of scores per case, in ``evaluators`` order."""
        found: list[list[Score]] = [
            [Score(evaluator=name, value=None, error=INPUT_MISSING) for name in evaluators]
            for _ in cases
        ]
        for index, name in enumerate(evaluators):
            rows = [i for i, case in enumerate(cases) if _scorable(name, case)]
            scored = (
                self._score(project, name, [cases[i] for i in rows], connection) if rows else []
            )
            for row, scores in zip(rows, scored, strict=True):
                found[row][index] = scores[0]
        return found

    def _score(
        self, project: str, name: EvaluatorName, cases: list[EvalCase], connection: str | None
    ) -> list[list[Score]]:
        from monitors.evaluators.service import score_cases

        return score_cases(
            self.db, settings=self.settings, project=project, evaluators=[name], cases=cases,
            connection=connection, clock=self.clock,
        )  # fmt: skip
