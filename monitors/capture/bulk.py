"""Decode a bulk body (Arrow IPC stream or Parquet), refusing one beyond the batch caps first."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from governance.core.errors import InvalidInput, TooLarge

JSON = "application/json"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
PARQUET = "application/x-parquet"
MEDIA_TYPES = (JSON, ARROW_STREAM, PARQUET)


def bare_media_type(content_type: str | None) -> str:
    """A Content-Type header without its parameters, lower case; JSON when absent (unchecked)."""
    return (content_type or JSON).split(";", 1)[0].strip().lower()


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header; JSON when absent."""
    value = bare_media_type(content_type)
    if value not in MEDIA_TYPES:
        raise InvalidInput(f"unsupported content type {value!r}; use one of {list(MEDIA_TYPES)}")
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class IngestLimits:
    """Caps on one batch (``Settings.ingest_max_*``; these defaults are the settings' own)."""

    rows: int = 1_000_000
    decoded_bytes: int = 1024**3
    days: int = 31


DEFAULT_LIMITS = IngestLimits()


# Rows and decoded bytes are about size, so beyond them the answer is 413 (split the batch),
# the status the body limit already uses; a batch spanning too many days may be tiny, so that
# cap is a rule about content: 422 (see ``check_days``).
def cap_rows(rows: int, limits: IngestLimits) -> None:
    """Refuse a batch of more rows than the cap (413)."""
    if rows > limits.rows:
        raise TooLarge(
            f"the batch holds more than {limits.rows} rows (STEWARD_INGEST_MAX_ROWS); split it"
        )


def _cap_bytes(size: int, limits: IngestLimits) -> None:
    if size > limits.decoded_bytes:
        raise TooLarge(
            f"the batch decodes to more than {limits.decoded_bytes} bytes"
            " (STEWARD_INGEST_MAX_DECODED_BYTES); split it"
        )


def read_bulk(body: bytes, media: str, *, limits: IngestLimits = DEFAULT_LIMITS) -> pa.Table:
    """Decode an Arrow IPC stream or a Parquet file, refusing one beyond the caps first."""
    try:
        if media == ARROW_STREAM:
            return _read_stream(body, limits)
        return _read_parquet(body, limits)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidInput(f"body is not a valid {media} document") from exc


def _read_stream(body: bytes, limits: IngestLimits) -> pa.Table:
    reader = pa.ipc.open_stream(pa.BufferReader(body))
    batches, rows, size = [], 0, 0
    # Batch by batch, so a stream of a billion rows stops at the first batch past the cap.
    for batch in reader:
        rows, size = rows + batch.num_rows, size + batch.nbytes
        cap_rows(rows, limits)
        _cap_bytes(size, limits)
        batches.append(batch)
    table = pa.Table.from_batches(batches, schema=reader.schema)
    _cap_bytes(_decoded_size(table), limits)
    return table


def _read_parquet(body: bytes, limits: IngestLimits) -> pa.Table:
    # The footer alone tells the row count and the uncompressed size: refuse before decoding.
    parquet = pq.ParquetFile(pa.BufferReader(body))
    meta = parquet.metadata
    cap_rows(meta.num_rows, limits)
    _cap_bytes(sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)), limits)
    # Strings stay dictionary-encoded until their decoded size is known: one long value
    # repeated on every row is small on disk and in the footer, huge once expanded.
    strings = [f.name for f in parquet.schema_arrow if _binary_like(f.type)]
    table = pq.read_table(pa.BufferReader(body), read_dictionary=strings)
    _cap_bytes(_decoded_size(table), limits)
    return table.cast(parquet.schema_arrow)


def _binary_like(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _decoded_size(table: pa.Table) -> int:
    """Bytes of ``table`` once its dictionary-encoded columns are expanded."""
    size = 0
    for column in table.columns:
        for chunk in column.chunks:
            size += _expanded(chunk) if pa.types.is_dictionary(chunk.type) else chunk.nbytes
    return size


def _expanded(chunk: pa.DictionaryArray) -> int:
    values, indices = chunk.dictionary, chunk.indices
    if _binary_like(values.type):
        lengths = pc.binary_length(values).take(indices)
        return int(pc.sum(lengths).as_py() or 0) + 8 * len(indices)
    width = getattr(values.type, "bit_width", 0) // 8
    # Other value types (nested, rare here): as if every row held the whole dictionary.
    return len(indices) * (width or values.nbytes)
