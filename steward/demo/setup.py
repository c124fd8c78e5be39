"""What the demo sets up: its people and their tokens, and the documents it sends the API.

People are made with database access, as ``steward init`` and an operator would; everything
after that goes through the REST API with each person's own token.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from governance.access import service as access
from governance.access.schemas import SYSTEM_PROJECT, PrincipalCreate
from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.principal import Principal, PrincipalKind
from steward.demo.data import POSITIVE, TARGET
from steward.demo.stack import PROJECT

ENDPOINT = "income"
MODEL = "income"
DATASET = "adult-train"
SCORED = "income-scored"  # the test rows scored by the model: the monitors' reference
TRAIN = "income-train"
RETRAIN = "income-retrain"
DRIFT = "income-drift"
FAIRNESS = "income-fairness"
TRIGGER = "retrain-on-fairness"
STEPS = "steward.demo.pipeline"
PEOPLE = {
    "olivia": ("owner", PrincipalKind.user),
    "alice": ("ml-engineer", PrincipalKind.user),
    "dan": ("data-scientist", PrincipalKind.user),
    "scoring-app": ("app-developer", PrincipalKind.service),
    "audrey": ("auditor", PrincipalKind.user),
}
OWNER = "olivia"
TOKEN_DAYS = 60


def cast(db: Database, *, operator: Principal, clock: Clock) -> dict[str, str]:
    """As ``steward init``: the system and demo projects with olivia as owner; then one person
    per other role, audrey auditing the whole installation too; a token each (name -> token)."""
    first = access.bootstrap(db, owner=OWNER, project=PROJECT, actor=operator, clock=clock)
    assert first is not None, "the demo's home is fresh"
    tokens = {OWNER: first.token}
    for name, (role, kind) in PEOPLE.items():
        if name == OWNER:
            continue
        access.create_principal(
            db, data=PrincipalCreate(name=name, kind=kind), actor=operator, clock=clock
        )
        access.grant_role(
            db, project=PROJECT, principal=name, role=role, actor=operator, clock=clock
        )
        issued = access.issue_token(
            db, principal=name, name="demo", expires_in_days=TOKEN_DAYS, actor=operator,
            clock=clock,
        )  # fmt: skip
        tokens[name] = issued.token
    # verifying the audit chain is an installation-wide permission
    access.grant_role(
        db, project=SYSTEM_PROJECT, principal="audrey", role="auditor", actor=operator, clock=clock
    )
    return tokens


def _step(name: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "function": f"{STEPS}.steps:{name}", "inputs": inputs,
            "outputs": outputs}  # fmt: skip


def pipeline(*, retrain: bool) -> dict[str, Any]:
    """Training from Adult alone (the first model), or retraining on Adult plus the endpoint's
    labelled traffic of the last week, weighted three times (the world the model will serve)."""
    inputs: dict[str, Any] = {
        "training": {"kind": "dataset", "default": DATASET},
        "epochs": {"kind": "parameter", "default": 8},
    }
    prepare = {"data": "inputs.training", "test_share": 0.2, "seed": 7}
    if retrain:
        inputs["production"] = {"kind": "endpoint_window", "endpoint": ENDPOINT, "days": 7}
        prepare |= {"recent": "inputs.production", "recent_weight": 3}
    return {
        "name": RETRAIN if retrain else TRAIN,
        "description": "Adult" + (" + a week of labelled traffic" if retrain else "")
        + " -> TorchScript MLP -> held-out metrics and scored test rows",
        "inputs": inputs,
        "steps": [
            _step("prepare", prepare, {"train": "dataset", "test": "dataset"}),
            _step("train", {"train": "steps.prepare.train", "epochs": "inputs.epochs", "seed": 7},
                  {"model": {"kind": "model", "name": MODEL}}),
            _step("evaluate", {"model": "steps.train.model", "test": "steps.prepare.test"},
                  {"metrics": "metrics", "scored": {"kind": "dataset", "name": SCORED}}),
        ],
    }  # fmt: skip


def monitors(first_day: datetime, days: int) -> list[dict[str, Any]]:
    """Daily monitors of the endpoint against the scored test rows: drift of the inputs (sex
    and race included: they are captured context) and of the predictions; fairness by sex
    (equalized odds, judged against the reference's own disparity and its sampling error)
    and accuracy, once labels arrive."""
    schedule = {
        "interval": "P1D",
        "start": (first_day + timedelta(days=1)).isoformat(),
        "end": (first_day + timedelta(days=days)).isoformat(),
    }
    reference = {"dataset": SCORED}
    fairness = {
        "sensitive_features": ["sex"], "pos_label": POSITIVE, "compare": "reference",
        "demographic_parity_ratio": None, "equalized_odds_difference": 0.1,
    }  # fmt: skip
    return [
        {"name": DRIFT, "description": "daily drift of inputs and predictions",
         "target": {"name": ENDPOINT}, "reference": reference, "schedule": schedule,
         "signals": [{"kind": "data_drift"}, {"kind": "prediction_drift"}]},
        {"name": FAIRNESS, "description": "daily fairness by sex and accuracy (labels)",
         "target": {"name": ENDPOINT}, "reference": reference, "schedule": schedule,
         "signals": [{"kind": "fairness", "options": fairness},
                     {"kind": "performance", "options": {"pos_label": POSITIVE}}]},
    ]  # fmt: skip


GATE = {
    "metrics": [{"metric": "accuracy", "threshold": 0.78},
                {"metric": "roc_auc", "threshold": 0.8, "min_absolute_change": 0.01}],
    "fairness": [{"metric": "equalized_odds_difference", "sensitive_feature": "sex",
                  "max_difference": 0.18}],
    "reference_label": TARGET, "reference_fraction": 0.2, "positive_class": POSITIVE,
    "bootstrap": 200, "seed": 7,
}  # fmt: skip


def trigger(canary_percent: int) -> dict[str, Any]:
    """Retrain when the fairness signal breaches; gate; canary once approved; a week's rest."""
    return {
        "name": TRIGGER,
        "description": "a fairness regression retrains on the labelled traffic of the week",
        "pipeline": RETRAIN,
        "on": {"kind": "alert", "monitor": FAIRNESS, "signal": "fairness"},
        "cooldown": "P7D",
        "plan": {"endpoint": ENDPOINT, "gate": GATE,
                 "rollout": {"strategy": "canary", "percent": canary_percent}},
    }  # fmt: skip
