"""Confinement of caller-named data locations to the storage roots and a project's prefix.

A caller never names a server path that Steward then reads on its behalf: a location is
resolved first (``..`` collapsed, symbolic links followed) and accepted only when the result
lies under ``<root>/<project>`` of a configured root and is a readable regular file, or a folder
of them without links. Every refusal, whatever its cause (outside the prefix, another scheme,
missing, unreadable), raises the same error with the same text, so that the answer tells a
caller nothing about files it may not read.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from governance.core.errors import InvalidInput

log = logging.getLogger("steward.paths")

REFUSED = "the location is not a readable file or folder under this project's dataset roots"
_READ_BITS = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class Unconfined(InvalidInput):
    """A location outside the project's prefix, missing or unreadable (one answer for all)."""

    def __init__(self) -> None:
        super().__init__(REFUSED, field="uri")


def project_prefixes(roots: Sequence[Path], project: str) -> list[Path]:
    """The resolved ``<root>/<project>`` folders under which a project's data may live."""
    if not project or project in (".", "..") or any(c in project for c in "/\\\x00"):
        return []
    return [(Path(root) / project).resolve() for root in roots]


def confine(location: str | Path, *, roots: Sequence[Path], project: str) -> Path:
    """The resolved path of ``location`` if it is readable under a root's project prefix.

    ``location`` is an absolute path, a ``file:`` URI, or a path relative to the project's
    prefix under the first root. Raises ``Unconfined`` otherwise.
    """
    path, reason = _locate(str(location), project_prefixes(roots, project))
    if path is not None:
        return path
    log.warning("refused data location %r of project %r: %s", str(location), project, reason)
    raise Unconfined()


def _locate(location: str, prefixes: list[Path]) -> tuple[Path | None, str]:
    """The confined path of ``location`` (resolved once), or None and why it was refused."""
    raw = _local(location)
    if not prefixes or raw is None:
        return None, "no dataset root for this project, or not a local path or file URI"
    try:
        path = (prefixes[0] / raw).resolve(strict=False)  # an absolute ``raw`` replaces it
    except (OSError, RuntimeError):  # RuntimeError: a loop of symbolic links
        return None, "cannot be resolved"
    if not any(path.is_relative_to(p) for p in prefixes):
        return None, "outside the project's prefix"
    if not _readable(path):
        return None, "missing or unreadable"
    return path, ""


def _local(location: str) -> str | None:
    """The path a location names on this machine, or None for another scheme or a bad URI."""
    if not location or "\x00" in location:
        return None
    parts = urlsplit(location)
    if parts.scheme == "":
        return location  # a plain path: '?' and '#' are characters of its name
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    if parts.query or parts.fragment:
        return None
    path = unquote(parts.path)
    return path if path.startswith("/") and "\x00" not in path else None


def _readable(path: Path) -> bool:
    try:
        info = path.stat()
        if stat.S_ISREG(info.st_mode):
            return _may_read(path, info, os.R_OK)
        if stat.S_ISDIR(info.st_mode):
            return _may_read(path, info, os.R_OK | os.X_OK) and _tree_readable(path)
    except OSError:
        return False
    return False  # pipes, devices and sockets are never data (and a pipe would block a read)


def _may_read(path: Path, info: os.stat_result, mode: int) -> bool:
    # A file whose mode grants reading to nobody is unreadable even when Steward runs as root.
    return bool(info.st_mode & _READ_BITS) and os.access(path, mode)


def _tree_readable(folder: Path) -> bool:
    """Whether every entry below ``folder`` is a readable file or folder and none is a link."""

    def fail(exc: OSError) -> None:
        raise exc

    for current, dirs, files in os.walk(folder, onerror=fail, followlinks=False):
        for name in (*dirs, *files):
            entry = Path(current, name)
            info = entry.lstat()
            if stat.S_ISDIR(info.st_mode):
                readable = _may_read(entry, info, os.R_OK | os.X_OK)
            else:
                readable = stat.S_ISREG(info.st_mode) and _may_read(entry, info, os.R_OK)
            if not readable:
                return False
    return True
