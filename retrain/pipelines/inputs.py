"""Resolving a run's inputs at launch: every name becomes a concrete, content-identified version.

A dataset or model input names a registered version of the launching project (``name`` for the
newest, ``name@version``, or the resolved mapping a run stores, so that a rerun with the stored
inputs reads the same bytes); an endpoint window is materialised once, at launch, into a
registered dataset version. Names are looked up in the project only: another project's data is
never found, let alone read.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import InvalidInput
from governance.core.principal import Principal
from governance.core.settings import Settings
from lineage import service as lineage
from retrain.pipelines.spec import InputKind, InputSpec, PipelineSpec

PARQUET = "application/vnd.apache.parquet"


def resolve_inputs(
    db: Database,
    *,
    settings: Settings,
    project: str,
    spec: PipelineSpec,
    given: Mapping[str, Any] | None,
    actor: Principal,
    clock: Clock,
) -> dict[str, Any]:
    """Each input of ``spec`` as a concrete version or value (``given`` overrides defaults)."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(spec.inputs))
    if unknown:
        raise InvalidInput(f"the pipeline has no input {unknown[0]!r}", code="unknown_input")
    resolved: dict[str, Any] = {}
    for name, item in spec.inputs.items():
        value = given.get(name, item.default)
        resolved[name] = _resolve(db, settings, project, name, item, value, actor, clock)
    return resolved


def _resolve(
    db: Database, settings: Settings, project: str, name: str, item: InputSpec, value: Any,
    actor: Principal, clock: Clock,
) -> dict[str, Any]:  # fmt: skip
    if item.kind is InputKind.parameter:
        if isinstance(value, dict) and value.get("kind") == "parameter" and "value" in value:
            value = value["value"]  # a stored run's inputs, launched again
        return {"kind": "parameter", "value": value}
    if item.kind is InputKind.endpoint_window and not isinstance(value, dict | str):
        return _window(db, settings, project, item, actor, clock)
    if value is None:
        raise InvalidInput(f"input {name!r} needs a value", code="missing_input")
    if item.kind is InputKind.model:
        model, version = _named(name, value, "model")
        found = lineage.get_model_version(
            db, project=project, model=model, version=None if version is None else _int(version)
        )
        return {"kind": "model", "model": found.model, "version": found.version,
                "sha256": found.sha256}  # fmt: skip
    dataset, version = _named(name, value, "dataset")
    ds = lineage.get_dataset_version(db, project=project, name=dataset, version=version)
    return {"kind": "dataset", "dataset": ds.name, "version": ds.version, "sha256": ds.sha256}


def _named(name: str, value: Any, key: str) -> tuple[str, str | None]:
    """``(name, version)`` from ``"name"``, ``"name@version"`` or a stored mapping."""
    if isinstance(value, dict) and isinstance(value.get(key), str):
        version = value.get("version")
        return value[key], None if version is None else str(version)
    if isinstance(value, str) and value:
        base, at, version = value.rpartition("@")
        return (base, version) if at and base else (value, None)
    raise InvalidInput(
        f"input {name!r} must be '{key}' or '{key}@version'", code="invalid_input_value"
    )


def _int(version: str) -> int:
    try:
        return int(version)
    except ValueError:
        raise InvalidInput("a model version is a number", code="invalid_input_value") from None


def _window(
    db: Database, settings: Settings, project: str, item: InputSpec, actor: Principal,
    clock: Clock,
) -> dict[str, Any]:  # fmt: skip
    """Materialise the endpoint's latest labelled window as a registered dataset version."""
    import pyarrow.parquet as pq

    from retrain.windows import latest_labelled_window

    assert item.endpoint is not None  # validate_spec refuses a window without an endpoint
    window = latest_labelled_window(
        settings, project=project, endpoint=item.endpoint, clock=clock,
        span=timedelta(days=item.days), min_rows=item.min_rows,
    )  # fmt: skip
    buffer = io.BytesIO()
    pq.write_table(window.table, buffer)
    version = lineage.upload_dataset_version(
        db, project=project, name=f"{item.endpoint}.window", chunks=[buffer.getvalue()],
        media_type=PARQUET, roots=settings.dataset_roots, actor=actor, clock=clock,
        description=f"labelled rows of endpoint {item.endpoint} for a pipeline run",
    )  # fmt: skip
    return {
        "kind": "dataset", "dataset": version.name, "version": version.version,
        "sha256": version.sha256, "endpoint": item.endpoint,
        "start": window.start.isoformat(), "end": window.end.isoformat(),
    }  # fmt: skip
