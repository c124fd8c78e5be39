"""A window's inputs and outcome as JSON, for windows computed in another process.

A backfill on the pipeline runner hands each chunk to a process that has no database: the
window's plan and its reference's column roles go there as JSON, its signals' outcomes come
back as JSON, and the server stores them as if it had computed them itself.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from monitors.runs.schemas import Metric, SignalOutcome
from monitors.specs.windows import Span, WindowPlan
from monitors.stats.columns import ColumnRoles


def plan_json(plan: WindowPlan) -> dict[str, Any]:
    """A window plan as JSON (ISO times)."""
    ref = plan.reference
    return {
        "window_end": plan.window_end.isoformat(),
        "production": [plan.production.start.isoformat(), plan.production.end.isoformat()],
        "reference": None if ref is None else [ref.start.isoformat(), ref.end.isoformat()],
    }


def plan_from_json(data: dict[str, Any]) -> WindowPlan:
    """The plan ``plan_json`` wrote."""
    start, end = (datetime.fromisoformat(v) for v in data["production"])
    ref = data["reference"]
    reference = None
    if ref is not None:
        reference = Span(start=datetime.fromisoformat(ref[0]), end=datetime.fromisoformat(ref[1]))
    return WindowPlan(
        window_end=datetime.fromisoformat(data["window_end"]),
        production=Span(start=start, end=end),
        reference=reference,
    )


def roles_json(roles: ColumnRoles) -> dict[str, Any]:
    """Column roles as JSON (sets sorted, so equal roles give equal JSON)."""
    return {
        "features": None if roles.features is None else list(roles.features),
        "predictions": sorted(roles.predictions),
        "labels": list(roles.labels),
        "sensitive": list(roles.sensitive),
    }


def roles_from_json(data: dict[str, Any]) -> ColumnRoles:
    """The roles ``roles_json`` wrote."""
    features = data["features"]
    return ColumnRoles(
        features=None if features is None else tuple(features),
        predictions=frozenset(data["predictions"]),
        labels=tuple(data["labels"]),
        sensitive=tuple(data["sensitive"]),
    )


def outcome_json(outcome: SignalOutcome) -> dict[str, Any]:
    """A signal's outcome as JSON; a NaN or infinite value is tagged, as JSON has none."""
    return {
        "key": outcome.key, "kind": outcome.kind, "breached": outcome.breached,
        "metrics": [
            {"metric": m.metric, "value": _number(m.value), "threshold": _number(m.threshold),
             "breached": m.breached, "feature": m.feature}
            for m in outcome.metrics
        ],
        "summary": outcome.summary, "error": outcome.error,
    }  # fmt: skip


def outcome_from_json(data: dict[str, Any]) -> SignalOutcome:
    """The outcome ``outcome_json`` wrote."""
    return SignalOutcome(
        key=data["key"], kind=data["kind"], breached=data["breached"],
        metrics=tuple(_metric(m) for m in data["metrics"]), summary=data["summary"],
        error=data["error"],
    )  # fmt: skip


def _metric(data: dict[str, Any]) -> Metric:
    return Metric(
        metric=data["metric"], value=_float(data["value"]), threshold=_float(data["threshold"]),
        breached=data["breached"], feature=data["feature"],
    )  # fmt: skip


def _number(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return repr(float(value))  # 'nan', 'inf' or '-inf'


def _float(value: float | str | None) -> float | None:
    return None if value is None else float(value)
