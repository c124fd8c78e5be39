"""What pipeline step authors import: the step's context, its typed inputs and outputs.

A step is a plain function ``fn(ctx: StepContext, **arguments) -> dict[str, value]``. Its
arguments arrive as ``DatasetInput`` (a parquet file placed in the work directory),
``ModelInput`` (an artifact file; ``load()`` opens it through Steward's safe loaders), a
``dict[str, float]`` for metrics, and JSON values for parameters. It returns one value per
declared output: a dataset as the ``Path`` of a parquet file it wrote under ``ctx.workdir`` (or
a ``DatasetOutput``), a model as a ``ModelOutput``, metrics as ``dict[str, float]``, a parameter
as a JSON value. Every path it returns must lie inside ``ctx.workdir``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from lineage.schemas import Signature

if TYPE_CHECKING:
    import pyarrow as pa

    from retrain.artifacts.formats import LoadedModel


@dataclass(frozen=True, kw_only=True, slots=True)
class StepContext:
    """Where a step runs and how it logs."""

    workdir: Path
    run_id: UUID
    step: str
    log: logging.Logger


@dataclass(frozen=True, kw_only=True, slots=True)
class DatasetInput:
    """A dataset version, as a parquet file in the step's work directory."""

    path: Path
    name: str = ""
    version: str = ""
    digest: str = ""

    def read(self) -> pa.Table:
        """The dataset's rows."""
        import pyarrow.parquet as pq

        return pq.read_table(self.path)


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelInput:
    """A model version's artifact file, its flavour and signature."""

    path: Path
    flavor: str
    signature: dict[str, Any]
    name: str = ""
    version: int = 0
    trusted: tuple[str, ...] = ()  # skops types Steward trusts beyond skops' own

    def load(self, *, trusted: Sequence[str] = ()) -> LoadedModel:
        """The model, ready to predict tables (never unpickles: retrain.artifacts.formats)."""
        from retrain.artifacts.formats import flavor_of, load_model

        signature = Signature.model_validate(self.signature)
        allowed = (*self.trusted, *trusted)
        return load_model(self.path, flavor_of(self.flavor), signature, trusted=allowed)


@dataclass(frozen=True, kw_only=True, slots=True)
class DatasetOutput:
    """A parquet file the step wrote under its work directory."""

    path: Path


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelOutput:
    """A model artifact the step wrote under its work directory, with what it takes and returns."""

    path: Path
    flavor: str
    signature: Signature | dict[str, Any]
