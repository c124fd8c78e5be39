"""Signal options are typed per kind: every option is accepted, anything else is a clear 422.

Through the real app (JSON create, YAML apply, PATCH) and the command line; refused monitors
leave nothing behind. The YAML examples of the README and docs/monitors.md still apply.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from monitors.specs.options import SignalKind, option_names
from tests.builders import World
from tests.monitors.specs.test_specs_cli import steward

BASE = "/api/v1/projects/alpha/monitors"
YAML = {"Content-Type": "application/yaml"}
ROOT = Path(__file__).resolve().parents[3]

# Every option of every kind with a value that is not its default (with the fields it needs).
SAMPLES: dict[SignalKind, tuple[dict[str, Any], dict[str, Any]]] = {
    SignalKind.data_drift: ({}, {"correction": "bh", "min_window_rows": 50}),
    SignalKind.prediction_drift: ({}, {"column": "score", "min_window_rows": 50}),
    SignalKind.data_quality: (
        {},
        {
            "null_rate_increase": 0.1,
            "type_error_rate": 0.02,
            "out_of_range_rate": 0.2,
            "unseen_category_rate": 0,
        },
    ),
    SignalKind.performance: (
        {"threshold": 0.7},
        {
            "task": "classification",
            "metric": "f1",
            "pos_label": ">50K",
            "classes": ["<=50K", ">50K"],
            "calibration_bins": 15,
        },
    ),
    SignalKind.fairness: (
        {},
        {
            "sensitive_features": ["sex", "race"],
            "pos_label": 1,
            "min_group_size": 50,
            "demographic_parity_ratio": None,
            "demographic_parity_difference": 0.1,
            "equalized_odds_ratio": 0.7,
            "equalized_odds_difference": 0.2,
            "compare": "reference",
            "significance": 0.01,
        },
    ),
    SignalKind.attribution_drift: (
        {"threshold": 0.8},
        {
            "top_n": 5,
            "max_rows": 500,
            "min_fidelity": 0.6,
            "min_window_rows": 100,
            "method": "surrogate",
            "sample_size": 300,
            "background_size": 40,
        },
    ),
    SignalKind.estimated_performance: (
        {"threshold": 0.6},
        {
            "task": "classification",
            "metric": "f1",
            "pos_label": ">50K",
            "classes": ["<=50K", ">50K"],
            "chunks": 8,
            "min_window_rows": 100,
        },
    ),
    SignalKind.multivariate_drift: (
        {"threshold": 0.7},
        {
            "method": "domain_classifier",
            "explained_variance": 0.65,
            "chunks": 8,
            "min_window_rows": 100,
            "cv_folds": 4,
            "max_reference_rows": 1000,
        },
    ),
    SignalKind.llm_quality: (
        {"threshold": 3.5},
        {
            "evaluators": ["relevance", "f1_score"],
            "connection": "judge",
            "sample_size": 40,
            "min_scored": 20,
            "baseline": False,
            "min_effect": 0.3,
            "significance": 0.05,
        },
    ),
    SignalKind.llm_usage: (
        {},
        {
            "prices": {"gpt-small": {"input_per_1k": 0.5, "output_per_1k": 1.5}},
            "max_input_tokens_per_request": 2000,
            "max_output_tokens_per_request": 500,
            "max_total_tokens": 1000000,
            "max_cost": 50,
            "max_cost_per_request": 0.1,
        },
    ),
    SignalKind.llm_latency: (
        {},
        {"max_p50_ms": 800, "max_p95_ms": 2000, "max_p99_ms": 5000, "significance": 0.05},
    ),
    SignalKind.llm_errors: (
        {},
        {
            "max_error_rate": 0.05,
            "max_refusal_rate": 0.1,
            "refusal_phrases": ["cannot comply"],
            "significance": 0.05,
        },
    ),
    SignalKind.llm_prompt_drift: (
        {},
        {
            "length": "tokens",
            "top_terms": 30,
            "bigrams": True,
            "min_window_rows": 50,
            "embeddings": None,
        },
    ),
}


def _monitor(signal: dict[str, Any], name: str = "m") -> dict[str, Any]:
    spec = {"name": name, "target": {"name": "income"}, "signals": [signal]}
    if str(signal.get("kind", "")).startswith("llm_"):  # they compare with past windows
        spec["reference"] = {"kind": "production_window"}
    return spec


def _create(client: TestClient, world: World, signal: dict[str, Any]) -> Any:
    return client.post(BASE, json=_monitor(signal), headers=world.headers("data-scientist"))


def _nothing_stored(client: TestClient, world: World) -> None:
    assert client.get(BASE, headers=world.headers("viewer")).json() == []


def test_the_samples_name_every_option_of_every_kind() -> None:
    assert set(SAMPLES) == set(SignalKind)
    for kind, (_, options) in SAMPLES.items():
        assert tuple(options) == option_names(kind), kind


@pytest.mark.parametrize("kind", list(SignalKind))
def test_every_option_of_every_kind_is_accepted_and_kept(
    client: TestClient, world: World, kind: SignalKind
) -> None:
    fields, options = SAMPLES[kind]
    r = _create(client, world, {"kind": kind, **fields, "options": options})
    assert r.status_code == 201, r.text
    stored = client.get(f"{BASE}/m", headers=world.headers("viewer")).json()
    kept = stored["spec"]["signals"][0]["options"]
    assert {k: kept[k] for k in options} == options
    assert set(kept) == set(option_names(kind))  # the defaults of the others, spelled out


REFUSED: list[tuple[str, dict[str, Any], list[str], str]] = [
    # unknown options
    (
        "unknown",
        {"kind": "data_quality", "options": {"null_rate": 0.1}},
        ["options", "null_rate"],
        "unknown option 'null_rate' for data_quality signals: their options are "
        "null_rate_increase, type_error_rate, out_of_range_rate, unseen_category_rate",
    ),
    (
        "another kind's",
        {"kind": "data_drift", "options": {"pos_label": 1}},
        ["options", "pos_label"],
        "for data_drift signals: their options are correction, min_window_rows ('pos_label' is "
        "an option of performance, fairness, estimated_performance)",
    ),
    (
        "not a metric",
        {"kind": "performance", "threshold": 0.8, "options": {"metric": "auc"}},
        ["options", "metric"],
        "Input should be 'accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss', "
        "'calibration_error', 'rmse', 'mae', 'mse' or 'r2'",
    ),
    (
        "regression_tolerance (needs a baseline)",
        {"kind": "fairness", "options": {"sensitive_features": ["sex"], "regression_tolerance": 0}},
        ["options", "regression_tolerance"],
        "unknown option 'regression_tolerance' for fairness signals",
    ),
    # wrong types
    (
        "rate as text",
        {"kind": "data_quality", "options": {"type_error_rate": "low"}},
        ["options", "type_error_rate"],
        "Input should be a valid number",
    ),
    (
        "group size as a fraction",
        {"kind": "fairness", "options": {"sensitive_features": ["sex"], "min_group_size": 2.5}},
        ["options", "min_group_size"],
        "Input should be a valid integer",
    ),
    (
        "label as a list",
        {"kind": "performance", "options": {"pos_label": [1]}},
        ["options", "pos_label"],
        "a label is a string, an integer or a boolean",
    ),
    (
        "unknown task",
        {"kind": "performance", "options": {"task": "ranking"}},
        ["options", "task"],
        "Input should be 'classification' or 'regression'",
    ),
    (
        "column as a number",
        {"kind": "prediction_drift", "options": {"column": 5}},
        ["options", "column"],
        "Input should be a valid string",
    ),
    (
        "options as a list",
        {"kind": "data_quality", "options": ["null_rate_increase"]},
        ["options"],
        "Input should be a valid dictionary",
    ),
    # out of range
    (
        "rate above 1",
        {"kind": "data_quality", "options": {"out_of_range_rate": 1.5}},
        ["options", "out_of_range_rate"],
        "less than or equal to 1",
    ),
    (
        "negative ratio",
        {"kind": "fairness", "features": ["sex"], "options": {"equalized_odds_ratio": -0.1}},
        ["options", "equalized_odds_ratio"],
        "greater than or equal to 0",
    ),
    (
        "empty groups",
        {"kind": "fairness", "options": {"sensitive_features": ["sex"], "min_group_size": 0}},
        ["options", "min_group_size"],
        "greater than or equal to 1",
    ),
    (
        "empty column",
        {"kind": "prediction_drift", "options": {"column": ""}},
        ["options", "column"],
        "at least 1 character",
    ),
    (
        "long label",
        {"kind": "performance", "options": {"pos_label": "x" * 257}},
        ["options", "pos_label"],
        "a label has at most 256 characters",
    ),
    (
        "nine sensitive features",
        {"kind": "fairness", "options": {"sensitive_features": [f"f{i}" for i in range(9)]}},
        ["options", "sensitive_features"],
        "at most 8 items",
    ),
    (
        "drift share above 1",
        {"kind": "data_drift", "threshold": 1.5},
        ["threshold"],
        "threshold is the share of drifted features that breaches: at most 1",
    ),
    (
        "accuracy above 1",
        {"kind": "performance", "threshold": 80},
        ["threshold"],
        "accuracy is at most 1, so this threshold always breaches",
    ),
    # contradictions and fields the kind would not read
    (
        "metric without threshold",
        {"kind": "performance", "options": {"metric": "f1"}},
        ["options", "metric"],
        "metric names the metric that threshold bounds: give a threshold too",
    ),
    (
        "metric of the other task",
        {
            "kind": "performance",
            "threshold": 0.5,
            "options": {"task": "regression"} | {"metric": "f1"},
        },
        ["options", "metric"],
        "f1 is not a regression metric (rmse, mae, mse, r2)",
    ),
    (
        "pos_label of a regression",
        {"kind": "performance", "options": {"task": "regression", "pos_label": 1}},
        ["options", "pos_label"],
        "pos_label applies to classification only",
    ),
    (
        "no sensitive features",
        {"kind": "fairness"},
        ["options", "sensitive_features"],
        "fairness signals need their sensitive features",
    ),
    (
        "sensitive features twice",
        {"kind": "fairness", "features": ["sex"], "options": {"sensitive_features": ["race"]}},
        ["options", "sensitive_features"],
        "give the sensitive features once",
    ),
    (
        "fairness threshold",
        {"kind": "fairness", "threshold": 0.8, "options": {"sensitive_features": ["sex"]}},
        ["threshold"],
        "fairness signals do not use threshold: their limits are options",
    ),
    (
        "prediction drift features",
        {"kind": "prediction_drift", "features": ["age"]},
        ["features"],
        "prediction_drift signals do not use features: they read feature_threshold, method, preset",
    ),
    (
        "performance preset",
        {"kind": "performance", "preset": "evidently"},
        ["preset"],
        "performance signals do not use preset",
    ),
    (
        "data quality method",
        {"kind": "data_quality", "method": "ks"},
        ["method"],
        "data_quality signals do not use method",
    ),
    (
        "unknown drift test",
        {"kind": "data_drift", "method": "t-test"},
        ["method"],
        "unknown drift test 't-test'",
    ),
]


@pytest.mark.parametrize(
    ("signal", "loc", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_json_refusals_are_422_naming_the_option(
    client: TestClient, world: World, signal: dict[str, Any], loc: list[str], message: str
) -> None:
    r = _create(client, world, signal)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_input"
    [error] = body["errors"]
    assert error["loc"] == ["body", "signals", "0", *loc] and message in error["msg"], error
    assert body["detail"].startswith(".".join(error["loc"]) + ": ")
    _nothing_stored(client, world)


@pytest.mark.parametrize(
    ("signal", "loc", "message"),
    [c[1:] for c in REFUSED if c[0] in ("unknown", "rate above 1", "fairness threshold")],
)
def test_yaml_apply_and_patch_refuse_the_same_way(
    client: TestClient, world: World, signal: dict[str, Any], loc: list[str], message: str
) -> None:
    ds = world.headers("data-scientist")
    text = yaml.safe_dump(_monitor(signal, name="quality"))
    r = client.post(f"{BASE}/apply", content=text, headers=ds | YAML)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["loc"] == ".".join(["signals", "0", *loc]) and error["name"] == "quality"
    assert message in error["msg"]
    assert r.json()["detail"].startswith(
        f"invalid monitor definition: monitor 'quality': {error['loc']}: "
    )
    _nothing_stored(client, world)
    assert client.post(BASE, json=_monitor({"kind": "data_drift"}), headers=ds).status_code == 201
    r = client.patch(f"{BASE}/m", json={"signals": [signal]}, headers=ds)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "signals", "0", *loc]
    kept = client.get(f"{BASE}/m", headers=ds).json()
    assert kept["revision"] == 1 and kept["spec"]["signals"][0]["kind"] == "data_drift"


@pytest.mark.parametrize(
    ("literal", "field"),
    [(".inf", "options: {null_rate_increase: .inf}"), (".nan", "threshold: .nan")],
)
def test_yaml_non_finite_numbers_are_refused(
    client: TestClient, world: World, literal: str, field: str
) -> None:
    text = f"name: m\ntarget: {{name: income}}\nsignals: [{{kind: data_quality, {field}}}]\n"
    r = client.post(f"{BASE}/apply", content=text, headers=world.headers("data-scientist") | YAML)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["msg"] == "Input should be a finite number", (literal, error)


def test_lists_are_bounded(client: TestClient, world: World) -> None:
    ds = world.headers("data-scientist")
    many = {
        **_monitor({"kind": "data_drift"}),
        "signals": [{"kind": "data_drift", "name": f"s{i}"} for i in range(33)],
    }
    r = client.post(BASE, json=many, headers=ds)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "signals"]
    wide = _monitor({"kind": "data_drift", "features": [f"c{i}" for i in range(1001)]})
    r = client.post(BASE, json=wide, headers=ds)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == [
        "body",
        "signals",
        "0",
        "features",
    ]
    bad_channel = {**_monitor({"kind": "data_drift"}), "channels": ["On Call!"]}
    r = client.post(BASE, json=bad_channel, headers=ds)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "channels", "0"]
    _nothing_stored(client, world)


def test_the_openapi_document_lists_each_kinds_options(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    options = schemas["Signal"]["properties"]["options"]
    refs = {ref["$ref"].rsplit("/", 1)[-1] for ref in options["anyOf"]}
    assert refs == {f"{k.title().replace('_', '')}Options" for k in SignalKind}
    assert schemas["FairnessOptions"]["additionalProperties"] is False
    assert all(k in options["description"] for k in SignalKind)


def _yaml_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "signals" in b]


def test_the_yaml_of_the_readme_and_docs_applies(client: TestClient, world: World) -> None:
    owner = world.headers("owner")
    hook = {"name": "oncall", "url": "https://hooks.example.com/x", "secret": "s" * 20}
    assert (
        client.post("/api/v1/projects/alpha/channels", json=hook, headers=owner).status_code == 201
    )
    blocks = [b for doc in ("README.md", "docs/monitors.md") for b in _yaml_blocks(ROOT / doc)]
    assert blocks
    for block in blocks:
        r = client.post(f"{BASE}/apply", content=block, headers=owner | YAML)
        assert r.status_code == 200, (block, r.text)
        again = client.post(f"{BASE}/apply", content=block, headers=owner | YAML)
        assert [m["revision"] for m in again.json()] == [m["revision"] for m in r.json()]


BAD_FILE = """
monitors:
  - name: fair
    target: {name: income}
    signals:
      - {kind: fairness, options: {sensitive_features: [sex], pos_lable: ">50K"}}
"""
GOOD_FILE = """
monitors:
  - name: fair
    target: {name: income}
    signals:
      - {kind: fairness, options: {sensitive_features: [sex], pos_label: ">50K"}}
      - {kind: data_quality, threshold: 2, options: {unseen_category_rate: 0.05}}
"""


def test_cli_apply_names_the_monitor_signal_and_option(
    settings: Settings, world: World, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_FILE)
    done = steward(settings, "monitor", "apply", "-f", str(bad), "-p", "alpha")
    assert done.returncode == 2, done.stdout
    message = " ".join(done.stderr.split())
    assert "(invalid_input): invalid monitor definition: monitor 'fair': " in message
    assert "signals.0.options.pos_lable: unknown option 'pos_lable' for fairness signals" in message
    listed = steward(settings, "monitor", "list", "-p", "alpha")
    assert "fair" not in listed.stdout
    good = tmp_path / "good.yaml"
    good.write_text(GOOD_FILE)
    done = steward(settings, "monitor", "apply", "-f", str(good), "-p", "alpha")
    assert done.returncode == 0 and "created" in done.stdout, done.stderr
    exported = steward(settings, "monitor", "export", "-p", "alpha")
    assert (
        "pos_label: '>50K'" in exported.stdout and "unseen_category_rate: 0.05" in exported.stdout
    )
    assert "options: {}" not in exported.stdout
    again = tmp_path / "exported.yaml"
    again.write_text(exported.stdout)
    done = steward(settings, "monitor", "apply", "-f", str(again), "-p", "alpha")
    assert done.returncode == 0 and "unchanged" in done.stdout, done.stderr


def test_the_readme_table_lists_each_kinds_options() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for kind in SignalKind:
        [row] = re.findall(rf"^\| `{kind}` \| (.*) \|$", text, re.M)
        listed = re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", row))
        assert tuple(listed) == option_names(kind), kind
