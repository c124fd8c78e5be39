"""Turn a posted body (JSON, Arrow IPC stream or Parquet) into a checked Arrow table."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from governance.core.clock import to_utc
from governance.core.errors import InvalidInput
from monitors.capture.bulk import DEFAULT_LIMITS, IngestLimits, cap_rows
from monitors.capture.schemas import (
    CORRELATION_ID,
    LABEL,
    PREDICTION,
    PROBABILITIES,
    RECEIVED_AT,
    TIMESTAMP,
    ColumnType,
    ExpectedSchema,
    error,
)

MAX_ERRORS = 50

MAX_ID = 200
# Event times outside this range are mistakes (epoch-seconds read as years, placeholders).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_RECORD_FIELDS = frozenset({CORRELATION_ID, TIMESTAMP, "features", PREDICTION, PROBABILITIES})
_LABEL_FIELDS = frozenset({CORRELATION_ID, LABEL})
_REQUEST_FIELDS = frozenset({CORRELATION_ID, "features"})
_NUMBER = frozenset({float, int})
_UTC_US = pa.timestamp("us", tz="UTC")
# Fractional seconds past the sixth digit: kept to microseconds (what is stored), counted when
# a dropped digit is not zero so the answer can say how many times lost precision.
_PAST_MICROS = r"(:\d\d[.,]\d{6})\d+"
_LOST_DIGITS = r":\d\d[.,]\d{6}\d*[1-9]"
TRUNCATED_KEY = b"steward.truncated_timestamps"


class Problems:
    """Collects the reasons a batch is refused; raises them all at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        # Not a reason to refuse: time values cut to microseconds, reported in the answer.
        self.truncated = 0

    def add(self, loc: list[Any], msg: str) -> None:
        """Note one reason (beyond the cap only the count grows)."""
        self.items.append(error(loc, msg))

    def raise_if_any(self, what: str) -> None:
        """Refuse the whole batch with every reason found."""
        if self.items:
            shown = self.items[:MAX_ERRORS]
            detail = f"{what} refused: {len(self.items)} problem(s); first: {shown[0]['msg']}"
            raise InvalidInput(detail, errors=shown)


def check_days(table: pa.Table, column: str, problems: Problems, limits: IngestLimits) -> None:
    """Note a batch whose ``column`` spans more UTC days than the cap (one file per day)."""
    days = pc.count_distinct(pc.cast(table.column(column), pa.date32())).as_py() or 0
    if days > limits.days:
        problems.add(
            [column],
            f"the batch spans {days} days; at most {limits.days} per batch"
            " (STEWARD_INGEST_MAX_DAYS)",
        )


_ACCEPTS: dict[ColumnType, frozenset[type]] = {
    # Exact types: bool is not a number here, and nested lists or objects fit nothing.
    ColumnType.float: frozenset({float, int, type(None)}),
    ColumnType.integer: frozenset({int, type(None)}),
    ColumnType.string: frozenset({str, type(None)}),
    ColumnType.boolean: frozenset({bool, type(None)}),
    ColumnType.datetime: frozenset({str, type(None)}),
}


def _column(
    values: list[Any], kind: ColumnType, name: str, problems: Problems, loc: str
) -> pa.Array:
    accepts = _ACCEPTS[kind]
    bad = [i for i, v in enumerate(values) if type(v) not in accepts]
    for i in bad[:MAX_ERRORS]:
        problems.add([loc, i, name], f"{name}: expected {kind}, got {type(values[i]).__name__}")
    if bad:
        return pa.nulls(len(values), kind.arrow)
    if kind is ColumnType.datetime:
        return _timestamps(values, name, problems, loc)
    return pa.array(values, type=kind.arrow)


def _timestamps(values: list[Any], name: str, problems: Problems, loc: str) -> pa.Array:
    try:
        text = pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = None
    if text is not None:
        problems.truncated += pc.sum(pc.match_substring_regex(text, _LOST_DIGITS)).as_py() or 0
        text = pc.replace_substring_regex(text, _PAST_MICROS, r"\1")
        try:
            return pc.cast(text, _UTC_US)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = text.to_pylist()
    # Slow path: naive times (taken as UTC) mixed with offsets, or a bad value to point at.
    parsed: list[datetime | None] = []
    for i, value in enumerate(values):
        try:
            parsed.append(None if value is None else to_utc(datetime.fromisoformat(value)))
        except (TypeError, ValueError, OverflowError):
            problems.add([loc, i, name], f"{name}: expected an ISO-8601 date-time")
            parsed.append(None)
    return pa.array(parsed, type=_UTC_US)


def _noted(table: pa.Table, problems: Problems) -> pa.Table:
    """``table`` carrying the count of truncated time values (see ``take_truncated``)."""
    if not problems.truncated:
        return table
    return table.replace_schema_metadata({TRUNCATED_KEY: str(problems.truncated).encode()})


def take_truncated(table: pa.Table) -> tuple[pa.Table, int]:
    """A checked table without its note, and how many time values lost sub-microsecond digits."""
    meta = table.schema.metadata or {}
    if TRUNCATED_KEY not in meta:
        return table, 0
    rest = {k: v for k, v in meta.items() if k != TRUNCATED_KEY}
    return table.replace_schema_metadata(rest or None), int(meta[TRUNCATED_KEY])


def load_items(body: bytes, key: str, allowed: frozenset[str], problems: Problems) -> list[Any]:
    """The list under ``key`` of a JSON body, each item an object with known fields only."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    items = doc.get(key) if type(doc) is dict and set(doc) == {key} else None
    if type(items) is not list or not items:
        problems.add(["body"], f'expected a JSON object {{"{key}": [...]}} with at least one item')
        problems.raise_if_any(key)
    assert isinstance(items, list)
    for i, item in enumerate(items):
        if type(item) is not dict:
            problems.add([key, i], "expected an object")
        elif item.keys() - allowed:
            problems.add([key, i], f"unknown fields {sorted(item.keys() - allowed)}")
    problems.raise_if_any(key)
    return items


def _ids(items: list[dict[str, Any]], key: str, problems: Problems) -> pa.Array:
    ids = [item.get(CORRELATION_ID) for item in items]
    for i, value in enumerate(ids):
        if type(value) is not str or not 0 < len(value) <= MAX_ID:
            problems.add([key, i, CORRELATION_ID], "correlation_id: expected 1 to 200 characters")
    return pa.array(ids if not problems.items else [str(v) for v in ids], type=pa.string())


def _features(items: list[dict[str, Any]], schema: ExpectedSchema, problems: Problems) -> None:
    known = set(schema.feature_names)
    for i, item in enumerate(items):
        features = item.get("features")
        if type(features) is not dict:
            problems.add(["records", i, "features"], "features: expected an object")
            item["features"] = {}
        elif not schema.allow_extra and features.keys() - known:
            problems.add(
                ["records", i, "features"], f"unknown features {sorted(features.keys() - known)}"
            )


def _probability_row(given: Any, classes: list[str]) -> str | None:
    if type(given) is dict:
        if not classes or sorted(given) != sorted(classes):
            return f"keys must be {classes}"
        given = list(given.values())
    if type(given) is not list or any(type(p) not in _NUMBER for p in given):
        return "expected a list of numbers, or an object of class: number"
    if classes and len(given) != len(classes):
        return f"expected {len(classes)} probabilities"
    return None


def _probabilities(
    items: list[dict[str, Any]], schema: ExpectedSchema, problems: Problems
) -> pa.Array:
    classes = list(schema.classes)
    out: list[list[float] | None] = []
    for i, item in enumerate(items):
        given = item.get(PROBABILITIES)
        reason = None if given is None else _probability_row(given, classes)
        if reason is not None:
            problems.add(["records", i, PROBABILITIES], reason)
            out.append(None)
        elif type(given) is dict:
            out.append([given[c] for c in classes])
        else:
            out.append(given)
    return pa.array(out, type=pa.list_(pa.float64()))


def inferences_from_json(
    body: bytes, schema: ExpectedSchema, *, now: datetime, limits: IngestLimits = DEFAULT_LIMITS
) -> pa.Table:
    """Validate a JSON inference batch and lay it out as the stored table."""
    problems = Problems()
    items = load_items(body, "records", _RECORD_FIELDS, problems)
    cap_rows(len(items), limits)
    _features(items, schema, problems)
    times = _timestamps([r.get(TIMESTAMP) for r in items], TIMESTAMP, problems, "records")
    columns: dict[str, pa.Array] = {
        CORRELATION_ID: _ids(items, "records", problems),
        TIMESTAMP: pc.fill_null(times, pa.scalar(now, _UTC_US)),
    }
    for name, kind in schema.features:
        values = [r["features"].get(name) for r in items]
        columns[name] = _column(values, kind, name, problems, "records")
    predictions = [r.get(PREDICTION) for r in items]
    columns[PREDICTION] = _column(predictions, schema.prediction, PREDICTION, problems, "records")
    if schema.probabilities:
        columns[PROBABILITIES] = _probabilities(items, schema, problems)
    elif any(r.get(PROBABILITIES) is not None for r in items):
        problems.add(["records"], "the endpoint's model returns no probabilities")
    table = pa.table(columns)
    _check_keys(table, problems)
    _check_times(table, problems)
    check_days(table, TIMESTAMP, problems, limits)
    problems.raise_if_any("batch")
    return _noted(table.cast(schema.inference_arrow()), problems)


def labels_from_json(
    body: bytes, schema: ExpectedSchema, *, now: datetime, limits: IngestLimits = DEFAULT_LIMITS
) -> pa.Table:
    """Validate a JSON label batch and lay it out as the stored table."""
    problems = Problems()
    items = load_items(body, "labels", _LABEL_FIELDS, problems)
    cap_rows(len(items), limits)
    labels = [item.get(LABEL) for item in items]
    columns = {
        CORRELATION_ID: _ids(items, "labels", problems),
        LABEL: _column(labels, schema.prediction, LABEL, problems, "labels"),
        RECEIVED_AT: pa.repeat(pa.scalar(now, type=_UTC_US), len(labels)),
    }
    table = pa.table(columns)
    _check_keys(table, problems)
    problems.raise_if_any("labels")
    return table.cast(schema.label_arrow())


def _check_times(table: pa.Table, problems: Problems) -> None:
    times = table.column(TIMESTAMP)
    lo, hi = pa.scalar(EARLIEST, _UTC_US), pa.scalar(LATEST, _UTC_US)
    outside = pc.sum(pc.or_(pc.less(times, lo), pc.greater_equal(times, hi))).as_py() or 0
    if outside:
        problems.add([TIMESTAMP], f"{outside} timestamp(s) outside {EARLIEST:%Y} to {LATEST:%Y}")


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
        if column.type == field.type:  # already stored as it is (a cast would copy it)
            yield column
            continue
        if pa.types.is_timestamp(column.type) and column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        try:
            yield _cut_to_micros(column, field.type, problems).cast(field.type, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            problems.add([field.name], f"{field.name}: cannot store {column.type} as {field.type}")
            yield pa.nulls(len(table), field.type)


def _cut_to_micros(
    column: pa.ChunkedArray, target: pa.DataType, problems: Problems
) -> pa.ChunkedArray:
    """Nanosecond times truncated to the microseconds stored, counting those that lost digits."""
    kind = column.type
    if not (pa.types.is_timestamp(kind) and kind.unit == "ns" and pa.types.is_timestamp(target)):
        return column
    nanos = pc.cast(column, pa.int64())
    problems.truncated += pc.sum(pc.not_equal(pc.remainder(nanos, 1000), 0)).as_py() or 0
    micros = pa.timestamp("us", tz=kind.tz)
    return pc.cast(column, options=pc.CastOptions(micros, allow_time_truncate=True))


def _conform(
    table: pa.Table, target: pa.Schema, *, extra_ok: bool, what: str, unique_keys: bool = True
) -> tuple[pa.Table, Problems]:
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
    if unique_keys:
        _check_keys(conformed, problems)
    elif conformed.column(CORRELATION_ID).null_count:
        problems.add([CORRELATION_ID], "rows without a correlation id")
    problems.raise_if_any(what)
    return conformed, problems


def inferences_from_table(
    table: pa.Table,
    schema: ExpectedSchema,
    *,
    now: datetime,
    limits: IngestLimits = DEFAULT_LIMITS,
    unique_keys: bool = True,
) -> pa.Table:
    """Check a bulk inference table against the endpoint's schema and conform its types
    (``unique_keys``: refuse a correlation id that two rows share)."""
    if TIMESTAMP not in table.column_names:
        table = table.append_column(TIMESTAMP, pa.repeat(pa.scalar(now, type=_UTC_US), len(table)))
    if not schema.probabilities and PROBABILITIES in table.column_names:
        table = table.drop_columns([PROBABILITIES])
    target = schema.inference_arrow()
    conformed, problems = _conform(
        table, target, extra_ok=schema.allow_extra, what="batch", unique_keys=unique_keys
    )
    _check_times(conformed, problems)
    check_days(conformed, TIMESTAMP, problems, limits)
    problems.raise_if_any("batch")
    if schema.classes:
        _check_probability_lengths(conformed, len(schema.classes))
    return _noted(conformed, problems)


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
    table = table.append_column(RECEIVED_AT, pa.repeat(pa.scalar(now, type=_UTC_US), len(table)))
    conformed, _ = _conform(table, schema.label_arrow(), extra_ok=False, what="labels")
    return conformed


def requests_from_json(
    body: bytes,
    schema: ExpectedSchema,
    *,
    new_ids: Callable[[int], pa.Array],
    limits: IngestLimits = DEFAULT_LIMITS,
) -> pa.Table:
    """A scoring request ``{"records": [{"features": {...}, "correlation_id"?: ...}]}``, checked.

    The table holds the correlation ids (``new_ids(n)`` gives those of the ``n`` records that
    carry none) and the features, typed as the endpoint's signature says.
    """
    problems = Problems()
    items = load_items(body, "records", _REQUEST_FIELDS, problems)
    cap_rows(len(items), limits)
    _features(items, schema, problems)
    missing = [item for item in items if CORRELATION_ID not in item]
    for item, given in zip(missing, new_ids(len(missing)).to_pylist(), strict=True):
        item[CORRELATION_ID] = given
    columns: dict[str, pa.Array] = {CORRELATION_ID: _ids(items, "records", problems)}
    for name, kind in schema.features:
        values = [r["features"].get(name) for r in items]
        columns[name] = _column(values, kind, name, problems, "records")
    table = pa.table(columns)
    _check_keys(table, problems)
    problems.raise_if_any("request")
    return table.cast(schema.request_arrow())


def requests_from_table(
    table: pa.Table, schema: ExpectedSchema, *, new_ids: Callable[[int], pa.Array]
) -> pa.Table:
    """A scoring request sent as Arrow or Parquet, checked like ``requests_from_json``."""
    given = CORRELATION_ID in table.column_names
    if not given:
        table = table.append_column(CORRELATION_ID, new_ids(len(table)))
    conformed, _ = _conform(
        table, schema.request_arrow(), extra_ok=schema.allow_extra, what="request",
        unique_keys=given,  # ids made here are unique by construction
    )  # fmt: skip
    return conformed
