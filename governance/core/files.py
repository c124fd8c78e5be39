"""Steward's own files: 0700 folders, 0600 files written whole or not at all, full disks named.

A file is written under a temporary name beside its target (``.tmp-<random><suffix>``, created
exclusively with mode 0600 and locked by its writer for as long as it is open), fsynced, renamed
over the target, and the folder fsynced; on every error path the temporary file is removed. Only
a crash can leave one behind, and ``remove_leftovers`` deletes those: a file no process holds
the lock of has no writer any more. A full disk or exhausted quota (ENOSPC, EDQUOT) becomes
``InsufficientStorage`` (HTTP 507), raised only once the partial file is gone.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from governance.core.errors import InsufficientStorage, InvalidInput, TooLarge

DIR_MODE = 0o700
FILE_MODE = 0o600
TEMP_PREFIX = ".tmp-"
FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
STORAGE_FULL = "not enough storage space left to store this; nothing was stored"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
_PROBE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def is_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it arose from, is a full disk or an exhausted quota."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in FULL:
            return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def storage_errors() -> Iterator[None]:
    """Raise a full disk or quota met in the block as ``InsufficientStorage``."""
    try:
        yield
    except InsufficientStorage:
        raise
    except Exception as exc:
        if is_full(exc):
            raise InsufficientStorage(STORAGE_FULL) from exc
        raise


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700 folders (existing ones are left alone)."""
    path = Path(path)
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    with storage_errors():
        for folder in reversed(missing):
            try:
                os.mkdir(folder, DIR_MODE)
            except FileExistsError:
                continue  # made meanwhile by a concurrent writer
            os.chmod(folder, DIR_MODE)  # a restrictive umask may have taken the owner's bits
    if not path.is_dir():
        raise FileExistsError(errno.EEXIST, "exists and is not a folder", str(path))
    return path


def fsync_dir(path: Path) -> None:
    """Make the entries of a folder (a rename into it) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PrivateTemp:
    """A new 0600 file under a temporary name in ``folder``, locked by its writer until closed."""

    def __init__(self, folder: Path, *, suffix: str = "") -> None:
        self.path, fd = _create_locked(Path(folder), suffix)
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.committed = False

    def commit(self, target: Path) -> Path:
        """Flush and fsync the bytes, rename them to ``target``, fsync its folder, close."""
        self.file.flush()
        os.fsync(self.file.fileno())
        os.replace(self.path, target)
        self.committed = True
        fsync_dir(Path(target).parent)
        self.file.close()  # the lock goes with the last descriptor, only once the name is final
        return Path(target)

    def discard(self) -> None:
        """Remove the file unless it was committed, and close it (idempotent)."""
        if not self.committed:
            self.path.unlink(missing_ok=True)
        with suppress(OSError):  # flushing what is left may fail again on a full disk
            self.file.close()


@contextmanager
def private_temp(folder: Path, *, suffix: str = "") -> Iterator[PrivateTemp]:
    """A ``PrivateTemp`` in ``folder`` (made 0700 if missing), removed unless committed."""
    with storage_errors():
        private_dir(folder)
        temp = PrivateTemp(folder, suffix=suffix)
        try:
            yield temp
        finally:
            temp.discard()


def write_private_atomic(path: Path, data: bytes | Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` as a 0600 file in a 0700 folder, whole or not at all.

    ``data`` is the bytes, or a function that writes them to the binary file it is given.
    """
    path = Path(path)
    with private_temp(path.parent, suffix=path.suffix) as temp:
        if callable(data):
            data(temp.file)
        else:
            temp.file.write(data)
        return temp.commit(path)


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 (folders 0700) unless it exists; leave it otherwise."""
    path = Path(path)
    private_dir(path.parent)
    with storage_errors():
        try:
            fd = os.open(path, _CREATE, FILE_MODE)
        except FileExistsError:
            return path
        try:
            os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
    return path


def private_sqlite(url: str) -> None:
    """Create a SQLite database's folder (0700) and empty file (0600) before SQLite does.

    SQLite would create the file with mode 0644; its ``-wal`` and ``-shm`` files take the
    database file's mode. Other URLs and in-memory databases are left alone.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or name in ("", ":memory:"):
        return
    if name.startswith("file:") or parsed.query.get("mode") == "memory":
        return  # a URI filename: SQLite's own business
    private_file(Path(name))


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a 0600 lock file, created if missing) in the block."""
    private_dir(Path(path).parent)
    with storage_errors():
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove_leftovers(paths: Iterable[Path]) -> int:
    """Delete the temporary files among ``paths`` that no live writer holds; how many."""
    return sum(
        1 for path in paths if path.name.startswith(TEMP_PREFIX) and _remove_if_abandoned(path)
    )


def _create_locked(folder: Path, suffix: str) -> tuple[Path, int]:
    while True:
        path = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}{suffix}"
        fd = os.open(path, _CREATE, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.fchmod(fd, FILE_MODE)
            if _names(path, fd):
                return path, fd
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        # A sweep removed the file between its creation and its lock: make another.
        os.close(fd)


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open at ``fd``."""
    try:
        named, held = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _remove_if_abandoned(path: Path) -> bool:
    try:
        fd = os.open(path, _PROBE)
    except OSError:  # gone meanwhile, or a link: not a file of ours
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its writer is alive
        if not stat.S_ISREG(os.fstat(fd).st_mode) or not _names(path, fd):
            return False
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)


def receive_hashed(
    chunks: Iterable[bytes], sink: BinaryIO, max_bytes: int | None
) -> tuple[str, int]:
    """Copy ``chunks`` into ``sink``, returning their SHA-256 and size.

    TooLarge past ``max_bytes`` (the caller's temporary file then goes), InvalidInput when empty.
    """
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise TooLarge(f"the upload exceeds {max_bytes} bytes")
        digest.update(chunk)
        sink.write(chunk)
    if size == 0:
        raise InvalidInput("the upload is empty", field="body")
    return digest.hexdigest(), size
