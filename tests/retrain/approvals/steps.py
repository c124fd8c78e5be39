"""The step the closed-loop test runs: train a classifier the gate can judge (it names classes)."""

from __future__ import annotations

from typing import Any

from lineage.schemas import ColumnSpec, ColumnType, Signature, TaskType
from retrain.step import DatasetInput, ModelOutput, StepContext

FEATURES = ("x1", "x2")
CLASSES = ["no", "yes"]


def signature() -> Signature:
    """Two float features in, 'no' or 'yes' out, with probabilities."""
    return Signature(
        inputs=[ColumnSpec(name=f, type=ColumnType.float) for f in FEATURES],
        outputs=[ColumnSpec(name="prediction", type=ColumnType.str)],
        task=TaskType.binary, probabilities=True, classes=CLASSES,
    )  # fmt: skip


def train(ctx: StepContext, data: DatasetInput, rows: int) -> dict[str, Any]:
    """Fit a logistic regression on the first ``rows`` rows and save it with skops."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    table = data.read().slice(0, rows)
    model = LogisticRegression().fit(
        table.select(list(FEATURES)).to_pandas(), table.column("label").to_pylist()
    )
    path = ctx.workdir / "model.skops"
    sio.dump(model, path)
    return {"model": ModelOutput(path=path, flavor="sklearn", signature=signature())}
