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
FACETS_ID = (
    "https://raw.githubusercontent.com/steward-mlops/steward/main/lineage/spec/StewardFacets.json"
)
NODE_FACET = "steward"
"""Dataset, job and run facet naming the Steward node behind it (``StewardNodeFacet``)."""
EDGE_FACET = "steward_edge"
"""Input and output facet carrying when the edge to that dataset began (``StewardEdgeFacet``)."""
IO_FACET = "steward_io"
"""Run facet where Steward keeps a run's input and output facets; reserved, never accepted."""
MAX_NAME = 1024
MAX_NAMESPACE = 512
_LIMITS = {"namespace": MAX_NAMESPACE, "name": MAX_NAME}


def load_spec(name: str = "OpenLineage.json") -> dict[str, Any]:
    """A shipped JSON schema: the OpenLineage core spec, or Steward's custom facets."""
    text = resources.files("lineage").joinpath(f"spec/{name}").read_text("utf-8")
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

    registry: Registry[Any] = Registry().with_resources(
        [
            (SPEC_ID, Resource.from_contents(load_spec())),
            (FACETS_ID, Resource.from_contents(load_spec("StewardFacets.json"))),
        ]
    )
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_datetime)
    checker.checks("uuid")(_is_uuid)
    base = FACETS_ID if definition.startswith("Steward") else SPEC_ID
    schema = {"$ref": f"{base}#/$defs/{definition}"}
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
    yield from _steward_facets(event)
    yield from _parent(event)


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


def _facet_errors(where: str, facet: object, definition: str) -> Iterator[tuple[str, str]]:
    for error in sorted(
        _validator(definition).iter_errors(facet), key=lambda e: [str(p) for p in e.absolute_path]
    ):
        field, message = _describe(error)
        yield f"{where}.{field}".rstrip("."), message


def _steward_facets(event: dict[str, Any]) -> Iterator[tuple[str, str]]:
    # Steward's own facets are interpreted (they restore nodes, edges and deployments).
    for where, bag in _facet_bags(event):
        if not isinstance(bag, dict):
            continue
        if IO_FACET in bag:
            yield f"{where}.{IO_FACET}", "is reserved for Steward"
        if where.endswith(("inputFacets", "outputFacets")) and EDGE_FACET in bag:
            yield from _facet_errors(f"{where}.{EDGE_FACET}", bag[EDGE_FACET], "StewardEdgeFacet")
        if where.endswith(".facets") and NODE_FACET in bag:
            yield from _node_facet(where, bag[NODE_FACET])


def _node_facet(where: str, facet: object) -> Iterator[tuple[str, str]]:
    here = f"{where}.{NODE_FACET}"
    problems = list(_facet_errors(here, facet, "StewardNodeFacet"))
    yield from problems
    if problems or not isinstance(facet, dict):
        return
    part = where.split(".")[0].split("[")[0]
    wanted = {"run": {"run"}, "job": {"job"}}.get(part, set(_DATASET_KINDS))
    if facet["kind"] not in wanted:
        yield f"{here}.kind", f"must be one of {', '.join(sorted(wanted))} here"
    if facet.get("deployments") and facet["kind"] != "endpoint":
        yield f"{here}.deployments", "only an endpoint has deployments"


_DATASET_KINDS = ("dataset", "dataset_version", "model", "model_version", "endpoint")


def _parent(event: dict[str, Any]) -> Iterator[tuple[str, str]]:
    # ParentRunFacet: it becomes an edge, so its run id and job identity are checked here.
    run = event.get("run")
    facet = (run.get("facets") or {}).get("parent") if isinstance(run, dict) else None
    if facet is None:
        return
    where = "run.facets.parent"
    part = facet.get("run") if isinstance(facet, dict) else None
    run_id = part.get("runId") if isinstance(part, dict) else None
    if not isinstance(run_id, str) or not _is_uuid(run_id):
        yield f"{where}.run.runId", "must be a UUID"
    job = facet.get("job") if isinstance(facet, dict) else None
    for key, limit in _LIMITS.items():
        value = job.get(key) if isinstance(job, dict) else None
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            yield f"{where}.job.{key}", f"must be a non-empty string of at most {limit} characters"
