"""Where commands send their requests: a server (``--url``, ``STEWARD_URL``, a profile) or none.

Resolution, first found wins: ``--url``/``--token``; ``--profile NAME``; ``STEWARD_URL`` and
``STEWARD_TOKEN``; ``STEWARD_PROFILE``. Profiles live in ``profiles.toml`` under the user's
config folder (``~/.config/steward`` on Linux, or ``STEWARD_PROFILES`` names the file)::

    [profiles.prod]
    url = "https://steward.example.com"
    token = "stw_..."            # or token_env = "PROD_STEWARD_TOKEN"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from governance.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StewardError,
    Unauthenticated,
    Unavailable,
)

TIMEOUT = 60.0


@dataclass(kw_only=True, slots=True)
class Flags:
    """The connection flags of one invocation (set by the root command's options)."""

    url: str | None = None
    token: str | None = None
    profile: str | None = None


FLAGS = Flags()


@dataclass(frozen=True, kw_only=True, slots=True)
class Server:
    """A server to call and the token to call it with."""

    url: str
    token: str
    source: str  # how it was chosen, for messages: "--url", "STEWARD_URL", "profile prod"


def profiles_file() -> Path:
    """The profile file: ``STEWARD_PROFILES``, else ``profiles.toml`` in the config folder."""
    named = os.environ.get("STEWARD_PROFILES")
    return Path(named) if named else Path(typer.get_app_dir("steward")) / "profiles.toml"


def _profile(name: str) -> Server:
    path = profiles_file()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"profile {name!r}: no profile file at {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"cannot read the profile file {path}: {exc}") from None
    profiles = data.get("profiles", {})
    entry = profiles.get(name) if isinstance(profiles, dict) else None
    if not isinstance(entry, dict) or not entry.get("url"):
        known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) else ""
        raise InvalidInput(f"no profile {name!r} with a url in {path} (profiles: {known or '-'})")
    token = entry.get("token") or os.environ.get(str(entry.get("token_env", "")), "")
    return Server(url=str(entry["url"]), token=str(token), source=f"profile {name}")


def server() -> Server | None:
    """The server this invocation talks to, or None to act on the local home."""
    if FLAGS.url:
        token = FLAGS.token or os.environ.get("STEWARD_TOKEN", "")
        return Server(url=FLAGS.url, token=token, source="--url")
    if FLAGS.profile:
        return _with_token_flag(_profile(FLAGS.profile))
    if url := os.environ.get("STEWARD_URL"):
        token = FLAGS.token or os.environ.get("STEWARD_TOKEN", "")
        return Server(url=url, token=token, source="STEWARD_URL")
    if name := os.environ.get("STEWARD_PROFILE"):
        return _with_token_flag(_profile(name))
    return None


def _with_token_flag(found: Server) -> Server:
    if not FLAGS.token:
        return found
    return Server(url=found.url, token=FLAGS.token, source=found.source)


def is_remote() -> bool:
    """Whether commands call a server instead of the local database."""
    return server() is not None


class RemoteError(StewardError):
    """An error answer of the server, with its HTTP status (the exit code follows from it)."""

    def __init__(self, detail: str, *, code: str, status: int, **extra: Any) -> None:
        super().__init__(detail, code=code, status=status, **extra)
        self.status = status


_BY_STATUS: dict[int, type[StewardError]] = {
    401: Unauthenticated, 403: PermissionDenied, 404: NotFound, 409: Conflict, 422: InvalidInput,
}  # fmt: skip


def _raise_for(response: Any) -> None:
    """Raise the server's error (code, detail, field errors) as ours; keep the status."""
    if response.status_code < 400:
        return
    try:
        error = response.json()
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    detail = str(error.get("detail") or response.text[:200] or response.reason_phrase)
    code = str(error.get("code", "http_error"))
    extra = {"errors": error["errors"]} if isinstance(error.get("errors"), list) else {}
    raise RemoteError(detail, code=code, status=response.status_code, **extra)


def _send(method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    found = server()
    if found is None:
        raise InvalidInput("no server: set STEWARD_URL (or --url, or --profile)")
    url = f"{found.url.rstrip('/')}/api/v1{path}"
    headers = {"Authorization": f"Bearer {found.token}", **kwargs.pop("headers", {})}
    timeout = kwargs.pop("timeout", TIMEOUT)
    try:
        request = httpx.Request(method, url, headers=headers, **kwargs)
        with httpx.Client(timeout=timeout) as client:
            response = client.send(request)
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"cannot reach the server at {found.url} ({found.source}): {exc}"
        ) from None
    _raise_for(response)
    return response


def remote_status(
    method: str,
    path: str,
    body: Any = None,
    *,
    content: bytes | None = None,
    content_type: str | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    """Call ``/api/v1{path}``; the HTTP status and the JSON answer (None when empty)."""
    headers = {"Content-Type": content_type} if content is not None and content_type else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if params:  # httpx would drop a query already in ``path``
        kwargs["params"] = _params(params)
    if content is not None:
        kwargs["content"] = content
    elif body is not None:
        kwargs["json"] = body
    response = _send(method, path, **kwargs)
    return response.status_code, response.json() if response.content else None


def remote(
    method: str,
    path: str,
    body: Any = None,
    *,
    content: bytes | None = None,
    content_type: str | None = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """Call ``/api/v1{path}`` as the configured token; the JSON answer (None when empty).

    The server's error is raised as a ``RemoteError`` carrying its code, detail, field errors
    and HTTP status, so it prints (and exits) like a local one.
    """
    return remote_status(
        method, path, body, content=content, content_type=content_type, params=params
    )[1]


def remote_bytes(path: str, params: dict[str, Any] | None = None) -> tuple[bytes, str]:
    """GET a file from the server: its bytes and the name it is offered under (or "")."""
    query = {"params": _params(params)} if params else {}
    response = _send("GET", path, timeout=600.0, **query)
    disposition = response.headers.get("content-disposition", "")
    return response.content, Path(disposition.partition('filename="')[2].rstrip('"')).name


def remote_lines(path: str, params: dict[str, Any] | None = None) -> Iterator[str]:
    """GET a text answer from the server, line by line (JSON lines, CSV)."""
    content, _ = remote_bytes(path, params)
    yield from content.decode().splitlines(keepends=True)


def _params(params: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Query parameters without the unset ones; a list value repeats its key."""
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, _text(v)) for v in values if v is not None)
    return pairs


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else str(value)
