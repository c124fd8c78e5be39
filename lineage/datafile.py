"""Content hashes, schemas and row counts of dataset files and model artifacts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance.core.errors import InvalidInput
from lineage.schemas import ColumnSpec, ColumnType

_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class FileFacts:
    """What a dataset file or folder contains, as far as registration needs to know."""

    sha256: str
    columns: list[ColumnSpec]
    row_count: int | None
    uri: str


def sha256_file(path: Path) -> str:
    """SHA-256 of one file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(root: Path) -> str:
    """SHA-256 over every file of a folder: relative paths and their hashes, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p, root)):
        rel = path.relative_to(root).as_posix()
        digest.update(f"{rel}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def _hidden(path: Path, root: Path) -> bool:
    # Writers leave _SUCCESS markers and dot-files next to Parquet parts; they are not data.
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def _column_type(arrow_type: Any) -> ColumnType:
    import pyarrow.types as pt

    if pt.is_boolean(arrow_type):
        return ColumnType.bool
    if pt.is_integer(arrow_type):
        return ColumnType.int
    if pt.is_floating(arrow_type) or pt.is_decimal(arrow_type):
        return ColumnType.float
    if pt.is_timestamp(arrow_type) or pt.is_date(arrow_type):
        return ColumnType.datetime
    if pt.is_dictionary(arrow_type):
        return _column_type(arrow_type.value_type)
    return ColumnType.str


def columns_of(schema: Any) -> list[ColumnSpec]:
    """The column specs of an Arrow schema."""
    return [ColumnSpec(name=f.name, type=_column_type(f.type)) for f in schema]


def _parquet_facts(path: Path) -> tuple[list[ColumnSpec], int]:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if path.is_file():  # one file must be Parquet (a folder may hold other files beside its parts)
        meta = pq.read_metadata(str(path))
        return columns_of(meta.schema.to_arrow_schema()), int(meta.num_rows)
    dataset = ds.dataset(str(path), format="parquet", exclude_invalid_files=True)
    return columns_of(dataset.schema), int(dataset.count_rows())


def _csv_facts(path: Path) -> tuple[list[ColumnSpec], int]:
    import pyarrow.csv as pcsv

    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    table = pcsv.read_csv(str(path), parse_options=pcsv.ParseOptions(delimiter=delimiter))
    return columns_of(table.schema), int(table.num_rows)


def inspect_path(path: Path, *, sha256: str | None = None) -> FileFacts:
    """Hash a file or Parquet folder and read its schema and row count.

    ``sha256`` is the file's hash when the caller computed it already (an upload hashed while
    it was received); it is not computed again.
    """
    if not path.exists():
        raise InvalidInput(f"no such file or folder: {path.name}", field="path")
    uri = path.resolve().as_uri()
    try:
        if path.is_dir():
            columns, rows = _parquet_facts(path)
            return FileFacts(sha256=sha256_tree(path), columns=columns, row_count=rows, uri=uri)
        sha = sha256 or sha256_file(path)
        if path.suffix.lower() in (".parquet", ".pq"):
            columns, rows = _parquet_facts(path)
        elif path.suffix.lower() in (".csv", ".tsv"):
            columns, rows = _csv_facts(path)
        else:
            return FileFacts(sha256=sha, columns=[], row_count=None, uri=uri)
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read {path.name}: {type(exc).__name__}", field="path") from exc
    return FileFacts(sha256=sha, columns=columns, row_count=rows, uri=uri)
