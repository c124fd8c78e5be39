"""The steps: prepare (split) -> train (a torch MLP saved as TorchScript) -> evaluate.

The model takes Adult's six numeric columns as they arrive at the ``income`` endpoint (raw
integers: the log and the standardisation are inside the TorchScript graph) and returns the
probabilities of ``<=50K`` and ``>50K``. Steward scores TorchScript with one float matrix of the
signature's inputs, so text columns cannot be model inputs; with the numeric columns alone the
network reaches about 0.82 accuracy on held-out rows. Sex and race are the signature's context:
each request carries them and capture keeps them for the fairness monitors, the model never
sees them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lineage.schemas import ColumnSpec, ColumnType, Signature, TaskType
from retrain.step import DatasetInput, ModelInput, ModelOutput, StepContext
from steward.demo.data import CLASSES, FEATURES, NUMERIC, POSITIVE, TARGET

LABEL = "label"  # what an endpoint's labelled window calls the target
LOGGED = ("capital-gain", "capital-loss")  # heavy-tailed: log1p before standardising
CONTEXT = ("sex", "race")  # captured for the fairness monitors, never model inputs


def prepare(
    ctx: StepContext,
    data: DatasetInput,
    recent: DatasetInput | None = None,
    test_share: float = 0.2,
    seed: int = 7,
    recent_weight: int = 1,
) -> dict[str, Path]:
    """Join the training data with recent labelled traffic, split it seeded into train/test.

    ``recent_weight`` repeats the recent rows of the train split that many times: the world
    they come from is the one the model will serve. The test split holds each row once.
    """
    table = _rows(data.read())
    old = table.num_rows
    if recent is not None:
        window = recent.read()
        if TARGET not in window.column_names and LABEL in window.column_names:
            names = [TARGET if c == LABEL else c for c in window.column_names]
            window = window.rename_columns(names)
        table = pa.concat_tables([table, _aligned(window, table.schema)])
        ctx.log.info("added %d labelled production rows", len(window))
    valid = np.asarray(pc.is_valid(table.column(TARGET)).to_numpy(zero_copy_only=False))
    order = np.random.default_rng(seed).permutation(np.flatnonzero(valid))
    cut = int(len(order) * (1.0 - test_share))
    chosen = order[:cut]
    if recent_weight > 1:
        chosen = np.concatenate([chosen, *[chosen[chosen >= old]] * (recent_weight - 1)])
    train, test = ctx.workdir / "train.parquet", ctx.workdir / "test.parquet"
    pq.write_table(table.take(chosen), train)
    pq.write_table(table.take(order[cut:]), test)
    ctx.log.info("train %d rows, test %d rows", len(chosen), len(order) - cut)
    return {"train": train, "test": test}


def train(
    ctx: StepContext,
    train: DatasetInput,
    epochs: int = 8,
    seed: int = 7,
    hidden: int = 64,
    max_rows: int | None = None,
) -> dict[str, ModelOutput]:
    """Fit the MLP on the CPU (seeded) and save it as TorchScript with its signature."""
    from steward.demo.pipeline import network

    table = train.read()
    if max_rows is not None:
        table = table.slice(0, max_rows)
    x, y = features(table), labels(table)
    logged = [name in LOGGED for name in NUMERIC]
    network.seed(seed)  # the initial weights too: the same inputs give the same model
    model = network.build(x, logged, hidden=hidden, classes=len(CLASSES))
    model = network.fit(model, x, y, epochs=epochs, seed=seed, log=ctx.log)
    path = ctx.workdir / "model.pt"
    network.save(model, str(path))
    return {"model": ModelOutput(path=path, flavor="torchscript", signature=signature())}


def evaluate(
    ctx: StepContext, model: ModelInput, test: DatasetInput
) -> dict[str, dict[str, float] | Path]:
    """Accuracy, ROC AUC and F1 (positive class ``>50K``) of the model on the test rows, and
    the test rows with the model's predictions (a monitor's reference: a model's answers on
    rows it never saw, like production's)."""
    table = test.read()
    prediction = model.load().predict(table)
    if prediction.probabilities is None:
        raise ValueError("the model returns no probabilities")
    classes = list(model.signature["classes"])
    metrics = scores(
        labels(table),
        np.asarray(prediction.predictions) == POSITIVE,
        prediction.probabilities[:, classes.index(POSITIVE)],
    )
    ctx.log.info("metrics %s", metrics)
    scored = table.append_column("prediction", pa.array(prediction.predictions)).append_column(
        "probabilities", pa.array(prediction.probabilities.tolist(), type=pa.list_(pa.float64()))
    )
    path = ctx.workdir / "scored.parquet"
    pq.write_table(scored, path)
    return {"metrics": metrics, "scored": path}


def _rows(table: pa.Table) -> pa.Table:
    return table.select([c for c in (*FEATURES, TARGET) if c in table.column_names])


def _aligned(window: pa.Table, schema: pa.Schema) -> pa.Table:
    """The window's rows in the training columns (a column the endpoint never saw is null)."""
    columns = [
        window.column(f.name).cast(f.type) if f.name in window.column_names
        else pa.nulls(len(window), f.type)
        for f in schema
    ]  # fmt: skip
    return pa.Table.from_arrays(columns, schema=schema)


def signature() -> Signature:
    """What the trained model takes and returns (the ``income`` endpoint's numeric columns)."""
    return Signature(
        inputs=[ColumnSpec(name=name, type=ColumnType.int) for name in NUMERIC],
        outputs=[ColumnSpec(name=TARGET, type=ColumnType.str)],
        task=TaskType.binary,
        probabilities=True,
        classes=list(CLASSES),
        context=[ColumnSpec(name=name, type=ColumnType.str) for name in CONTEXT],
    )


def features(table: pa.Table) -> np.ndarray:
    """The numeric inputs as float32, in signature order (nulls become NaN)."""
    columns = [table.column(n).cast(pa.float64()).to_numpy(zero_copy_only=False) for n in NUMERIC]
    return np.column_stack(columns).astype(np.float32)


def labels(table: pa.Table) -> np.ndarray:
    """1 where the target is the positive class."""
    return np.asarray(pc.equal(table.column(TARGET), POSITIVE).to_numpy(zero_copy_only=False))


def scores(truth: np.ndarray, predicted: np.ndarray, positive: np.ndarray) -> dict[str, float]:
    """Accuracy, F1 and ROC AUC (Mann-Whitney, ties averaged) of binary predictions."""
    truth, predicted = truth.astype(bool), predicted.astype(bool)
    hits = float(np.sum(truth & predicted))
    f1 = 2 * hits / max(float(truth.sum() + predicted.sum()), 1.0)
    _, where, counts = np.unique(positive, return_inverse=True, return_counts=True)
    ranks = np.empty(len(positive))
    ranks[np.argsort(positive, kind="stable")] = np.arange(1, len(positive) + 1)
    ranks = (np.bincount(where, weights=ranks) / counts)[where]
    pos, neg = int(truth.sum()), int((~truth).sum())
    auc = (ranks[truth].sum() - pos * (pos + 1) / 2) / max(pos * neg, 1)
    return {"accuracy": float(np.mean(truth == predicted)), "roc_auc": float(auc), "f1": f1}
