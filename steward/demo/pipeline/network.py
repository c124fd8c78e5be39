"""The torch network: preprocessing inside a TorchScript module, so raw columns score."""

from __future__ import annotations

import logging

import numpy as np
import torch


class Income(torch.nn.Module):
    """Log, standardise, the MLP, softmax: raw numeric columns in, class probabilities out."""

    def __init__(
        self, net: torch.nn.Module, logged: torch.Tensor, means: torch.Tensor, stds: torch.Tensor
    ) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("logged", logged)
        self.register_buffer("means", means)
        self.register_buffer("stds", stds)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities of each row of ``x`` ([rows, features] floats, NaN if missing)."""
        # buffers: torch types them Tensor | Module, and TorchScript refuses class annotations
        logged = torch.log1p(torch.clamp(x, min=0.0))
        x = torch.where(self.logged, logged, x)  # type: ignore[arg-type]
        x = torch.nan_to_num((x - self.means) / self.stds, nan=0.0)  # type: ignore[operator]
        return torch.softmax(self.net(x), dim=1)


def seed(value: int) -> None:
    """Seed torch's generator (initial weights, dropout) before a network is built."""
    torch.manual_seed(value)


def build(
    x: np.ndarray, logged: list[bool], *, hidden: int, classes: int
) -> torch.jit.ScriptModule:
    """A scripted, untrained network whose standardisation is learnt from ``x``."""
    mask = np.asarray(logged)
    shifted = np.where(mask, np.log1p(np.clip(x, 0, None)), x)
    means = torch.from_numpy(np.nanmean(shifted, axis=0).astype(np.float32))
    stds = torch.from_numpy((np.nanstd(shifted, axis=0) + 1e-6).astype(np.float32))
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, classes),
    )  # fmt: skip
    return torch.jit.script(Income(net, torch.from_numpy(mask), means, stds))


def fit(
    model: torch.jit.ScriptModule,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    seed: int,
    log: logging.Logger,
) -> torch.jit.ScriptModule:
    """Train with Adam on the CPU, seeded; log each epoch's mean loss."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # a tiny network: threads only add contention
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        total = 0.0
        order = torch.randperm(len(x), generator=generator)
        for batch in order.split(256):  # type: ignore[no-untyped-call]
            optimiser.zero_grad()
            probs = model(inputs[batch])
            loss = torch.nn.functional.nll_loss(torch.log(probs + 1e-9), labels[batch])
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            total += loss.item() * len(batch)
        log.info("epoch %d loss %.4f", epoch + 1, total / len(x))
    return model.eval()


def save(model: torch.jit.ScriptModule, path: str) -> None:
    """Write the TorchScript archive."""
    torch.jit.save(model, path)
