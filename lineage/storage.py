"""Storage locations: a local folder or any pyarrow / fsspec filesystem URI (s3://, gs://, ...).

A location is configured by URI and never carries credentials: pyarrow's S3 and GCS filesystems
take them from the environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``,
instance metadata; ``GOOGLE_APPLICATION_CREDENTIALS``), so neither the database nor a settings
dump ever holds a key. A URI with user information or a key in its query is refused. Options
that are not secrets ride in the query, as pyarrow reads them: ``s3://bucket/prefix?region=
eu-west-1&endpoint_override=minio:9000&scheme=http``. Schemes pyarrow has no filesystem for are
opened through fsspec (``az://``, ``abfs://`` ...) when its implementation is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl, urlsplit

import pyarrow.fs as pafs

from governance.core.errors import InvalidInput

_SECRET_OPTIONS = frozenset({"access_key", "secret_key", "session_token", "token", "password"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Location:
    """A root on a filesystem: paths below it are ``base/<relative>`` on ``filesystem``."""

    filesystem: pafs.FileSystem
    base: str
    uri: str

    @property
    def local(self) -> bool:
        """Whether the root is a folder of this machine (atomic renames, modes, fsync)."""
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        """The path of ``parts`` below the root (each part one already-checked name)."""
        return str(PurePosixPath(self.base, *parts))

    def uri_of(self, path: str) -> str:
        """A URI naming ``path`` (a path on this location's filesystem) for the lineage graph."""
        if self.local:
            return Path(path).as_uri()
        scheme = urlsplit(self.uri).scheme
        return f"{scheme}://{path}"


def is_local_uri(uri: str | Path) -> bool:
    """Whether ``uri`` names a local folder (a plain path or a ``file:`` URI)."""
    return isinstance(uri, Path) or urlsplit(str(uri)).scheme in ("", "file")


def open_location(uri: str | Path) -> Location:
    """The filesystem and base path of a storage URI (a plain path is a local folder)."""
    if is_local_uri(uri):
        text = str(uri)
        path = Path(urlsplit(text).path if text.startswith("file:") else text).resolve()
        return Location(filesystem=pafs.LocalFileSystem(), base=str(path), uri=path.as_uri())
    text = str(uri)
    _refuse_credentials(text)
    try:
        filesystem, base = pafs.FileSystem.from_uri(text)
    except ValueError:  # pyarrow has no filesystem of this scheme
        filesystem, base = _fsspec(text)
    return Location(filesystem=filesystem, base=base.rstrip("/"), uri=text.split("?", 1)[0])


def _refuse_credentials(uri: str) -> None:
    parts = urlsplit(uri)
    if "@" in parts.netloc or any(k.lower() in _SECRET_OPTIONS for k, _ in parse_qsl(parts.query)):
        raise InvalidInput(
            "a storage URI may not carry credentials: set them in the environment "
            "(e.g. AWS_ACCESS_KEY_ID, AWS_PROFILE)"
        )
    if not parts.netloc:
        raise InvalidInput(f"the storage URI names no bucket: {parts.scheme}://")


def _fsspec(uri: str) -> tuple[pafs.FileSystem, str]:
    import fsspec

    try:
        fs, base = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        scheme = urlsplit(uri).scheme
        raise InvalidInput(f"no filesystem for storage scheme {scheme!r}") from exc
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), str(base)
