"""Step functions the pipeline tests run (allowed by Settings.pipeline_modules)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lineage.schemas import ColumnSpec, ColumnType, Signature, TaskType
from retrain.step import DatasetInput, ModelInput, ModelOutput, StepContext

FEATURES = ("x1", "x2")


def prepare(ctx: StepContext, data: DatasetInput, fraction: float = 0.5) -> dict[str, Any]:
    """Split the rows into train and test parquet files."""
    table = data.read()
    cut = int(len(table) * fraction)
    print(f"prepare: {len(table)} rows from {data.name}@{data.version}")
    print(f"prepare: {cut} train rows")
    pq.write_table(table.slice(0, cut), ctx.workdir / "train.parquet")
    pq.write_table(table.slice(cut), ctx.workdir / "test.parquet")
    return {"train": ctx.workdir / "train.parquet", "test": Path("test.parquet")}


def train(ctx: StepContext, train: DatasetInput, seed: int, epochs: int = 1) -> dict[str, Any]:
    """Fit a logistic regression on x1, x2 and save it with skops."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    table = train.read()
    frame = table.select(list(FEATURES)).to_pandas()
    model = LogisticRegression(random_state=seed, max_iter=100 * epochs)
    model.fit(frame, table.column("label").to_pylist())
    path = ctx.workdir / "model.skops"
    sio.dump(model, path)
    signature = Signature(
        inputs=[ColumnSpec(name=f, type=ColumnType.float) for f in FEATURES],
        outputs=[ColumnSpec(name="prediction", type=ColumnType.int)],
        task=TaskType.binary,
    )
    return {"model": ModelOutput(path=path, flavor="sklearn", signature=signature)}


def evaluate(ctx: StepContext, model: ModelInput, test: DatasetInput) -> dict[str, Any]:
    """Accuracy of the model on the test rows."""
    table = test.read()
    predicted = model.load().predict(table).predictions
    labels = table.column("label").to_pylist()
    accuracy = sum(int(p == y) for p, y in zip(predicted, labels, strict=True)) / len(labels)
    print(f"evaluate: accuracy {accuracy:.3f}")
    return {"metrics": {"accuracy": accuracy, "rows": float(len(labels))}}


def explode(ctx: StepContext, data: DatasetInput) -> dict[str, Any]:
    """Fail the way bad data does."""
    print("explode: about to fail")
    raise ValueError("the label column is empty")


def escape(ctx: StepContext, how: str) -> dict[str, Any]:
    """Return a path that leads out of the work directory."""
    outside = ctx.workdir.parent.parent / "outside.parquet"
    pq.write_table(pa.table({"x": [1]}), outside)
    if how == "absolute":
        return {"out": outside}
    if how == "dotdot":
        return {"out": Path("..") / ".." / "outside.parquet"}
    link = ctx.workdir / "link.parquet"
    os.symlink(outside, link)
    return {"out": link}


def wait(ctx: StepContext, seconds: float) -> dict[str, Any]:
    """Sleep (a step to cancel)."""
    print("wait: started", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)
    return {}
