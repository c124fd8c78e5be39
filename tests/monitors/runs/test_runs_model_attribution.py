"""Feature-attribution drift of a model Steward holds: SHAP of the deployed version itself.

Adult (the demo's copy): the models learn from the first 4,000 rows, the next 5,000 are the
reference and the rest are production windows, so every judgement is on rows the models never
saw. The models are uploaded as skops files and deployed; the run finds the version that served
the window through the lineage graph and loads it from the artifact store.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.clock import ManualClock
from governance.core.errors import InvalidInput, InvalidState
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import ColumnSpec, ColumnType, EndpointCreate, Signature, TaskType
from monitors.runs.adapters import default_environment
from monitors.runs.compute import InProcessWindows
from monitors.runs.service import run_now
from monitors.runs.signals import SignalInput, compute_signal
from monitors.runs.sources import ModelLookup
from monitors.specs.schemas import Signal, SignalKind
from monitors.specs.service import get_monitor
from monitors.specs.windows import plan_window
from monitors.stats.columns import ColumnRoles
from monitors.stats.reference import ReferenceProfile, build_reference_profile
from retrain.backfill import RunnerWindows
from retrain.explain import TreeModel, model_source
from steward.api.deps import Services
from steward.demo.data import load_adult
from steward.environment import run_environment
from tests.builders import OPERATOR, World
from tests.conftest import make_settings
from tests.monitors.runs.test_runs_backfill_runner import without_timings
from tests.monitors.runs.traffic import apply_yaml, register_reference, send
from tests.retrain.test_artifacts_api import _onnx_logistic

P = "/api/v1/projects/alpha"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
ROLES = ColumnRoles(labels=("income",))
CLASSES = ["<=50K", ">50K"]
SIGNAL = Signal(kind=SignalKind.attribution_drift)
TREE_TYPE = "sklearn.tree._tree.Tree"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings that trust the one type skops flags in a gradient-boosting pipeline."""
    return make_settings(tmp_path / "home", db_url, skops_trusted_types=[TREE_TYPE])


@dataclass(frozen=True)
class Adult:
    """The split data set, its inputs, and two fitted pipelines."""

    reference: pa.Table
    production: pa.Table
    profile: ReferenceProfile
    features: list[str]
    numeric: list[str]
    linear: Any
    trees: Any


def _pipeline(final: Any, numeric: list[str], categorical: list[str]) -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encode = make_column_transformer(
        (StandardScaler(), numeric), (OneHotEncoder(handle_unknown="ignore"), categorical)
    )
    return make_pipeline(encode, final)


@pytest.fixture(scope="module")
def adult() -> Adult:
    """Two models trained on 4,000 rows; a 5,000-row reference; the rest is production."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    table = load_adult()
    features = [c for c in table.column_names if c != "income"]
    numeric = [c for c in features if pa.types.is_integer(table.schema.field(c).type)]
    categorical = [c for c in features if c not in numeric]
    train = table.slice(0, 4000).to_pandas()
    reference = table.slice(4000, 5000)
    fit = (train[features], train["income"])
    return Adult(
        reference=reference,
        production=table.slice(9000),
        profile=build_reference_profile(reference),
        features=features,
        numeric=numeric,
        linear=_pipeline(LogisticRegression(max_iter=500), numeric, categorical).fit(*fit),
        trees=_pipeline(
            GradientBoostingClassifier(n_estimators=60, max_depth=3, random_state=0),
            numeric,
            categorical,
        ).fit(*fit),
    )


def _signature(adult: Adult) -> Signature:
    inputs = [
        ColumnSpec(name=c, type=ColumnType.int if c in adult.numeric else ColumnType.str)
        for c in adult.features
    ]
    return Signature(
        inputs=inputs,
        outputs=[ColumnSpec(name="prediction", type=ColumnType.str)],
        task=TaskType.binary,
        probabilities=True,
        classes=CLASSES,
    )


def hold(
    client: TestClient,
    world: World,
    services: Services,
    model: Any,
    signature: Signature,
    *,
    endpoint: str,
    at: datetime,
    upload: bool = True,
    flavor: str = "sklearn",
) -> int:
    """Register ``model`` (as a skops file, unless bytes), upload it unless told not to, and
    deploy it at ``at``."""
    import skops.io as sio

    data = model if isinstance(model, bytes) else bytes(sio.dumps(model))
    eng = world.headers("ml-engineer")
    body = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "flavor": flavor,
        "signature": signature.model_dump(mode="json"),
    }
    r = client.post(f"{P}/models/income/versions", json=body, headers=eng)
    assert r.status_code == 201, r.text
    version = int(r.json()["version"])
    if upload:
        url = f"{P}/models/income/versions/{version}/artifact"
        headers = {**eng, "Content-Type": "application/octet-stream"}
        assert client.put(url, content=data, headers=headers).status_code == 201
    if client.get(f"{P}/endpoints/{endpoint}", headers=eng).status_code == 404:
        lineage.create_endpoint(
            services.db, project="alpha", data=EndpointCreate(name=endpoint), actor=OPERATOR
        )
    lineage.deploy(
        services.db,
        project="alpha",
        endpoint=endpoint,
        model="income",
        version=version,
        actor=OPERATOR,
        clock=ManualClock(at),
    )
    return version


def _input(
    adult: Adult, services: Services, window: pa.Table, *, endpoint: str = "income"
) -> SignalInput:
    lookup = ModelLookup(
        source=model_source(services.db, services.settings),
        project="alpha",
        endpoint=endpoint,
        at=T0 + timedelta(hours=12),
    )
    return SignalInput(
        profile=adult.profile,
        reference=adult.reference,
        current=window,
        roles=ROLES,
        model=lookup,
    )


def _ndcg(outcome: Any) -> float:
    return float(next(m.value for m in outcome.metrics if m.metric == "ndcg"))


def _tripled_hours(window: pa.Table) -> pa.Table:
    """Hours per week logged three times too large: the model's output turns on them."""
    hours = np.asarray(window.column("hours-per-week")) * 3
    at = window.column_names.index("hours-per-week")
    return window.set_column(at, "hours-per-week", pa.array(hours))


def _windows(adult: Adult, sizes: tuple[int, ...], per_size: int) -> list[pa.Table]:
    """Consecutive, disjoint production windows: ``per_size`` of each size."""
    windows, start = [], 0
    for size in sizes:
        for _ in range(per_size):
            windows.append(adult.production.slice(start, size))
            start += size
    return windows


def test_a_held_tree_ensemble_is_explained_exactly_and_unshifted_windows_do_not_breach(
    client: TestClient, world: World, services: Services, adult: Adult
) -> None:
    version = hold(
        client, world, services, adult.trees, _signature(adult), endpoint="income", at=T0
    )
    outcomes = [
        compute_signal(SIGNAL, _input(adult, services, w))
        for w in _windows(adult, (200, 500, 2000), per_size=3)
    ]
    assert not any(o.breached for o in outcomes), [_ndcg(o) for o in outcomes]
    assert min(_ndcg(o) for o in outcomes) > 0.97
    first, last = outcomes[0].summary, outcomes[-1].summary
    assert (first["method"], first["explainer"], first["flavor"]) == ("model", "tree", "sklearn")
    assert (first["model"], first["version"]) == ("income", version)
    assert first["window_rows_explained"] == 200 and last["window_rows_explained"] == 500
    assert first["reference_rows_explained"] == 500 and first["background_rows"] == 50
    assert not first["reference_cached"] and last["reference_cached"]  # explained once
    assert first["seconds"] > 0 and first["window_seconds"] > 0
    shifted = compute_signal(SIGNAL, _input(adult, services, _tripled_hours(adult.production)))
    assert shifted.breached and _ndcg(shifted) < 0.9
    assert shifted.summary["window_top"][0] == "hours-per-week"
    assert shifted.summary["window_rows_explained"] == 500  # a large window is sampled


def test_the_tree_path_credits_each_input_with_its_encoded_columns(
    client: TestClient, world: World, services: Services, adult: Adult
) -> None:
    hold(client, world, services, adult.trees, _signature(adult), endpoint="income", at=T0)
    found = _input(adult, services, adult.production).model
    assert found is not None
    model = found.find()
    assert isinstance(model, TreeModel)
    rows = adult.production.slice(0, 300)
    background = adult.reference.slice(0, 50)
    values = model.shap_values(rows, background=background, seed=0)
    assert values.shape == (300, len(adult.features))
    # local accuracy: the inputs' values add up to the log-odds the ensemble returns, less
    # their mean over the background (every encoded column credited to exactly one input)
    logit = adult.trees.decision_function(rows.select(adult.features).to_pandas())
    base = adult.trees.decision_function(background.select(adult.features).to_pandas()).mean()
    np.testing.assert_allclose(values.sum(axis=1), logit - base, atol=1e-6)


def test_a_held_pipeline_is_explained_by_permutation_and_a_shifted_window_breaches(
    client: TestClient, world: World, services: Services, adult: Adult
) -> None:
    hold(client, world, services, adult.linear, _signature(adult), endpoint="income", at=T0)
    for window in _windows(adult, (200, 1000), per_size=1):
        outcome = compute_signal(SIGNAL, _input(adult, services, window))
        assert not outcome.breached and _ndcg(outcome) > 0.97, outcome.summary
        assert outcome.summary["explainer"] == "permutation"
    shifted = compute_signal(SIGNAL, _input(adult, services, _tripled_hours(adult.production)))
    assert shifted.breached and _ndcg(shifted) < 0.9, shifted.summary
    assert shifted.summary["method"] == "model"
    assert shifted.summary["window_top"][0] == "hours-per-week"
    seconds = next(m.value for m in shifted.metrics if m.metric == "explain_seconds")
    assert seconds is not None and seconds > 0


def test_torchscript_and_onnx_are_explained_by_permutation_and_a_state_dict_is_not(
    client: TestClient, world: World, services: Services, adult: Adult
) -> None:
    import torch

    numeric = ["age", "education-num", "hours-per-week"]
    signature = Signature(
        inputs=[ColumnSpec(name=c, type=ColumnType.int) for c in numeric],
        task=TaskType.binary,
        probabilities=True,
        classes=CLASSES,
    )
    weights = np.array([[0.05], [0.3], [0.02]], dtype=np.float32)
    linear = torch.nn.Linear(3, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weights.T))
        linear.bias.fill_(-4.0)
    network = torch.nn.Sequential(linear, torch.nn.Sigmoid())
    scripted, state = io.BytesIO(), io.BytesIO()
    torch.jit.save(torch.jit.script(network), scripted)
    torch.save(network.state_dict(), state)
    flavors = {
        "torchscript": scripted.getvalue(),
        "onnx": _onnx_logistic(weights, -4.0),
        "torch": state.getvalue(),
    }
    signal = Signal(kind=SignalKind.attribution_drift, options={"sample_size": 200})
    window = adult.production.slice(0, 300)
    for k, (flavor, data) in enumerate(flavors.items()):
        at = T0 - timedelta(days=3 - k)  # each flavour replaces the last: the window sees it
        hold(client, world, services, data, signature, endpoint="tiny", at=at, flavor=flavor)
        lookup = _input(adult, services, window, endpoint="tiny").model
        assert lookup is not None
        found = lookup.find()
        if flavor == "torch":  # weights without the network: Steward cannot run it
            assert found is None
            continue
        assert found is not None and (found.flavor, found.explainer) == (flavor, "permutation")
        outcome = compute_signal(signal, _input(adult, services, window, endpoint="tiny"))
        assert outcome.summary["method"] == "model" and not outcome.breached, outcome.summary
        assert outcome.summary["window_rows_explained"] == 200
        # in both flavours the weights make education the input the output turns on most
        assert outcome.summary["window_top"][0] == "education-num"


def test_a_model_steward_does_not_hold_falls_back_to_the_surrogate_unless_demanded(
    client: TestClient, world: World, services: Services, adult: Adult
) -> None:
    signature = _signature(adult)
    hold(client, world, services, adult.linear, signature, endpoint="income", at=T0, upload=False)
    scores = adult.linear.predict_proba(adult.reference.select(adult.features).to_pandas())
    reference = adult.reference.append_column("proba_>50K", pa.array(scores[:, 1]))
    window = adult.production.slice(0, 600)
    window_scores = adult.linear.predict_proba(window.select(adult.features).to_pandas())
    window = window.append_column("proba_>50K", pa.array(window_scores[:, 1]))
    data = _input(adult, services, window)
    data = SignalInput(
        profile=build_reference_profile(reference),
        reference=reference,
        current=window,
        roles=ROLES,
        model=data.model,
    )
    outcome = compute_signal(SIGNAL, data)
    assert outcome.summary["method"] == "surrogate" and not outcome.breached
    assert outcome.summary["seconds"] > 0
    demanded = Signal(kind=SignalKind.attribution_drift, options={"method": "model"})
    with pytest.raises(InvalidState, match="does not hold the version that served the window"):
        compute_signal(demanded, data)


def test_method_surrogate_never_looks_the_model_up(
    client: TestClient, world: World, services: Services, adult: Adult
) -> None:
    hold(client, world, services, adult.linear, _signature(adult), endpoint="income", at=T0)
    signal = Signal(kind=SignalKind.attribution_drift, options={"method": "surrogate"})
    window = adult.production.slice(0, 300)
    # the window has no logged outputs: the surrogate cannot explain it, the model could
    with pytest.raises(InvalidInput, match="needs the model's outputs in the reference"):
        compute_signal(signal, _input(adult, services, window))
    assert compute_signal(SIGNAL, _input(adult, services, window)).summary["method"] == "model"


MONITOR = """
name: attributions
target: {name: income}
reference: {dataset: adult-reference}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - {kind: attribution_drift}
"""


def _day(adult: Adult, day: int, model: Any, rows: int = 600) -> list[dict[str, Any]]:
    """A day of the served model's traffic: production rows it never saw, with its outputs."""
    window = adult.production.slice(day * rows, rows)
    frame = window.select(adult.features).to_pandas()
    scores, predictions = model.predict_proba(frame).tolist(), model.predict(frame)
    start = T0 + timedelta(days=day)
    return [
        {
            "correlation_id": f"d{day}-{k}",
            "timestamp": (start + timedelta(minutes=2 * k)).isoformat(),
            "features": features,
            "prediction": str(predictions[k]),
            "probabilities": scores[k],
        }
        for k, features in enumerate(window.select(adult.features).to_pylist())
    ]


def test_a_monitor_run_explains_the_version_that_served_each_window(
    client: TestClient, world: World, services: Services, settings: Settings, adult: Adult
) -> None:
    signature = _signature(adult)
    first = hold(
        client, world, services, adult.linear, signature, endpoint="income", at=T0 - timedelta(1)
    )
    second = hold(
        client, world, services, adult.trees, signature, endpoint="income", at=T0 + timedelta(1)
    )
    register_reference(client, world, settings, adult.reference, "adult-reference")
    send(client, world, _day(adult, 0, adult.linear), endpoint="income")
    send(client, world, _day(adult, 1, adult.trees), endpoint="income")
    assert apply_yaml(client, world, MONITOR).status_code == 200
    env = default_environment(services.db, settings, explainers=model_source(services.db, settings))
    served = {}
    for day in (0, 1):
        report = run_now(
            services.db,
            project="alpha",
            name="attributions",
            env=env,
            window_end=T0 + timedelta(days=day + 1),
        )
        assert report.run.status == "succeeded", report.run
        served[day] = report.run.summary["attribution_drift"]
    assert (served[0]["version"], served[0]["explainer"]) == (first, "permutation")
    assert (served[1]["version"], served[1]["explainer"]) == (second, "tree")
    for signal in served.values():
        assert signal["method"] == "model" and not signal["breached"], signal
        assert signal["window_rows"] == 600 and signal["window_rows_explained"] == 500
        assert signal["reference_rows_explained"] == 500 and signal["background_rows"] == 50
        assert signal["seconds"] > 0 and signal["ndcg"] > 0.97
    r = client.get(
        f"{P}/monitors/attributions/results",
        params={"signal": "attribution_drift"},
        headers=world.headers("viewer"),
    )
    points = {(p["metric"], p["feature"]) for p in r.json()["items"]}
    assert {("ndcg", ""), ("explain_seconds", ""), ("mean_abs_shap", "age")} <= points


def test_attribution_drift_of_the_served_versions_is_the_same_on_the_runner(
    client: TestClient, world: World, services: Services, settings: Settings, adult: Adult
) -> None:
    signature = _signature(adult)
    hold(client, world, services, adult.linear, signature, endpoint="income", at=T0 - timedelta(1))
    hold(client, world, services, adult.trees, signature, endpoint="income", at=T0 + timedelta(1))
    register_reference(client, world, settings, adult.reference, "adult-reference")
    for day in (0, 1):
        send(
            client,
            world,
            _day(adult, day, adult.linear if day == 0 else adult.trees),
            endpoint="income",
        )
    assert apply_yaml(client, world, MONITOR).status_code == 200
    monitor = get_monitor(services.db, project="alpha", name="attributions")
    env = run_environment(services.db, settings)
    assert isinstance(env.windows_computer, RunnerWindows)  # the default: backfills on the runner
    plans = [plan_window(monitor.spec, T0 + timedelta(days=d + 1)) for d in (0, 1)]
    there = env.windows_computer.compute(monitor, plans, env, cancelled=lambda: False)
    here = InProcessWindows().compute(monitor, plans, env, cancelled=lambda: False)
    summaries = [c.outcomes[0].summary for c in there]
    assert [(s["method"], s["explainer"]) for s in summaries] == [
        ("model", "permutation"),
        ("model", "tree"),
    ]
    assert [without_timings(c) for c in there] == [without_timings(c) for c in here]
