"""The child's JSON <-> step objects conversion, and its checks of the function's name."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from lineage.schemas import ColumnSpec, ColumnType, Signature
from retrain.runners.base import StepStatus
from retrain.runners.child import StepError, function_allowed, split_function
from retrain.runners.local import LocalRunner
from tests.retrain.runners.conftest import run, task

SIGNATURE = Signature(inputs=[ColumnSpec(name="x", type=ColumnType.float)])


def test_arguments_arrive_as_objects_and_outputs_leave_as_tagged_json(tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "models"
    (work / "inputs").mkdir(parents=True)
    elsewhere.mkdir()
    (work / "inputs" / "data.parquet").write_bytes(b"PAR1 rows")
    (elsewhere / "model.pt").write_bytes(b"weights")
    run_id = uuid.uuid4()
    arguments = {
        "data": {"kind": "dataset", "path": "inputs/data.parquet", "name": "adult",
                 "version": "3", "digest": "abc"},
        "model": {"kind": "model", "path": str(elsewhere / "model.pt"), "flavor": "torchscript",
                  "signature": SIGNATURE.model_dump(mode="json"), "name": "income", "version": 2},
        "scores": {"kind": "metrics", "values": {"auc": 0.9}},
        "epochs": {"kind": "parameter", "value": 3},
        "literal": [1, 2],
    }  # fmt: skip
    outputs = {"seen": "parameter", "copy": "dataset", "model": "model", "metrics": "metrics"}
    step = task(work, "runner_steps:describe", arguments, outputs, run_id=run_id)
    outcome, lines = run(LocalRunner(), step)
    assert outcome.status is StepStatus.succeeded, (outcome.error, lines)
    assert outcome.outputs == {
        "seen": {"kind": "parameter", "value": {
            "cwd": True,
            "data": ["DatasetInput", "adult", "3", "abc"],
            "model": ["ModelInput", "torchscript", "income", 2],
            "scores": {"auc": 0.9},
            "epochs": 3,
            "literal": [1, 2],
            "step": "describe",
            "run": str(run_id),
        }},
        "copy": {"kind": "dataset", "path": "out/copy.parquet"},
        "model": {"kind": "model", "path": "model.bin", "flavor": "torchscript",
                  "signature": SIGNATURE.model_dump(mode="json")},
        "metrics": {"kind": "metrics", "values": {"a": 1.0, "b": 0.5}},
    }  # fmt: skip
    assert (work / "out" / "copy.parquet").read_bytes() == b"PAR1 rows"


@pytest.mark.parametrize(
    ("function", "allowed", "expected"),
    [
        ("adult_pipeline.steps:train", ("adult_pipeline",), True),
        ("adult_pipeline:train", ("adult_pipeline",), True),
        ("adult_pipeline_evil.steps:train", ("adult_pipeline",), False),
        ("adult.steps:train", ("adult_pipeline",), False),
        ("adult_pipeline.steps:train", ("",), False),
        ("adult_pipeline.steps:train", (), False),
        ("adult_pipeline..steps:train", ("adult_pipeline",), False),
        ("adult_pipeline.steps:train:x", ("adult_pipeline",), False),
        ("adult_pipeline.steps", ("adult_pipeline",), False),
    ],
)
def test_function_allowed(function: str, allowed: tuple[str, ...], expected: bool) -> None:
    assert function_allowed(function, allowed) is expected


def test_a_malformed_function_is_refused() -> None:
    assert split_function("a.b:c") == ("a.b", "c")
    with pytest.raises(StepError):
        split_function("../evil:c")
