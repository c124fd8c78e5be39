"""Validation of OpenLineage events against the shipped 2-0-2 JSON schema, plus Steward's limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any
from uuid import UUID

from governance.core.clock import to_utc
from governance.core.errors import InvalidInput
from lineage.schemas import MAX_FACETS_BYTES

SPEC_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
MAX_NAME = 1024
MAX_NAMESPACE = 512
_LIMITS = {"namespace": MAX_NAMESPACE, "name": MAX_NAME}


def load_spec() -> dict[str, Any]:
    """The shipped OpenLineage JSON schema."""
    text = resources.files("lineage").joinpath("spec/OpenLineage.json").read_text("utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "t" not in value.lower():
        return False
    try:
        to_utc(datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        return False
    return True


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        UUID(value)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4)
def _validator(definition: str) -> Any:
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource

    spec = load_spec()
    registry: Registry[Any] = Registry().with_resource(SPEC_ID, Resource.from_contents(spec))
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_datetime)
    checker.checks("uuid")(_is_uuid)
    schema = {"$ref": f"{SPEC_ID}#/$defs/{definition}"}
    return Draft202012Validator(schema, registry=registry, format_checker=checker)


def event_kind(payload: object) -> str:
    """RunEvent, JobEvent or DatasetEvent, told apart by their required parts."""
    if isinstance(payload, dict):
        if "run" in payload:
            return "RunEvent"
        if "dataset" in payload:
            return "DatasetEvent"
        if "job" in payload:
            return "JobEvent"
    return "RunEvent"


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: Any) -> tuple[str, str]:
    where = _where(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        if missing:
            field = f"{where}.{missing[0]}" if where else str(missing[0])
            return field, "is required"
    if error.validator == "format":
        return where, f"is not a valid {error.validator_value}"
    if error.validator == "enum":
        return where, f"must be one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "type":
        return where, f"must be of type {error.validator_value}"
    return where, error.message[:200]


def validate_event(payload: object) -> str:
    """Check an event against the spec and Steward's limits; returns its kind or raises 422."""
    kind = event_kind(payload)
    errors = sorted(_validator(kind).iter_errors(payload), key=lambda e: list(e.absolute_path))
    problems = [_describe(e) for e in errors]
    if not problems:
        assert isinstance(payload, dict)
        problems = list(_limits(payload))
    if problems:
        field, message = problems[0]
        raise InvalidInput(
            f"{field or 'event'}: {message}",
            field=field,
            errors=[{"loc": f.split("."), "msg": m} for f, m in problems[:20]],
        )
    return kind


def _facet_bags(event: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for part in ("run", "job", "dataset"):
        if isinstance(event.get(part), dict):
            yield f"{part}.facets", event[part].get("facets")
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for i, ds in enumerate(event.get(side) or []):
            yield f"{side}[{i}].facets", ds.get("facets")
            yield f"{side}[{i}].{extra}", ds.get(extra)


def _datasets(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(event.get("job"), dict):
        yield "job", event["job"]
    if isinstance(event.get("dataset"), dict):
        yield "dataset", event["dataset"]
    for side in ("inputs", "outputs"):
        for i, ds in enumerate(event.get(side) or []):
            yield f"{side}[{i}]", ds


def _limits(event: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for where, bag in _facet_bags(event):
        for name, facet in (bag or {}).items():
            size = len(json.dumps(facet, separators=(",", ":")))
            if size > MAX_FACETS_BYTES:
                yield f"{where}.{name}", f"facet is {size} bytes, more than {MAX_FACETS_BYTES}"
    for where, obj in _datasets(event):
        for key, limit in _LIMITS.items():
            if len(obj.get(key, "")) > limit:
                yield f"{where}.{key}", f"is longer than {limit} characters"
            elif not obj.get(key, "x").strip():
                yield f"{where}.{key}", "must not be empty"
    yield from _column_lineage(event)


def _column_lineage(event: dict[str, Any]) -> Iterator[tuple[str, str]]:
    # The facet is interpreted (it becomes column edges), so its shape is checked here.
    for i, ds in enumerate(event.get("outputs") or []):
        facet = (ds.get("facets") or {}).get("columnLineage")
        if facet is None:
            continue
        where = f"outputs[{i}].facets.columnLineage.fields"
        fields = facet.get("fields")
        if not isinstance(fields, dict):
            yield where, "must be an object"
            continue
        for out, spec in fields.items():
            inputs = spec.get("inputFields") if isinstance(spec, dict) else None
            if not isinstance(inputs, list) or not all(_input_field(f) for f in inputs):
                yield f"{where}.{out}.inputFields", "must list {namespace, name, field} objects"


def _input_field(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(value.get(k), str) and value.get(k) for k in ("namespace", "name", "field")
    )
