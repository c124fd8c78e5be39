"""Attribution drift with the real model on 10,000 rows of Adult, against the surrogate path.

    PYTHONPATH=. OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/attribution_drift.py
        [--rows 10000] [--repeat 3]

Two pipelines learn from the first 4,000 rows of Adult (a one-hot logistic regression, explained
by the permutation explainer, and gradient boosting, explained exactly by TreeExplainer); the
next ``--rows`` rows are the reference and the ``--rows`` after those the window (disjoint from
both the training rows and each other). Each model is registered, its skops artifact uploaded
to a temporary Steward's artifact store and deployed; the signal then runs as a monitor run
does: the version serving the window is found in the lineage graph, loaded from the store and
explained on the default bounded samples (500 rows a side, 50 background rows). "cold" clears
every cache first (loaded models, reference importances, surrogates); "warm" keeps the
reference side, as the next window of a scheduled monitor does. The baseline is the surrogate
path (tree surrogates of the logged probabilities, the path without the model) on the same
rows, measured in the same run. Every path runs once untimed first; times are the median of
``--repeat`` runs. Target: the real model path within 30 s on two cores.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pyarrow as pa

from governance.access import service as access
from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.principal import SYSTEM
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import ColumnSpec, ColumnType, EndpointCreate, ModelCreate, Signature
from monitors.runs import attribution, model_attribution
from monitors.runs.schemas import SignalOutcome
from monitors.runs.signals import SignalInput, compute_signal
from monitors.runs.sources import ModelLookup
from monitors.specs.schemas import Signal, SignalKind
from monitors.stats.columns import ColumnRoles
from monitors.stats.reference import build_reference_profile
from retrain import explain
from retrain.artifacts.store import save_artifact
from steward.api.app import build_services
from steward.demo.data import load_adult
from steward.migrations import upgrade

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TRAIN = 4000
ROLES = ColumnRoles(labels=("income",))
SIGNAL = Signal(kind=SignalKind.attribution_drift)
TREE_TYPE = "sklearn.tree._tree.Tree"
PROBABILITY = "proba_>50K"


def _models(table: pa.Table) -> tuple[dict[str, Any], list[str], list[str]]:
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = [c for c in table.column_names if c != "income"]
    numeric = [c for c in features if pa.types.is_integer(table.schema.field(c).type)]
    categorical = [c for c in features if c not in numeric]
    train = table.slice(0, TRAIN).to_pandas()
    finals = {
        "logistic": LogisticRegression(max_iter=500),
        "boosting": GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
    }
    models = {}
    for name, final in finals.items():
        encode = make_column_transformer(
            (StandardScaler(), numeric), (OneHotEncoder(handle_unknown="ignore"), categorical)
        )
        models[name] = make_pipeline(encode, final).fit(train[features], train["income"])
    return models, features, numeric


def _signature(features: list[str], numeric: list[str]) -> Signature:
    inputs = [
        ColumnSpec(name=c, type=ColumnType.int if c in numeric else ColumnType.str)
        for c in features
    ]
    return Signature(inputs=inputs, task="binary", probabilities=True, classes=["<=50K", ">50K"])


def _steward(home: Path, models: dict[str, Any], signature: Signature) -> Any:
    """A Steward with each model uploaded and deployed to its own endpoint."""
    import skops.io as sio

    settings = Settings(home=home, skops_trusted_types=[TREE_TYPE])
    upgrade(Database(settings.database_url))
    svc = build_services(settings)
    access.bootstrap(svc.db, owner="bench", project="bench", actor=SYSTEM)
    assert settings.artifact_dir is not None
    for name, model in models.items():
        data = bytes(sio.dumps(model))
        body = ModelCreate(sha256=hashlib.sha256(data).hexdigest(), signature=signature)
        db = svc.db
        lineage.register_model_version(db, project="bench", name=name, data=body, actor=SYSTEM)
        save_artifact(
            db, project="bench", model=name, version=1, chunks=[data],
            root=settings.artifact_dir, actor=SYSTEM, trusted=settings.skops_trusted_types,
        )  # fmt: skip
        lineage.create_endpoint(db, project="bench", data=EndpointCreate(name=name), actor=SYSTEM)
        clock = ManualClock(T0 - timedelta(days=1))
        lineage.deploy(db, project="bench", endpoint=name, model=name, actor=SYSTEM, clock=clock)
    return svc


def _clear() -> None:
    explain.EXPLAINERS.clear()
    model_attribution.REFERENCES.cache.clear()
    attribution.REFERENCES.cache.clear()


def _timed(run: Callable[[], SignalOutcome], repeat: int, cold: bool) -> tuple[float, Any]:
    """Median seconds of ``repeat`` runs after one untimed, and the last outcome."""
    run()
    seconds, outcome = [], None
    for _ in range(repeat):
        if cold:
            _clear()
        started = time.perf_counter()
        outcome = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), outcome


def _with_scores(table: pa.Table, model: Any, features: list[str]) -> pa.Table:
    scores = model.predict_proba(table.select(features).to_pandas())[:, 1]
    return table.append_column(PROBABILITY, pa.array(scores))


def _tripled_hours(window: pa.Table) -> pa.Table:
    hours = np.asarray(window.column("hours-per-week")) * 3
    at = window.column_names.index("hours-per-week")
    return window.set_column(at, "hours-per-week", pa.array(hours))


def _ndcg(outcome: SignalOutcome) -> float:
    value = next(m.value for m in outcome.metrics if m.metric == "ndcg")
    return float("nan") if value is None else float(value)


def main() -> None:
    """Time the model and surrogate paths on the same rows and print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    table = load_adult()
    models, features, numeric = _models(table)
    reference = table.slice(TRAIN, args.rows)
    window = table.slice(TRAIN + args.rows, args.rows)
    assert window.num_rows == args.rows, "Adult has too few rows for --rows"
    profile = build_reference_profile(reference)
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as home:
        svc = _steward(Path(home), models, _signature(features, numeric))
        source = explain.model_source(svc.db, svc.settings)
        for name, model in models.items():
            lookup = ModelLookup(source=source, project="bench", endpoint=name, at=T0)

            def run(current: pa.Table, lookup: ModelLookup = lookup) -> SignalOutcome:
                data = SignalInput(
                    profile=profile, reference=reference, current=current, roles=ROLES, model=lookup
                )
                return compute_signal(SIGNAL, data)

            for state, cold in (("cold", True), ("warm", False)):
                seconds, outcome = _timed(lambda: run(window), args.repeat, cold)
                rows.append(_row(f"model ({name})", state, seconds, outcome))
            shifted = run(_tripled_hours(window))
            rows.append(_row(f"model ({name})", "hours x3", float("nan"), shifted))
            rows.append(_surrogate(name, (reference, window), model, features, args.repeat))
        svc.db.dispose()
    _print(rows, args.rows)


def _surrogate(
    name: str, sides: tuple[pa.Table, pa.Table], model: Any, features: list[str], repeat: int
) -> tuple[str, ...]:
    """The surrogate path on the model's logged probabilities of the same rows (no model)."""
    reference, window = sides
    ref = _with_scores(reference, model, features)
    cur = _with_scores(window, model, features)
    data = SignalInput(
        profile=build_reference_profile(ref), reference=ref, current=cur, roles=ROLES
    )
    seconds, outcome = _timed(lambda: compute_signal(SIGNAL, data), repeat, cold=True)
    return _row(f"surrogate ({name})", "cold", seconds, outcome)


def _row(path: str, state: str, seconds: float, outcome: SignalOutcome) -> tuple[str, ...]:
    s = outcome.summary
    return (
        path,
        state,
        str(s.get("explainer", "surrogate")),
        "-" if seconds != seconds else f"{seconds:.2f}",
        str(s.get("reference_rows_explained", "")),
        str(s.get("window_rows_explained", "")),
        str(s.get("background_rows", "-")),
        f"{_ndcg(outcome):.4f}",
        "yes" if outcome.breached else "no",
    )


def _print(rows: list[tuple[str, ...]], n: int) -> None:
    print(f"attribution drift, Adult: {n:,} reference rows, {n:,} window rows, "
          f"{os.cpu_count()} cores, default options (sample 500, background 50)")  # fmt: skip
    head = ("path", "run", "explainer", "seconds", "ref rows", "win rows", "bg", "ndcg", "breach")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for line in [head, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
    baseline = {r[0].split()[1]: float(r[3]) for r in rows if r[0].startswith("surrogate")}
    for r in rows:
        if r[0].startswith("model") and r[3] != "-":
            ratio = float(r[3]) / baseline[r[0].split()[1]]
            print(f"{r[0]} {r[1]}: {ratio:.2f}x the seconds of the surrogate path (same rows)")


if __name__ == "__main__":
    main()
