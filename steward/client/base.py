"""What every resource of the SDK shares: the HTTP core, the project, paging, node references."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar
from urllib.parse import quote
from uuid import UUID

from pydantic import BaseModel, TypeAdapter

from steward.client.http import Http

M = TypeVar("M", bound=BaseModel)
PAGE = 500  # the server's largest page


def seg(value: str | int) -> str:
    """One URL path segment (names may hold ``/`` and ``@``)."""
    return quote(str(value), safe="")


class Resource:
    """A group of API calls in one project."""

    def __init__(self, http: Http, project: str | None) -> None:
        self._http = http
        self._project = project

    @property
    def project(self) -> str:
        """The project these calls go to."""
        if not self._project:
            raise ValueError("no project: pass project= to Steward(...) or use .in_project(name)")
        return self._project

    def _path(self, tail: str = "") -> str:
        return f"/projects/{seg(self.project)}{tail}"

    def _get(self, cls: type[M], tail: str, /, **params: Any) -> M:
        return cls.model_validate(self._http.json("GET", self._path(tail), params=params))

    def _list(self, cls: type[M], tail: str, /, **params: Any) -> list[M]:
        found = self._http.json("GET", self._path(tail), params=params)
        return TypeAdapter(list[cls]).validate_python(found)  # type: ignore[valid-type]

    def _send(self, cls: type[M], method: str, tail: str, body: Any = None, **kw: Any) -> M:
        found = self._http.json(method, self._path(tail), json=body, **kw)
        return cls.model_validate(found)

    def _by_name(self, cls: type[M], tail: str, key: str, /, **params: Any) -> Iterator[M]:
        """Every item of a list that pages by a cursor of the last item's ``key``."""
        cursor: str | None = None
        while True:
            page = self._list(cls, tail, limit=PAGE, cursor=cursor, **params)
            yield from page
            if len(page) < PAGE:
                return
            cursor = str(getattr(page[-1], key))


def node_id(ref: Any) -> UUID:
    """The lineage node id of a dataset or model version (the model, or its id)."""
    found = getattr(ref, "id", ref)
    if isinstance(found, UUID):
        return found
    if isinstance(found, str):
        return UUID(found)
    raise TypeError(f"not a lineage node: {ref!r} (pass a DatasetVersion, ModelVersion or id)")
