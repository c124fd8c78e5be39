"""A small torch MLP on Adult: preprocessing, seeded CPU training, safe save and load."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from governance.core.files import write_private_atomic
from steward.demo.data import CATEGORICAL, CLASSES, NUMERIC, POSITIVE, TARGET

MISSING = "__missing__"


@dataclass(frozen=True, kw_only=True, slots=True)
class Preprocess:
    """Standardisation of numeric columns and one-hot categories learnt from the reference."""

    means: dict[str, float]
    stds: dict[str, float]
    categories: dict[str, list[str]]

    @classmethod
    def fit(cls, table: pa.Table) -> Preprocess:
        """Learn the transform from training rows."""
        means, stds = {}, {}
        for name in NUMERIC:
            values = table.column(name).to_numpy(zero_copy_only=False).astype(float)
            means[name], stds[name] = float(np.nanmean(values)), float(np.nanstd(values) or 1.0)
        categories = {
            name: sorted(
                {str(v) if v is not None else MISSING for v in table.column(name).to_pylist()}
            )
            for name in CATEGORICAL
        }
        return cls(means=means, stds=stds, categories=categories)

    def matrix(self, table: pa.Table) -> np.ndarray:
        """The float32 design matrix of ``table``."""
        parts = []
        for name in NUMERIC:
            values = table.column(name).to_numpy(zero_copy_only=False).astype(float)
            values = np.nan_to_num((values - self.means[name]) / self.stds[name])
            parts.append(values[:, None])
        for name in CATEGORICAL:
            known = self.categories[name]
            column = pc.fill_null(table.column(name).cast(pa.string()), MISSING)
            codes = pc.index_in(column, value_set=pa.array(known)).to_numpy(zero_copy_only=False)
            codes = np.nan_to_num(codes.astype(float), nan=-1).astype(np.int64)
            onehot = np.zeros((table.num_rows, len(known) + 1), dtype=np.float32)
            onehot[np.arange(table.num_rows), codes] = 1.0  # -1: unseen, the dropped last slot
            parts.append(onehot[:, :-1])
        return np.hstack(parts).astype(np.float32)

    def to_json(self) -> str:
        """The transform as JSON (stored next to the weights)."""
        return json.dumps(
            {"means": self.means, "stds": self.stds, "categories": self.categories}, sort_keys=True
        )

    @classmethod
    def from_json(cls, text: str) -> Preprocess:
        """Read a stored transform."""
        data = json.loads(text)
        return cls(means=data["means"], stds=data["stds"], categories=data["categories"])


def _network(width: int) -> Any:
    import torch

    return torch.nn.Sequential(torch.nn.Linear(width, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))


@dataclass(kw_only=True)
class TrainedModel:
    """Weights, their transform, and held-out accuracy."""

    preprocess: Preprocess
    network: Any
    accuracy: float

    def predict(self, table: pa.Table) -> tuple[list[str], np.ndarray]:
        """Predicted labels and class probabilities (columns in ``CLASSES`` order)."""
        import torch

        with torch.no_grad():
            logits = self.network(torch.from_numpy(self.preprocess.matrix(table)))
            probs = torch.softmax(logits, dim=1).numpy().astype(float)
        return [CLASSES[int(i)] for i in probs.argmax(axis=1)], probs


def _labels(table: pa.Table) -> np.ndarray:
    return np.array([1 if v == POSITIVE else 0 for v in table.column(TARGET).to_pylist()])


def train(table: pa.Table, *, seed: int = 0, epochs: int = 5) -> TrainedModel:
    """Train on 80% of ``table`` (seeded, CPU) and measure accuracy on the rest."""
    import torch

    torch.set_num_threads(1)  # a tiny network: threads only add contention on small machines
    torch.manual_seed(seed)
    cut = int(table.num_rows * 0.8)
    fit, held = table.slice(0, cut), table.slice(cut)
    prep = Preprocess.fit(fit)
    x, y = torch.from_numpy(prep.matrix(fit)), torch.from_numpy(_labels(fit))
    net = _network(x.shape[1])
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(512):  # type: ignore[no-untyped-call]
            optimiser.zero_grad()
            loss_fn(net(x[batch]), y[batch]).backward()
            optimiser.step()
    net.eval()
    model = TrainedModel(preprocess=prep, network=net, accuracy=0.0)
    predicted, _ = model.predict(held)
    truth = [CLASSES[int(v)] for v in _labels(held)]
    model.accuracy = float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))
    return model


def save(model: TrainedModel, directory: Path) -> tuple[Path, str]:
    """Write ``model.pt`` (a state_dict) and ``preprocess.json``; return path and SHA-256."""
    import torch

    state = model.network.state_dict()
    weights = write_private_atomic(directory / "model.pt", lambda fh: torch.save(state, fh))
    write_private_atomic(directory / "preprocess.json", model.preprocess.to_json().encode())
    return weights, hashlib.sha256(weights.read_bytes()).hexdigest()


def load(directory: Path, *, accuracy: float = 0.0) -> TrainedModel:
    """Load saved weights without unpickling arbitrary objects (``weights_only=True``)."""
    import torch

    prep = Preprocess.from_json((directory / "preprocess.json").read_text(encoding="utf-8"))
    state = torch.load(directory / "model.pt", weights_only=True)
    net = _network(int(state["0.weight"].shape[1]))
    net.load_state_dict(state)
    net.eval()
    return TrainedModel(preprocess=prep, network=net, accuracy=accuracy)
