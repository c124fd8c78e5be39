"""Where an endpoint's expected row schema comes from: the lineage graph's model signature."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol

from governance.core.db import Database
from governance.core.errors import InvalidState, NotFound
from monitors.capture.schemas import RESERVED, ColumnType, ExpectedSchema

_TYPES = {
    **dict.fromkeys(("float", "double", "float32", "float64", "number", "numeric"), "float"),
    **dict.fromkeys(("int", "integer", "long", "int32", "int64"), "integer"),
    **dict.fromkeys(("str", "string", "category", "categorical", "object"), "string"),
    **dict.fromkeys(("bool", "boolean"), "boolean"),
}


class EndpointSchemaSource(Protocol):
    """Resolves an endpoint to the schema its captured rows must follow.

    ``expected_schema`` raises ``NotFound`` for an unknown endpoint and ``InvalidState`` when the
    endpoint has no deployed model version with a signature.
    """

    def expected_schema(self, db: Database, *, project: str, endpoint: str) -> ExpectedSchema:
        """The schema of ``endpoint`` in ``project``."""
        ...


class StaticSchemaSource:
    """Schemas given up front (tests, benchmarks, imports without a lineage graph)."""

    def __init__(self, schemas: Mapping[tuple[str, str], ExpectedSchema]) -> None:
        self._schemas = dict(schemas)

    def expected_schema(self, db: Database, *, project: str, endpoint: str) -> ExpectedSchema:
        """The registered schema, or NotFound."""
        found = self._schemas.get((project, endpoint))
        if found is None:
            raise NotFound(f"endpoint {endpoint!r} not found")
        return found


class LineageSchemaSource:
    """Reads the deployed model version's signature through ``lineage.service``."""

    def expected_schema(self, db: Database, *, project: str, endpoint: str) -> ExpectedSchema:
        """The signature of the model version deployed at ``endpoint``."""
        lineage = importlib.import_module("lineage.service")
        found = lineage.get_endpoint(db, project=project, name=endpoint)
        signature = getattr(found, "signature", None)
        if not signature:
            raise InvalidState(f"endpoint {endpoint!r} has no deployed model with a signature")
        if not isinstance(signature, Mapping):
            signature = signature.model_dump() if hasattr(signature, "model_dump") else {}
        return schema_from_signature(signature)


def column_type(name: str) -> ColumnType:
    """Map a signature's type name (MLflow, pandas or Arrow spelling) to a column type."""
    found = _TYPES.get(name.strip().lower())
    if found is None:
        # The endpoint's signature, not the caller's batch, is what cannot be enforced.
        raise InvalidState(f"unsupported column type {name!r} in the endpoint's signature")
    return ColumnType(found)


def _columns(spec: Any) -> list[tuple[str, ColumnType]]:
    if isinstance(spec, Mapping):
        return [(str(k), column_type(str(v))) for k, v in spec.items()]
    return [(str(item["name"]), column_type(str(item.get("type", "float")))) for item in spec or []]


def _output_type(spec: Any) -> ColumnType:
    if isinstance(spec, str):
        return column_type(spec)
    if isinstance(spec, Mapping):
        return column_type(str(spec.get("type", "string")))
    if isinstance(spec, list) and spec:
        return _output_type(spec[0])
    return ColumnType.string


def schema_from_signature(signature: Mapping[str, Any]) -> ExpectedSchema:
    """Build an expected schema from a signature document.

    Accepts ``{"inputs": [{"name", "type"}] | {name: type}, "prediction": type | {"type"},
    "probabilities": [class, ...]}``; ``outputs`` is read as the prediction when that is absent.
    """
    features = _columns(signature.get("inputs", signature.get("features", [])))
    clash = sorted({name for name, _ in features} & RESERVED)
    if clash:
        raise InvalidState(f"signature uses reserved column names {clash}")
    prediction = _output_type(signature.get("prediction", signature.get("outputs")))
    classes = signature.get("probabilities") or signature.get("classes") or []
    if isinstance(classes, Mapping):
        classes = classes.get("classes", [])
    return ExpectedSchema(
        features=tuple(features),
        prediction=prediction,
        classes=tuple(str(c) for c in classes),
    )
