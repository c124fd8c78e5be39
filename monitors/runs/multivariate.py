"""Multivariate drift: PCA reconstruction error or a domain classifier, reference-chunk bands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitors.runs.schemas import Metric, SignalOutcome
from monitors.specs.schemas import Signal

if TYPE_CHECKING:
    from monitors.runs.signals import SignalInput


def multivariate_drift(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Placeholder while the signal is built."""
    return SignalOutcome(
        key=signal.key,
        kind=str(signal.kind),
        breached=False,
        metrics=(Metric(metric="unavailable", value=None),),
        summary={"reason": "not built yet"},
    )
