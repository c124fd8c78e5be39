"""Witnesses: copies of every signed checkpoint kept outside the database.

Someone who owns the database can delete checkpoints, truncate the log or rewrite it and
re-chain; only a record of what was signed, kept where they cannot reach, tells. The default
witness is an append-only file (one JSON line per signed note, fsynced); HTTP witnesses receive
each note by POST (through the SSRF guard) so that the anchor can live on another machine.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import httpx

from governance.core.errors import InvalidInput
from governance.core.files import private_dir
from governance.core.urlguard import Allowlist, Resolver, SystemResolver, UrlRefused, check_url

log = logging.getLogger(__name__)
FILE_NAME = "checkpoints.jsonl"
USER_AGENT = "steward-audit-witness/1"
# How much of the file witness's end a start reads to learn how far it has been told.
TAIL_BYTES = 64 * 1024
TAIL_LINES = 64


def note_size(note: str) -> int:
    """The tree size a signed checkpoint note states (its second line)."""
    lines = note.split("\n", 2)
    if len(lines) < 3 or not lines[1].isdigit():
        raise InvalidInput("not a checkpoint note")
    return int(lines[1])


class Witness(Protocol):
    """Somewhere a signed checkpoint is kept outside the database."""

    name: str

    def publish(self, note: str) -> None:
        """Keep ``note``; raise on failure (the caller retries)."""
        ...


class FileWitness:
    """An append-only file of signed notes, one JSON line each, fsynced before returning."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self.name = f"file:{self.path}"

    def notes(self) -> list[str]:
        """Every note witnessed so far (empty when the file does not exist; never creates it)."""
        return read_notes(self.path) if self.path.is_file() else []

    def newest_size(self) -> int:
        """The largest tree size among the last notes appended (0 without a file).

        Read from the file's tail: the file grows by a line per checkpoint for the life of the
        service, and a start should not read years of them. Appends from several processes can
        land out of order, so the tail's largest size is taken, not its last line's.
        """
        if not self.path.is_file():
            return 0
        with self.path.open("rb") as fh:
            fh.seek(max(fh.seek(0, os.SEEK_END) - TAIL_BYTES, 0))
            tail = fh.read().decode("utf-8", errors="replace")
        sizes = []
        for line in tail.splitlines()[-TAIL_LINES:]:
            try:
                sizes.append(note_size(str(json.loads(line)["note"])))
            except (ValueError, KeyError, TypeError, InvalidInput):
                continue  # the first line of the tail is usually cut; a bad one is verify's
        return max(sizes, default=0)

    def publish(self, note: str) -> None:
        """Append ``note`` durably (file 0600 in a 0700 directory)."""
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write(json.dumps({"note": note}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


class HttpWitness:
    """POSTs each note (text/plain) to a URL; refused destinations fail like the webhooks do."""

    def __init__(
        self, url: str, *, allow: Allowlist, resolver: Resolver | None = None, timeout: float = 10
    ) -> None:
        self.url = url
        self.name = f"http:{url}"
        self.allow = allow
        self.resolver = resolver or SystemResolver()
        self.timeout = timeout

    def publish(self, note: str) -> None:
        """Post ``note``; a non-2xx answer, a redirect or a refused address raises."""
        try:
            dest = check_url(self.url, allow=self.allow, resolver=self.resolver)
        except UrlRefused as exc:
            raise OSError(f"witness URL refused: {exc.detail}") from exc
        headers = {
            "Host": dest.host_header,
            "Content-Type": "text/plain; charset=utf-8",
            "User-Agent": USER_AGENT,
        }
        extensions = {"sni_hostname": dest.host} if dest.scheme == "https" else {}
        with httpx.Client(follow_redirects=False, trust_env=False, timeout=self.timeout) as c:
            request = c.build_request(
                "POST", dest.pinned_url, content=note.encode(), headers=headers,
                extensions=extensions,
            )  # fmt: skip
            response = c.send(request)
        if not 200 <= response.status_code < 300:
            raise OSError(f"witness answered HTTP {response.status_code}")


def read_notes(path: Path) -> list[str]:
    """Notes from a witness file (JSON lines) or a file holding one signed note as text."""
    text = path.read_text()
    if not text.lstrip().startswith("{"):
        return [text] if text.strip() else []
    notes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            notes.append(str(json.loads(line)["note"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}: line {number} is not a witnessed checkpoint") from exc
    return notes


@dataclass(kw_only=True, slots=True)
class WitnessStatus:
    """How far one witness has been told, and its last failure."""

    name: str
    size: int = 0
    failures: int = 0
    last_error: str | None = None


class Witnesses:
    """Every configured witness and how far each has been told; thread-safe.

    The file witness is written at once after the transaction that signed a checkpoint commits;
    HTTP witnesses are told by the sealer thread (``catch_up``), so that a slow or unreachable
    witness never delays a request. A failed publish is logged, counted and retried at the next
    catch-up with the newest note, which covers everything before it.
    """

    def __init__(self, file: FileWitness | None, remote: Sequence[Witness] = ()) -> None:
        self.file = file
        self.remote = list(remote)
        self._lock = threading.Lock()
        self._status = {w.name: WitnessStatus(name=w.name) for w in self._all()}
        self._latest: str | None = None
        self.wake = threading.Event()
        if file is not None:
            self._status[file.name].size = file.newest_size()

    def _all(self) -> list[Witness]:
        return ([self.file] if self.file is not None else []) + self.remote

    def published(self, notes: Iterable[str]) -> None:
        """Checkpoints just committed: write the file witness now, wake the sealer for the rest."""
        for note in notes:
            with self._lock:
                if self._latest is None or note_size(note) > note_size(self._latest):
                    self._latest = note
            if self.file is not None:
                self._tell(self.file, note)
        if self.remote:
            self.wake.set()

    def catch_up(self, latest: str | None) -> None:
        """Tell every witness that is behind ``latest`` (or the newest note seen) about it."""
        with self._lock:
            if latest is not None and (
                self._latest is None or note_size(latest) > note_size(self._latest)
            ):
                self._latest = latest
            note = self._latest
        if note is None:
            return
        for witness in self._all():
            if self._status[witness.name].size < note_size(note):
                self._tell(witness, note)

    def _tell(self, witness: Witness, note: str) -> None:
        status = self._status[witness.name]
        try:
            witness.publish(note)
        except (OSError, httpx.HTTPError) as exc:
            with self._lock:
                status.failures += 1
                status.last_error = str(exc) or type(exc).__name__
            log.error("audit witness %s failed (will retry): %s", witness.name, status.last_error)
            return
        with self._lock:
            status.size = max(status.size, note_size(note))
            status.last_error = None

    def status(self) -> list[WitnessStatus]:
        """A snapshot of every witness's progress."""
        with self._lock:
            return [replace(s) for s in self._status.values()]
