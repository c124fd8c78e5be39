"""The example pipeline's three steps, chained by hand through each runner."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from lineage.schemas import Signature, TaskType
from retrain.artifacts.formats import Flavor, check_artifact, load_model
from retrain.runners.base import ResourceLimits, StepOutcome, StepRunner, StepStatus
from retrain.runners.local import LocalRunner
from steward.demo.data import FEATURES
from tests.retrain.runners.conftest import run, task

ALLOWED = ("steward.demo.pipeline",)
LIMITS = ResourceLimits(timeout_seconds=120)


def _step(runner: StepRunner, workdir: Path, name: str, arguments: Any, outputs: Any) -> Any:
    run_id = uuid.UUID(int=7)
    step = task(
        workdir, f"steward.demo.pipeline.steps:{name}", arguments, outputs,
        limits=LIMITS, allowed=ALLOWED, run_id=run_id,
    )  # fmt: skip
    outcome, lines = run(runner, step)
    assert outcome.status is StepStatus.succeeded, (outcome.error, lines[-20:])
    return outcome, lines


def _placed(source: Path, workdir: Path, name: str) -> str:
    """Copy an input into the step's work directory, as the pipeline service does."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, workdir / name)
    return name


def _chain(
    runner: StepRunner, root: Path, adult: Path
) -> tuple[StepOutcome, Path, Path, dict[str, float]]:
    prepare = root / "prepare"
    data = {"kind": "dataset", "path": _placed(adult, prepare, "in.parquet"), "name": "adult"}
    prepared, _ = _step(
        runner,
        prepare,
        "prepare",
        {"data": data, "seed": 7},
        {"train": "dataset", "test": "dataset"},
    )
    train_dir, evaluate_dir = root / "train", root / "evaluate"
    train = _placed(prepare / prepared.outputs["train"]["path"], train_dir, "train.parquet")
    arguments = {
        "train": {"kind": "dataset", "path": train},
        "epochs": {"kind": "parameter", "value": 4},
        "max_rows": 12_000,
    }
    trained, lines = _step(runner, train_dir, "train", arguments, {"model": "model"})
    assert [line for line in lines if "epoch" in line][-1].startswith("INFO train: epoch 4 loss")
    model = trained.outputs["model"]
    test = prepare / prepared.outputs["test"]["path"]
    arguments = {
        "model": {**model, "path": _placed(train_dir / model["path"], evaluate_dir, "model.pt")},
        "test": {"kind": "dataset", "path": _placed(test, evaluate_dir, "test.parquet")},
    }
    evaluated, _ = _step(
        runner, evaluate_dir, "evaluate", arguments, {"metrics": "metrics", "scored": "dataset"}
    )
    return trained, train_dir / model["path"], test, evaluated.outputs["metrics"]["values"]


@pytest.mark.slow
def test_prepare_train_evaluate(runner: StepRunner, tmp_path: Path, adult_parquet: Path) -> None:
    trained, artifact, test_path, metrics = _chain(runner, tmp_path, adult_parquet)
    model = trained.outputs["model"]
    assert model["flavor"] == "torchscript"
    signature = Signature.model_validate(model["signature"])
    assert signature.task is TaskType.binary and signature.probabilities
    assert signature.classes == ["<=50K", ">50K"]
    # the artifact passes the store's check and scores through Steward's own loader
    check_artifact(artifact, Flavor.torchscript)
    test = pq.read_table(test_path)
    prediction = load_model(artifact, Flavor.torchscript, signature).predict(test)
    truth = test.column("income").to_pylist()
    assert prediction.probabilities is not None
    assert np.allclose(prediction.probabilities.sum(axis=1), 1.0, atol=1e-5)
    accuracy = accuracy_score(truth, prediction.predictions)
    assert accuracy > 0.80
    # the evaluate step's numbers are the reference library's on the same predictions
    positive = prediction.probabilities[:, 1]
    assert metrics == {
        "accuracy": pytest.approx(accuracy, rel=1e-9),
        "roc_auc": pytest.approx(roc_auc_score([t == ">50K" for t in truth], positive), rel=1e-9),
        "f1": pytest.approx(f1_score(truth, prediction.predictions, pos_label=">50K"), rel=1e-9),
    }


def test_prepare_adds_the_labelled_production_window(tmp_path: Path, adult_parquet: Path) -> None:
    adult = pq.read_table(adult_parquet)
    window = adult.slice(0, 50).select(["age", "hours-per-week", "income"])
    window = window.rename_columns(["age", "hours-per-week", "label"])
    window = window.append_column("prediction", window.column("label"))
    pq.write_table(window, tmp_path / "window.parquet")
    arguments = {
        "data": {"kind": "dataset", "path": str(adult_parquet)},
        "recent": {"kind": "dataset", "path": str(tmp_path / "window.parquet")},
    }
    work = tmp_path / "prepare"
    outputs = {"train": "dataset", "test": "dataset"}
    _step(LocalRunner(), work, "prepare", arguments, outputs)
    both = pa.concat_tables([pq.read_table(work / f"{n}.parquet") for n in outputs])
    assert both.num_rows == adult.num_rows + 50
    assert both.column_names == [*FEATURES, "income"]
    # the window's rows: their labels became income, the columns it lacks are null
    assert both.column("fnlwgt").null_count == adult.column("fnlwgt").null_count + 50
    assert both.column("income").null_count == 0
