"""Labels are compared as the signature's classes; mismatched models are refused with a reason."""

from __future__ import annotations

import numpy as np

from lineage.schemas import ColumnSpec, ColumnType, Signature, TaskType
from retrain.gate.judge import Task, encode_labels, task_of
from retrain.gate.schemas import GateSpec


def _signature(task: TaskType, classes: list[str] | None) -> Signature:
    return Signature(inputs=[ColumnSpec(name="x", type=ColumnType.float)], task=task,
                     classes=classes)  # fmt: skip


def test_labels_become_the_signatures_classes() -> None:
    task = task_of(_signature(TaskType.binary, ["0", "1"]), None, GateSpec())
    assert task == Task(kind=TaskType.binary, classes=("0", "1"), positive="1")
    assert encode_labels(task, [1, 0.0, "1", False]).tolist() == [1, 0, 1, 0]  # type: ignore[union-attr]
    flags = task_of(_signature(TaskType.binary, ["false", "true"]), None, GateSpec())
    assert isinstance(flags, Task)
    assert encode_labels(flags, [True, False, "true"]).tolist() == [1, 0, 1]  # type: ignore[union-attr]
    assert encode_labels(task, ["1", "yes"]) == (
        "1 labels are not among the signature's classes ['0', '1'] (e.g. 'yes')"
    )
    regression = task_of(_signature(TaskType.regression, None), None, GateSpec())
    assert isinstance(regression, Task)
    assert np.array_equal(encode_labels(regression, [1, "2.5"]), [1.0, 2.5])  # type: ignore[arg-type]
    assert encode_labels(regression, ["high"]) == "the labels are not numbers"


def test_models_that_predict_different_things_are_not_compared() -> None:
    binary = _signature(TaskType.binary, ["no", "yes"])
    other = _signature(TaskType.binary, ["no", "maybe"])
    assert "different tasks or classes" in str(task_of(binary, other, GateSpec()))
    wrong = GateSpec(positive_class="perhaps")
    assert "positive class 'perhaps'" in str(task_of(binary, None, wrong))
    assert "neither" in str(task_of(_signature(TaskType.other, None), None, GateSpec()))
