"""Frames in and out: pandas, Arrow and Polars, each imported only when a frame is used.

Rows go to the server as Arrow IPC streams, cut into batches of at most ``max_rows`` rows and
``max_bytes`` encoded bytes; lists of dicts go as JSON batches under the same two caps.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from steward.client.http import dumps

ARROW_STREAM = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
FrameKind = Literal["pandas", "arrow", "polars"]


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"this needs {extra}: pip install {extra}") from exc


def pyarrow() -> Any:
    """The ``pyarrow`` module, or an ImportError saying what to install."""
    return _require("pyarrow", "pyarrow")


def is_records(data: Any) -> bool:
    """Whether ``data`` is a plain list (or tuple) of dicts, sent as JSON."""
    return isinstance(data, list | tuple) and all(isinstance(r, dict) for r in data)


def to_arrow(frame: Any) -> Any:
    """An Arrow table of a pandas, Polars or Arrow frame (or anything with the Arrow C stream)."""
    pa = pyarrow()
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    if type(frame).__module__.split(".")[0] == "pandas":
        return pa.Table.from_pandas(frame, preserve_index=False)
    if hasattr(frame, "to_arrow"):  # Polars
        return frame.to_arrow()
    if hasattr(frame, "__arrow_c_stream__"):
        return pa.table(frame)
    raise TypeError(f"cannot send a {type(frame).__name__}: pass a pandas, Polars or Arrow frame")


def from_arrow(table: Any, kind: FrameKind) -> Any:
    """``table`` as the frame kind asked for."""
    if kind == "arrow":
        return table
    if kind == "pandas":
        _require("pandas", "pandas")
        return table.to_pandas()
    if kind == "polars":
        return _require("polars", "polars").from_arrow(table)
    raise ValueError(f"unknown frame kind {kind!r}: pandas, arrow or polars")


def ipc_bytes(table: Any) -> bytes:
    """``table`` as one Arrow IPC stream."""
    pa = pyarrow()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def read_ipc(data: bytes) -> Any:
    """The table an Arrow IPC stream holds."""
    pa = pyarrow()
    return pa.ipc.open_stream(pa.BufferReader(data)).read_all()


def parquet_bytes(table: Any) -> bytes:
    """``table`` as a Parquet file."""
    pa = pyarrow()
    pq = _require("pyarrow.parquet", "pyarrow")
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def arrow_batches(table: Any, *, max_rows: int, max_bytes: int) -> Iterator[bytes]:
    """IPC streams of consecutive slices of ``table`` within both caps.

    A slice whose encoding is over ``max_bytes`` is halved until it fits; a single row that
    does not fit is sent alone, and the server's 413 says so.
    """
    total, start = table.num_rows, 0
    per_row = max(1, table.nbytes // max(1, total))
    rows = max(1, min(max_rows, max_bytes // per_row))
    while start < total:
        data = ipc_bytes(table.slice(start, rows))
        if len(data) > max_bytes and rows > 1:
            rows //= 2
            continue
        yield data
        start += rows


def json_batches(
    records: Sequence[dict[str, Any]], key: str, *, max_rows: int, max_bytes: int
) -> Iterator[bytes]:
    """JSON documents ``{key: [...]}`` of consecutive records within both caps."""
    batch: list[bytes] = []
    size = 0
    for record in records:
        encoded = dumps(record)
        if batch and (len(batch) >= max_rows or size + len(encoded) + 1 > max_bytes):
            yield _document(key, batch)
            batch, size = [], 0
        batch.append(encoded)
        size += len(encoded) + 1
    if batch:
        yield _document(key, batch)


def _document(key: str, items: list[bytes]) -> bytes:
    return b'{"' + key.encode() + b'":[' + b",".join(items) + b"]}"
