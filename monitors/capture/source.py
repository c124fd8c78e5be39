"""Where an endpoint's expected row schema comes from: the lineage graph's model signature."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState, NotFound
from lineage import service as lineage
from lineage.schemas import EndpointKind, Signature
from monitors.capture.schemas import PREDICTION, RESERVED, ColumnType, ExpectedSchema

_TYPES = {
    "float": ColumnType.float,
    "int": ColumnType.integer,
    "str": ColumnType.string,
    "bool": ColumnType.boolean,
    "datetime": ColumnType.datetime,
}


class EndpointSchemaSource(Protocol):
    """Resolves an endpoint to the schema its captured rows must follow.

    ``expected_schema`` raises ``NotFound`` for an unknown endpoint and ``InvalidState`` when the
    endpoint has no deployed model version (so no signature to check rows against).
    """

    def expected_schema(self, db: Database, *, project: str, endpoint: str) -> ExpectedSchema:
        """The schema of ``endpoint`` in ``project``."""
        ...


class StaticSchemaSource:
    """Schemas given up front (benchmarks, imports of logs without a lineage graph)."""

    def __init__(self, schemas: Mapping[tuple[str, str], ExpectedSchema]) -> None:
        self._schemas = dict(schemas)

    def expected_schema(self, db: Database, *, project: str, endpoint: str) -> ExpectedSchema:
        """The registered schema, or NotFound."""
        found = self._schemas.get((project, endpoint))
        if found is None:
            raise NotFound(f"endpoint {endpoint!r} not found")
        return found


class LineageSchemaSource:
    """The signature of the model version deployed at the endpoint, from ``lineage.service``.

    ``kinds`` gives the fixed schema of endpoint kinds that serve no model version (an LLM
    endpoint's trace records); an endpoint of a kind not given is refused with 422.
    """

    def __init__(self, *, kinds: Mapping[EndpointKind, ExpectedSchema] | None = None) -> None:
        self._kinds = dict(kinds or {})

    def expected_schema(self, db: Database, *, project: str, endpoint: str) -> ExpectedSchema:
        """The deployed version's signature (or the kind's fixed schema) as an expected schema."""
        found = lineage.get_endpoint(db, project=project, name=endpoint)
        if found.kind is not EndpointKind.model:
            fixed = self._kinds.get(found.kind)
            if fixed is None:
                raise InvalidInput(
                    f"endpoint {endpoint!r} is an {found.kind} endpoint: it takes traces "
                    "(POST /v1/traces), not scoring requests or inference rows",
                    code=f"{found.kind}_endpoint",
                )
            return fixed
        if found.signature is None:
            raise InvalidState(f"endpoint {endpoint!r} serves no model version yet")
        return schema_from_signature(found.signature)


def schema_from_signature(signature: Signature) -> ExpectedSchema:
    """Inputs become feature columns; the output named ``prediction`` (else the first) its type."""
    features = tuple((c.name, _TYPES[str(c.type)]) for c in signature.captured())
    clash = sorted({name for name, _ in features} & RESERVED)
    if clash:
        raise InvalidState(f"the signature's inputs use reserved column names {clash}")
    named = [c for c in signature.outputs if c.name == PREDICTION]
    output = (named or signature.outputs)[0]
    return ExpectedSchema(
        features=features,
        prediction=_TYPES[str(output.type)],
        probabilities=signature.probabilities,
        classes=tuple(signature.classes or ()),
    )
