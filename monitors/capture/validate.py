"""Turn a posted body (JSON, Arrow IPC stream or Parquet) into a checked Arrow table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import TypeAdapter, ValidationError

from governance.core.errors import InvalidInput
from monitors.capture.schemas import (
    CORRELATION_ID,
    LABEL,
    PREDICTION,
    PROBABILITIES,
    RECEIVED_AT,
    TIMESTAMP,
    ColumnType,
    ExpectedSchema,
    InferenceBatch,
    LabelBatch,
    error,
)

JSON = "application/json"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
PARQUET = "application/x-parquet"
MEDIA_TYPES = (JSON, ARROW_STREAM, PARQUET)
MAX_ERRORS = 50

_INFERENCES = TypeAdapter(InferenceBatch)
_LABELS = TypeAdapter(LabelBatch)
_UTC_US = pa.timestamp("us", tz="UTC")


class Problems:
    """Collects the reasons a batch is refused; raises them all at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, loc: list[Any], msg: str) -> None:
        """Note one reason (beyond the cap only the count grows)."""
        self.items.append(error(loc, msg))

    def raise_if_any(self, what: str) -> None:
        """Refuse the whole batch with every reason found."""
        if self.items:
            shown = self.items[:MAX_ERRORS]
            detail = f"{what} refused: {len(self.items)} problem(s); first: {shown[0]['msg']}"
            raise InvalidInput(detail, errors=shown)


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header; JSON when absent."""
    value = (content_type or JSON).split(";", 1)[0].strip().lower()
    if value not in MEDIA_TYPES:
        raise InvalidInput(f"unsupported content type {value!r}; use one of {list(MEDIA_TYPES)}")
    return value


def read_bulk(body: bytes, media: str) -> pa.Table:
    """Decode an Arrow IPC stream or a Parquet file."""
    try:
        if media == ARROW_STREAM:
            return pa.ipc.open_stream(pa.BufferReader(body)).read_all()
        return pq.read_table(pa.BufferReader(body))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidInput(f"body is not a valid {media} document") from exc


def _pydantic_problems(exc: ValidationError, problems: Problems) -> None:
    for err in exc.errors()[:MAX_ERRORS]:
        problems.add(list(err.get("loc", ())), str(err.get("msg", "invalid")))


def _fits(value: Any, kind: ColumnType) -> bool:
    if value is None:
        return True
    if kind is ColumnType.float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is ColumnType.integer:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in (ColumnType.string, ColumnType.datetime):
        return isinstance(value, str)
    return isinstance(value, bool)


def _column(
    values: list[Any], kind: ColumnType, name: str, problems: Problems, loc: str
) -> pa.Array:
    bad = [i for i, v in enumerate(values) if not _fits(v, kind)]
    for i in bad[:MAX_ERRORS]:
        problems.add([loc, i, name], f"{name}: expected {kind}, got {type(values[i]).__name__}")
    if bad:
        return pa.nulls(len(values), kind.arrow)
    if kind is ColumnType.datetime:
        return _timestamps(values, name, problems, loc)
    return pa.array(values, type=kind.arrow)


def _timestamps(values: list[Any], name: str, problems: Problems, loc: str) -> pa.Array:
    try:
        parsed = pc.cast(pa.array(values, pa.string()), pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        problems.add([loc, name], f"{name}: expected ISO-8601 date-times")
        return pa.nulls(len(values), _UTC_US)
    return pc.assume_timezone(parsed, "UTC")


def _unknown_features(batch: InferenceBatch, schema: ExpectedSchema, problems: Problems) -> None:
    if schema.allow_extra:
        return
    known = set(schema.feature_names)
    for i, record in enumerate(batch.records):
        extra = sorted(set(record.features) - known)
        if extra:
            problems.add(["records", i, "features"], f"unknown features {extra}")


def _probability_row(given: list[float] | dict[str, float], classes: list[str]) -> str | None:
    if isinstance(given, dict):
        return None if classes and sorted(given) == sorted(classes) else f"keys must be {classes}"
    if classes and len(given) != len(classes):
        return f"expected {len(classes)} probabilities"
    return None


def _probabilities(batch: InferenceBatch, schema: ExpectedSchema, problems: Problems) -> pa.Array:
    classes = list(schema.classes)
    out: list[list[float] | None] = []
    for i, record in enumerate(batch.records):
        given = record.probabilities
        reason = None if given is None else _probability_row(given, classes)
        if reason is not None:
            problems.add(["records", i, PROBABILITIES], reason)
        if isinstance(given, dict):
            out.append([given.get(c, 0.0) for c in classes])
        else:
            out.append(None if given is None else list(given))
    return pa.array(out, type=pa.list_(pa.float64()))


def inferences_from_json(body: bytes, schema: ExpectedSchema, *, now: datetime) -> pa.Table:
    """Validate a JSON inference batch and lay it out as the stored table."""
    problems = Problems()
    try:
        batch = _INFERENCES.validate_json(body)
    except ValidationError as exc:
        _pydantic_problems(exc, problems)
        problems.raise_if_any("batch")
        raise
    records = batch.records
    _unknown_features(batch, schema, problems)
    columns: dict[str, pa.Array] = {
        CORRELATION_ID: pa.array([r.correlation_id for r in records], type=pa.string()),
        TIMESTAMP: pa.array([r.timestamp or now for r in records], type=_UTC_US),
    }
    for name, kind in schema.features:
        values = [r.features.get(name) for r in records]
        columns[name] = _column(values, kind, name, problems, "records")
    predictions = [r.prediction for r in records]
    columns[PREDICTION] = _column(predictions, schema.prediction, PREDICTION, problems, "records")
    if schema.probabilities:
        columns[PROBABILITIES] = _probabilities(batch, schema, problems)
    elif any(r.probabilities is not None for r in records):
        problems.add(["records"], "the endpoint's model returns no probabilities")
    table = pa.table(columns)
    _check_keys(table, problems)
    problems.raise_if_any("batch")
    return table.cast(schema.inference_arrow())


def labels_from_json(body: bytes, schema: ExpectedSchema, *, now: datetime) -> pa.Table:
    """Validate a JSON label batch and lay it out as the stored table."""
    problems = Problems()
    try:
        batch = _LABELS.validate_json(body)
    except ValidationError as exc:
        _pydantic_problems(exc, problems)
        problems.raise_if_any("labels")
        raise
    labels = [item.label for item in batch.labels]
    columns = {
        CORRELATION_ID: pa.array([item.correlation_id for item in batch.labels], pa.string()),
        LABEL: _column(labels, schema.prediction, LABEL, problems, "labels"),
        RECEIVED_AT: pa.array([now] * len(labels), type=_UTC_US),
    }
    table = pa.table(columns)
    _check_keys(table, problems)
    problems.raise_if_any("labels")
    return table.cast(schema.label_arrow())


def _check_keys(table: pa.Table, problems: Problems) -> None:
    ids = table.column(CORRELATION_ID)
    if ids.null_count:
        problems.add([CORRELATION_ID], f"{ids.null_count} row(s) without a correlation id")
    if len(ids) and pc.count_distinct(ids).as_py() != len(ids):
        counts = pc.value_counts(ids)
        dup = [v["values"] for v in counts.to_pylist() if v["counts"] > 1][:5]
        problems.add([CORRELATION_ID], f"correlation ids repeated within the batch, e.g. {dup}")


def _cast(table: pa.Table, target: pa.Schema, problems: Problems) -> Iterator[pa.ChunkedArray]:
    for field in target:
        column = table.column(field.name)
        if pa.types.is_timestamp(column.type) and column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        try:
            yield column.cast(field.type, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            problems.add([field.name], f"{field.name}: cannot store {column.type} as {field.type}")
            yield pa.nulls(len(table), field.type)


def _conform(table: pa.Table, target: pa.Schema, *, extra_ok: bool, what: str) -> pa.Table:
    problems = Problems()
    names = set(table.column_names)
    missing = [f.name for f in target if f.name not in names]
    for name in missing:
        problems.add([name], f"missing column {name!r}")
    extra = sorted(names - set(target.names))
    if extra and not extra_ok:
        problems.add(["columns"], f"unknown columns {extra}")
    problems.raise_if_any(what)
    conformed = pa.Table.from_arrays(list(_cast(table, target, problems)), schema=target)
    _check_keys(conformed, problems)
    problems.raise_if_any(what)
    return conformed


def inferences_from_table(table: pa.Table, schema: ExpectedSchema, *, now: datetime) -> pa.Table:
    """Check a bulk inference table against the endpoint's schema and conform its types."""
    if TIMESTAMP not in table.column_names:
        table = table.append_column(TIMESTAMP, pa.array([now] * len(table), type=_UTC_US))
    if not schema.probabilities and PROBABILITIES in table.column_names:
        table = table.drop_columns([PROBABILITIES])
    target = schema.inference_arrow()
    conformed = _conform(table, target, extra_ok=schema.allow_extra, what="batch")
    if schema.classes:
        _check_probability_lengths(conformed, len(schema.classes))
    return conformed


def _check_probability_lengths(table: pa.Table, width: int) -> None:
    lengths = pc.list_value_length(table.column(PROBABILITIES))
    wrong = pc.sum(pc.not_equal(pc.fill_null(lengths, width), width)).as_py() or 0
    if wrong:
        problems = Problems()
        problems.add([PROBABILITIES], f"{wrong} row(s) without exactly {width} probabilities")
        problems.raise_if_any("batch")


def labels_from_table(table: pa.Table, schema: ExpectedSchema, *, now: datetime) -> pa.Table:
    """Check a bulk label table and conform its types."""
    table = table.drop_columns([c for c in (RECEIVED_AT,) if c in table.column_names])
    table = table.append_column(RECEIVED_AT, pa.array([now] * len(table), type=_UTC_US))
    return _conform(table, schema.label_arrow(), extra_ok=False, what="labels")
