"""Model artifact formats: checked without running caller code, loaded without unpickling it.

Each flavour is read by a loader that cannot execute arbitrary Python from the bytes:
scikit-learn through skops (an explicit list of trusted types, beyond skops' own), ONNX through
onnxruntime, TorchScript through ``torch.jit.load`` (TorchScript code, not Python), and torch
state dicts through ``torch.load(weights_only=True)``. A plain pickle is never opened by any of
them: an upload that is not the declared format is refused before anything is loaded.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from governance.core.errors import InvalidInput
from lineage.schemas import ColumnType, Signature, TaskType


class Flavor(StrEnum):
    """Formats Steward stores and loads."""

    sklearn = "sklearn"  # a skops file (``skops.io.dump``)
    onnx = "onnx"
    torchscript = "torchscript"  # ``torch.jit.save`` of a scripted or traced module
    torch = "torch"  # a state dict: weights only, no architecture, so it cannot score


NUMERIC = frozenset({ColumnType.float, ColumnType.int, ColumnType.bool})


def flavor_of(name: str) -> Flavor:
    """The flavour a model version declares; refused when Steward cannot store it safely."""
    try:
        return Flavor(name)
    except ValueError:
        known = ", ".join(Flavor)
        raise InvalidInput(
            f"flavor {name!r} cannot be stored: Steward loads {known}", code="unsupported_flavor"
        ) from None


def check_artifact(path: Path, flavor: Flavor, *, trusted: Sequence[str] = ()) -> None:
    """Refuse ``path`` unless it is a well-formed artifact of ``flavor`` (InvalidInput)."""
    if flavor is Flavor.sklearn:
        _untrusted_refused(path, trusted)
    elif flavor is Flavor.onnx:
        _onnx_session(path)
    elif flavor is Flavor.torchscript:
        _torchscript(path)
    else:
        _state_dict(path)


def _not_a(flavor: str, reason: str) -> InvalidInput:
    return InvalidInput(f"the artifact is not a {flavor} file: {reason}", code="invalid_artifact")


def _untrusted_refused(path: Path, trusted: Sequence[str]) -> list[str]:
    """skops' own check of the types a file would build; every one must be trusted."""
    from skops.io import get_untrusted_types

    # a pickle is not a zip archive: refused here, before skops (or anything) reads it
    if not zipfile.is_zipfile(path):
        raise _not_a("skops", "not a zip archive (pickles are never loaded)")
    try:
        untrusted = list(get_untrusted_types(file=path))
    except Exception as exc:  # skops raises several types on a damaged schema
        raise _not_a("skops", type(exc).__name__) from exc
    refused = sorted(set(untrusted) - set(trusted))
    if refused:
        raise InvalidInput(
            "the skops file holds types Steward does not trust: "
            + ", ".join(refused[:20])
            + " (add them to STEWARD_SKOPS_TRUSTED_TYPES if they are safe)",
            code="untrusted_types",
            types=refused,
        )
    return untrusted


def _onnx_session(path: Path) -> Any:
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise _not_a("ONNX", type(exc).__name__) from exc


def _torchscript(path: Path) -> Any:
    import torch

    if not zipfile.is_zipfile(path):
        raise _not_a("TorchScript", "not a zip archive")
    try:
        return torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception as exc:  # torch raises RuntimeError and others on a bad archive
        raise _not_a("TorchScript", type(exc).__name__) from exc


def _state_dict(path: Path) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses anything but tensors and plain containers
        raise _not_a("torch state dict", type(exc).__name__) from exc
    if not isinstance(state, dict):
        raise _not_a("torch state dict", "it does not hold a mapping of tensors")
    return state


@dataclass(frozen=True, kw_only=True, slots=True)
class Prediction:
    """Predictions of a batch, and class probabilities (columns in the signature's class order)."""

    predictions: list[Any]
    probabilities: np.ndarray | None = None


class LoadedModel(Protocol):
    """A model ready to score tables of its signature's inputs."""

    def predict(self, table: pa.Table) -> Prediction:
        """Predict every row of ``table``."""
        ...


def load_model(
    path: Path, flavor: Flavor, signature: Signature, *, trusted: Sequence[str] = ()
) -> LoadedModel:
    """Load a stored artifact for scoring (checked again: the file may have been replaced)."""
    if flavor is Flavor.sklearn:
        from skops.io import load

        types = _untrusted_refused(path, trusted)
        return SklearnModel(load(path, trusted=types), signature)
    if flavor is Flavor.torch:
        raise InvalidInput(
            "a torch state dict holds weights, not the network: register the model as "
            "TorchScript or ONNX to score it",
            code="unsupported_flavor",
        )
    _numeric_inputs(signature, flavor)
    if flavor is Flavor.onnx:
        return OnnxModel(_onnx_session(path), signature)
    return TorchScriptModel(_torchscript(path), signature)


def _numeric_inputs(signature: Signature, flavor: Flavor) -> None:
    text = [c.name for c in signature.inputs if c.type not in NUMERIC]
    if text:
        raise InvalidInput(
            f"{flavor} models take numeric inputs: encode {', '.join(text[:10])} inside the "
            "model's graph, or register a scikit-learn pipeline",
            code="unsupported_signature",
        )


def _matrix(table: pa.Table, signature: Signature) -> np.ndarray:
    """The signature's inputs as a float32 matrix, in signature order (nulls become NaN)."""
    columns = [
        np.asarray(table.column(c.name).cast(pa.float64()).to_numpy(zero_copy_only=False))
        for c in signature.inputs
    ]
    return np.column_stack(columns).astype(np.float32)


def _from_scores(scores: np.ndarray, signature: Signature) -> Prediction:
    """Predictions from a model's raw output: class probabilities, or values (regression)."""
    if signature.task is TaskType.regression or not signature.classes:
        return Prediction(predictions=scores.reshape(len(scores), -1)[:, 0].tolist())
    probs = scores.reshape(len(scores), -1)
    if probs.shape[1] == 1:  # one column: the positive class's probability
        probs = np.column_stack([1.0 - probs[:, 0], probs[:, 0]])
    labels = [signature.classes[i] for i in probs.argmax(axis=1)]
    return Prediction(predictions=labels, probabilities=probs.astype(np.float64))


class SklearnModel:
    """A scikit-learn estimator or pipeline, fed a DataFrame of the signature's inputs."""

    def __init__(self, estimator: Any, signature: Signature) -> None:
        self.estimator, self.signature = estimator, signature

    def predict(self, table: pa.Table) -> Prediction:
        """``predict``, and ``predict_proba`` when the signature logs probabilities."""
        frame = table.select([c.name for c in self.signature.inputs]).to_pandas()
        predictions = self.estimator.predict(frame).tolist()
        if not self.signature.probabilities:
            return Prediction(predictions=predictions)
        return Prediction(
            predictions=predictions,
            probabilities=np.asarray(self.estimator.predict_proba(frame), dtype=np.float64),
        )


class OnnxModel:
    """An ONNX graph with one float input ``[rows, features]``; its last output is the scores."""

    def __init__(self, session: Any, signature: Signature) -> None:
        self.session, self.signature = session, signature
        self.input = session.get_inputs()[0].name
        self.output = session.get_outputs()[-1].name

    def predict(self, table: pa.Table) -> Prediction:
        """Run the graph on the signature's inputs."""
        (scores,) = self.session.run([self.output], {self.input: _matrix(table, self.signature)})
        return _from_scores(np.asarray(scores), self.signature)


class TorchScriptModel:
    """A TorchScript module taking ``[rows, features]`` floats, returning probabilities/values."""

    def __init__(self, module: Any, signature: Signature) -> None:
        self.module, self.signature = module.eval(), signature

    def predict(self, table: pa.Table) -> Prediction:
        """Run the module without gradients."""
        import torch

        with torch.no_grad():
            scores = self.module(torch.from_numpy(_matrix(table, self.signature)))
        return _from_scores(scores.numpy(), self.signature)
