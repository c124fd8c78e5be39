"""The few file operations the capture store needs, on a local folder or an object store.

Locally a file is written under a temporary name (0600, fsynced) and renamed, and a publish is
an atomic ``os.replace``. An object store has no rename: an object appears whole when its upload
completes (a single PUT or a completed multipart upload) and never partially, so a file is
written under its final (still unlisted) name, and a publish is a server-side copy to the
published name followed by the deletion of the source. A crash between the two leaves both;
the publishing protocol in ``files`` makes a repeated publish finish the job without a
duplicate.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from governance.core.files import fsync_dir, storage_errors, write_private_atomic
from lineage.storage import Location

_LIST_ATTEMPTS = 5


class Objects:
    """Listing, atomic writes, moves and deletions under one storage location."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self.fs: pafs.FileSystem = location.filesystem

    def entries(self, folder: str) -> list[pafs.FileInfo]:
        """The files and folders directly in ``folder`` (none when it does not exist)."""
        selector = pafs.FileSelector(folder, allow_not_found=True, recursive=False)
        for _ in range(_LIST_ATTEMPTS - 1):
            try:
                return list(self.fs.get_file_info(selector))
            except FileNotFoundError:
                # Locally an entry renamed between the folder's read and its stat (a temporary
                # file published by a writer) fails the whole listing: list again.
                continue
        return list(self.fs.get_file_info(selector))

    def folders(self, folder: str) -> list[str]:
        """Names of the sub-folders of ``folder``."""
        return [i.base_name for i in self.entries(folder) if i.type == pafs.FileType.Directory]

    def exists(self, path: str) -> bool:
        """Whether a file is at ``path``."""
        return bool(self.fs.get_file_info(path).type == pafs.FileType.File)

    def write(self, path: str, write: Callable[[Any], object]) -> None:
        """Write the file at ``path`` whole or not at all (``write`` gets a binary sink)."""
        if self.location.local:
            write_private_atomic(Path(path), write)
            return
        sink = pa.BufferOutputStream()
        write(sink)
        data = sink.getvalue()
        with storage_errors():
            # One upload of bytes held in memory: the object appears complete or not at all.
            with self.fs.open_output_stream(path) as out:
                out.write(data)

    def move(self, source: str, target: str) -> bool:
        """Give ``source`` the name ``target``; False when ``source`` is gone (moved meanwhile)."""
        if self.location.local:
            with storage_errors():
                try:
                    os.replace(source, target)
                except FileNotFoundError:
                    return False
                fsync_dir(Path(target).parent)
            return True
        try:
            self.fs.copy_file(source, target)
        except FileNotFoundError:
            return False
        self.delete(source)
        return True

    def delete(self, path: str) -> None:
        """Remove the file at ``path`` if it is there."""
        try:
            self.fs.delete_file(path)
        except FileNotFoundError:
            return

    def delete_tree(self, folder: str) -> None:
        """Remove ``folder`` and everything in it."""
        try:
            self.fs.delete_dir(folder)
        except FileNotFoundError:
            return
