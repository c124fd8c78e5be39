"""A step's work directory: its inputs placed as files, its outputs checked and registered.

Arguments a runner receives (JSON): a dataset as ``{"kind": "dataset", "path", "name",
"version", "digest"}`` (a parquet file in the work directory), a model as ``{"kind": "model",
"path", "flavor", "signature", "name", "version"}`` (its verified artifact copied there), metrics
as ``{"kind": "metrics", "values"}``, parameters and literals as ``{"kind": "parameter",
"value"}`` (the tags ``retrain.runners.child`` reads). Outputs come back tagged the same way. A
returned path must resolve (``..`` collapsed, links followed) inside the work directory, or the
step fails: nothing outside it is read on a step's word.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import InvalidInput, StewardError
from governance.core.paths import confine
from governance.core.principal import Principal
from governance.core.settings import Settings
from lineage import service as lineage
from lineage.datafile import sha256_file
from lineage.schemas import ModelCreate, Signature
from lineage.storage import is_local_uri
from monitors.runs.adapters import read_dataset_version
from retrain.artifacts.formats import check_artifact, flavor_of
from retrain.artifacts.store import find_artifact, read_verified, save_artifact
from retrain.pipelines.spec import OutputKind, StepSpec, reference

PARQUET = "application/vnd.apache.parquet"
SUFFIX = {"sklearn": ".skops", "onnx": ".onnx", "torchscript": ".pt", "torch": ".pt"}
CHUNK = 1024 * 1024


class StepFailure(StewardError):
    """A step's inputs could not be placed or its outputs were refused."""

    code = "step_failed"


@dataclass(kw_only=True)
class Produced:
    """What a step's outputs became: run outputs by ``step.output``, and lineage handles."""

    outputs: dict[str, Any] = field(default_factory=dict)
    datasets: list[tuple[str, str]] = field(default_factory=list)  # (name, version)
    models: list[tuple[str, int]] = field(default_factory=list)  # (name, version)


@dataclass(frozen=True, kw_only=True, slots=True)
class StepScope:
    """Who and where: the run's project, the step, its work directory, the actor recording."""

    db: Database
    settings: Settings
    project: str
    pipeline: str
    run_id: UUID
    step: StepSpec
    workdir: Path
    actor: Principal
    clock: Clock


def place_arguments(
    scope: StepScope, *, inputs: Mapping[str, Any], outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """The step's arguments as JSON, its dataset and model inputs copied into the workdir."""
    folder = scope.workdir / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    arguments: dict[str, Any] = {}
    for arg, value in scope.step.inputs.items():
        ref = reference(value)
        if ref is None:
            arguments[arg] = {"kind": "parameter", "value": value}
            continue
        source = inputs[ref[1]] if ref[0] == "inputs" else outputs.get(f"{ref[1]}.{ref[2]}")
        if source is None:
            raise StepFailure(f"argument {arg!r}: {value} was not produced")
        arguments[arg] = _argument(scope, arg, source, folder)
    return arguments


def _argument(scope: StepScope, arg: str, source: Mapping[str, Any], folder: Path) -> Any:
    kind = source.get("kind")
    if kind == "dataset":
        path = _place_dataset(scope, source["dataset"], str(source["version"]), folder / arg)
        return {"kind": "dataset", "path": str(path), "name": source["dataset"],
                "version": str(source["version"]), "digest": source.get("sha256", "")}  # fmt: skip
    if kind == "model":
        return _place_model(scope, source["model"], int(source["version"]), folder / arg)
    if kind == "metrics":
        return {"kind": "metrics", "values": dict(source["values"])}
    return {"kind": "parameter", "value": source.get("value")}


def _place_dataset(scope: StepScope, name: str, version: str, stem: Path) -> Path:
    found = lineage.get_dataset_version(scope.db, project=scope.project, name=name, version=version)
    if not found.uri:
        raise StepFailure(f"dataset {name}@{version} is a record without stored content")
    import pyarrow.parquet as pq

    target = stem.with_suffix(".parquet")
    if not is_local_uri(found.uri):  # in the object store: read (confined to the project there)
        pq.write_table(read_dataset_version(found, settings=scope.settings), target)
        return target
    roots = scope.settings.dataset_roots
    source = confine(found.uri, roots=roots, project=scope.project)  # this project's data only
    if source.is_file() and source.suffix.lower() in (".parquet", ".pq"):
        shutil.copyfile(source, target)
        if sha256_file(target) != found.sha256:
            raise StepFailure(f"dataset {name}@{version} changed on disk since it was registered")
        return target
    pq.write_table(read_dataset_version(found, settings=scope.settings), target)
    return target


def _place_model(scope: StepScope, name: str, version: int, stem: Path) -> dict[str, Any]:
    root = scope.settings.artifact_dir
    assert root is not None  # Settings derives it from the home
    stored = find_artifact(scope.db, project=scope.project, model=name, version=version, root=root)
    target = stem.with_suffix(SUFFIX.get(stored.flavor.value, ".bin"))
    with target.open("wb") as fh:
        for chunk in read_verified(stored):  # the hash is checked before a byte is copied
            fh.write(chunk)
    return {"kind": "model", "path": str(target), "flavor": stored.flavor.value,
            "signature": stored.signature.model_dump(mode="json"), "name": name,
            "version": version}  # fmt: skip


def inside(workdir: Path, value: Any, what: str) -> Path:
    """The resolved path ``value`` names, refused unless it is a file inside ``workdir``."""
    if not isinstance(value, str | Path) or not str(value) or "\x00" in str(value):
        raise StepFailure(f"{what}: not a path")
    root = workdir.resolve()
    path = Path(value) if Path(value).is_absolute() else root / value
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise StepFailure(f"{what}: no such file in the step's work directory") from None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        raise StepFailure(f"{what}: the path is outside the step's work directory")
    return resolved


def collect_outputs(
    scope: StepScope, *, returned: Mapping[str, Any], lineage_run: UUID, training: list[UUID]
) -> Produced:
    """Check and register what the step returned, output by output."""
    declared = scope.step.outputs
    undeclared = sorted(set(returned) - set(declared))
    if undeclared:
        raise StepFailure(f"the step returned undeclared output {undeclared[0]!r}")
    produced = Produced()
    for name, out in declared.items():
        if name not in returned:
            raise StepFailure(f"the step did not return output {name!r}")
        value, what = returned[name], f"output {name!r}"
        key = f"{scope.step.name}.{name}"
        if out.kind is OutputKind.dataset:
            target = out.name or f"{scope.pipeline}.{key}"
            version = _register_dataset(scope, target, inside(scope.workdir, _path(value), what))
            produced.outputs[key] = {"kind": "dataset", "dataset": target, "version": version}
            produced.datasets.append((target, version))
        elif out.kind is OutputKind.model:
            assert out.name is not None  # validate_spec refuses a model output without a name
            number = _register_model(scope, out.name, value, what, lineage_run, training)
            produced.outputs[key] = {"kind": "model", "model": out.name, "version": number}
            produced.models.append((out.name, number))
        elif out.kind is OutputKind.metrics:
            values = _untag(value, "metrics", "values")
            produced.outputs[key] = {"kind": "metrics", "values": _metrics(values, what)}
        else:
            produced.outputs[key] = {"kind": "parameter", "value": _untag(value, "parameter")}
    return produced


def _untag(value: Any, kind: str, key: str = "value") -> Any:
    """The value of a tagged output (``{"kind": kind, key: value}``), else the value itself."""
    if isinstance(value, dict) and value.get("kind") == kind and key in value:
        return value[key]
    return value


def _path(value: Any) -> Any:
    return value.get("path") if isinstance(value, dict) else value


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _register_dataset(scope: StepScope, name: str, path: Path) -> str:
    found = lineage.upload_dataset_version(
        scope.db, project=scope.project, name=name, chunks=_chunks(path), media_type=PARQUET,
        roots=scope.settings.dataset_roots, actor=scope.actor, clock=scope.clock,
        description=f"output of pipeline {scope.pipeline} run {scope.run_id}",
    )  # fmt: skip
    return found.version


def _register_model(
    scope: StepScope, name: str, value: Any, what: str, lineage_run: UUID, training: list[UUID]
) -> int:
    if not isinstance(value, dict):
        raise StepFailure(f"{what}: a model output is a ModelOutput(path, flavor, signature)")
    path = inside(scope.workdir, value.get("path"), what)
    try:
        flavor = flavor_of(str(value.get("flavor")))
        signature = Signature.model_validate(value.get("signature"))
    except (InvalidInput, ValueError) as exc:
        raise StepFailure(f"{what}: {getattr(exc, 'detail', 'invalid signature')}") from None
    trusted = scope.settings.skops_trusted_types
    check_artifact(path, flavor, trusted=trusted)  # before registering: no version without bytes
    data = ModelCreate(
        sha256=sha256_file(path), flavor=flavor.value, signature=signature, run_id=lineage_run,
        training_data=training,
        tags={"pipeline": scope.pipeline, "pipeline_run": str(scope.run_id),
              "step": scope.step.name},
    )  # fmt: skip
    version = lineage.register_model_version(
        scope.db, project=scope.project, name=name, data=data, actor=scope.actor,
        clock=scope.clock,
    )  # fmt: skip
    root = scope.settings.artifact_dir
    assert root is not None
    save_artifact(
        scope.db, project=scope.project, model=name, version=version.version,
        chunks=_chunks(path), root=root, actor=scope.actor,
        max_bytes=scope.settings.artifact_max_bytes, trusted=trusted,
    )  # fmt: skip
    return version.version


def _metrics(value: Any, what: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise StepFailure(f"{what}: metrics are a mapping of names to numbers")
    metrics: dict[str, float] = {}
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise StepFailure(f"{what}: metric {key!r} is not a number")
        if not math.isfinite(number):
            raise StepFailure(f"{what}: metric {key!r} is not finite")
        metrics[str(key)] = float(number)
    return metrics


def failure_text(exc: BaseException) -> str:
    """One line saying why a step failed here (an unexpected error: its type, no paths or SQL)."""
    text = exc.detail if isinstance(exc, StewardError) else type(exc).__name__
    return text.splitlines()[0][:400] if text else type(exc).__name__
