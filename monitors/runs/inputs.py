"""What every signal computer reads: the reference, the window and the columns' roles.

Its own module so that each signal's computer (signals, estimation, multivariate, attribution)
can import it without importing the registry of computers, which imports them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from monitors.runs.schemas import SignalOutcome
from monitors.runs.sources import CaseJudge, ModelLookup
from monitors.specs.schemas import Signal
from monitors.specs.windows import WindowPlan
from monitors.stats.columns import DEFAULT_ROLES, ColumnRoles
from monitors.stats.reference import ReferenceProfile


@dataclass(frozen=True, kw_only=True, slots=True)
class SignalInput:
    """What a signal sees: the reference profile and table, the current window, columns' roles."""

    profile: ReferenceProfile
    reference: pa.Table
    current: pa.Table
    roles: ColumnRoles = DEFAULT_ROLES
    # the endpoint's model, when the run can look it up (attribution drift explains it)
    model: ModelLookup | None = None
    # LLM signals: the project, the window's spans (samples are seeded by them), the judge
    project: str = ""
    plan: WindowPlan | None = None
    judge: CaseJudge | None = None


Computer = Callable[[Signal, SignalInput], SignalOutcome]


def feature_columns(data: SignalInput, signal: Signal) -> tuple[str, ...]:
    """The signal's features, else the signature's inputs, else the columns with no other role."""
    # predictions, labels, ids, timestamps and scores are never features, even when listed
    if signal.features:
        return tuple(c for c in signal.features if not data.roles.is_bookkeeping(c))
    return data.roles.features_among(data.profile.columns)
