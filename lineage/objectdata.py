"""Dataset versions stored in an object store (``Settings.dataset_uri``): confined, hashed, read.

A dataset version's ``uri`` on an object store is ``<scheme>://<bucket>/<prefix>/<project>/...``
under the configured dataset location, and it is read through that location's filesystem (its
options and the environment's credentials), never through whatever a URI would open by itself.
Confinement is the local rule's counterpart: the same scheme, a path without empty, ``.`` or
``..`` segments, under ``<prefix>/<project>/``, naming an existing object or folder. Every
refusal is the same ``Unconfined`` error. Local versions keep the local rules
(``governance.core.paths.confine``); ``read_dataset_table`` reads either kind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from governance.core.errors import InvalidInput
from governance.core.paths import Unconfined, confine, project_prefixes
from lineage.datafile import FileFacts, columns_of
from lineage.storage import Location, is_local_uri, open_location

_CHUNK = 1 << 20


def dataset_location(uri: str | None) -> Location | None:
    """The object-store location of ``Settings.dataset_uri`` (None when unset).

    Local folders are configured by ``dataset_roots``, which confinement reads; a local path
    here is refused rather than silently treated differently.
    """
    if not uri:
        return None
    if is_local_uri(uri):
        raise InvalidInput("dataset_uri names an object store; local folders go in dataset_roots")
    return open_location(uri)


def confine_object(uri: str, *, location: Location | None, project: str) -> str:
    """The path on ``location.filesystem`` of ``uri`` if it lies under ``<base>/<project>/``."""
    if location is None or not project_prefixes([Path("/")], project):
        raise Unconfined()
    parts = urlsplit(uri)
    if parts.scheme != urlsplit(location.uri).scheme or parts.query or parts.fragment:
        raise Unconfined()
    path = f"{parts.netloc}{parts.path}".rstrip("/")
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise Unconfined()
    if not path.startswith(location.path(project) + "/"):
        raise Unconfined()
    if location.filesystem.get_file_info(path).type not in (
        pafs.FileType.File,
        pafs.FileType.Directory,
    ):
        raise Unconfined()
    return path


def _tree(fs: pafs.FileSystem, path: str) -> list[pafs.FileInfo]:
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
    # Writers leave _SUCCESS markers and dot-files next to Parquet parts; they are not data.
    return sorted(
        (
            i
            for i in infos
            if i.type == pafs.FileType.File
            and not any(p.startswith((".", "_")) for p in i.path[len(path) + 1 :].split("/"))
        ),
        key=lambda i: str(i.path),
    )


def sha256_object(fs: pafs.FileSystem, path: str) -> str:
    """SHA-256 of one object's bytes, streamed."""
    digest = hashlib.sha256()
    with fs.open_input_stream(path) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def inspect_object(location: Location, path: str) -> FileFacts:
    """Hash an object (or a folder of Parquet parts, as ``sha256_tree`` does) and read its
    schema and row count."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    fs, uri = location.filesystem, location.uri_of(path)
    try:
        if fs.get_file_info(path).type == pafs.FileType.Directory:
            digest = hashlib.sha256()
            for info in _tree(fs, path):
                rel = info.path[len(path) + 1 :]
                digest.update(f"{rel}\0{sha256_object(fs, info.path)}\n".encode())
            data = ds.dataset(path, filesystem=fs, format="parquet", exclude_invalid_files=True)
            columns, rows = columns_of(data.schema), int(data.count_rows())
            return FileFacts(sha256=digest.hexdigest(), columns=columns, row_count=rows, uri=uri)
        sha = sha256_object(fs, path)
        suffix = Path(path).suffix.lower()
        if suffix in (".parquet", ".pq"):
            meta = pq.read_metadata(path, filesystem=fs)
            columns, rows = columns_of(meta.schema.to_arrow_schema()), int(meta.num_rows)
        elif suffix in (".csv", ".tsv"):
            table = _read_csv(fs, path)
            columns, rows = columns_of(table.schema), int(table.num_rows)
        else:
            return FileFacts(sha256=sha, columns=[], row_count=None, uri=uri)
    except (OSError, ValueError) as exc:
        name = Path(path).name
        raise InvalidInput(f"cannot read {name}: {type(exc).__name__}", field="path") from exc
    return FileFacts(sha256=sha, columns=columns, row_count=rows, uri=uri)


def _read_csv(fs: pafs.FileSystem, path: str) -> pa.Table:
    import pyarrow.csv as pcsv

    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    with fs.open_input_stream(path) as stream:
        return pcsv.read_csv(stream, parse_options=pcsv.ParseOptions(delimiter=delimiter))


def read_object_table(location: Location, path: str) -> pa.Table:
    """The rows of a confined object: CSV, a Parquet file, or a folder of Parquet parts."""
    import pyarrow.parquet as pq

    fs = location.filesystem
    if path.lower().endswith((".csv", ".tsv")):
        return _read_csv(fs, path)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        return pq.read_table([i.path for i in _tree(fs, path)], filesystem=fs)
    return pq.read_table(path, filesystem=fs)


def read_dataset_table(
    uri: str, *, project: str, roots: Sequence[Path], location: Location | None
) -> pa.Table:
    """Read a dataset version's content, local or in the object store (``Unconfined`` if it is
    outside the project's prefix of either)."""
    if is_local_uri(uri):
        path = confine(uri, roots=roots, project=project)
        if path.suffix.lower() == ".csv":
            import pyarrow.csv as pcsv

            return pcsv.read_csv(path)
        import pyarrow.parquet as pq

        return pq.read_table(path)
    if location is None:
        raise Unconfined()
    return read_object_table(location, confine_object(uri, location=location, project=project))
