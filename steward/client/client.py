"""``Steward``: one server, one token, one project; every area of the API as an attribute."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any
from uuid import UUID

import httpx

from steward.client.base import node_id
from steward.client.capture import Inferences
from steward.client.http import Http, RetryPolicy
from steward.client.models import IngestSummary, ScoreResult
from steward.client.monitoring import Alerts, Monitors
from steward.client.pipelines import Pipelines, RunHandle, Runs
from steward.client.registry import Datasets, Endpoints, Models, Projects
from steward.client.reports import Reports

USER_AGENT = "steward-client/0.1"


class Steward:
    """A client of one Steward server.

    ``url`` and ``token`` default to ``STEWARD_URL`` and ``STEWARD_TOKEN``. Pass ``http`` (any
    ``httpx.Client``, e.g. FastAPI's TestClient) or ``transport`` to reach the server another
    way; ``retry`` tunes retries of throttled, unavailable and unanswered requests.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        project: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        url = url if url is not None else os.environ.get("STEWARD_URL", "")
        token = token if token is not None else os.environ.get("STEWARD_TOKEN", "")
        if not token:
            raise ValueError("no token: pass token= or set STEWARD_TOKEN")
        if http is None and not url:
            raise ValueError("no server: pass url= or set STEWARD_URL")
        self._owned = http is None
        client = http or httpx.Client(
            base_url=url.rstrip("/"), timeout=timeout, transport=transport,
            headers={"User-Agent": USER_AGENT},
        )  # fmt: skip
        kw = {"sleep": sleep} if sleep is not None else {}
        self._core = Http(client, token, retry=retry or RetryPolicy(), **kw)
        self._bind(project)

    def _bind(self, project: str | None) -> None:
        self.project = project
        core = self._core
        self.projects = Projects(core, project)
        self.datasets = Datasets(core, project)
        self.models = Models(core, project)
        self.endpoints = Endpoints(core, project)
        self.inferences = Inferences(core, project)
        self.monitors = Monitors(core, project)
        self.alerts = Alerts(core, project)
        self.pipelines = Pipelines(core, project)
        self.runs = Runs(core, project)
        self.reports = Reports(core, project)

    def in_project(self, project: str) -> Steward:
        """The same client (connection pool, token) working in another project."""
        other = object.__new__(Steward)
        other._owned, other._core = False, self._core
        other._bind(project)
        return other

    def __enter__(self) -> Steward:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (only one this client created)."""
        if self._owned:
            self._core.http.close()

    def api(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call a route the SDK has no method for (``path`` under ``/api/v1``), with the same
        token, retries and typed errors; the decoded JSON answer (None for 204)."""
        return self._core.json(method, path, json=json, params=params)

    def health(self) -> dict[str, Any]:
        """The server's health answer (no authentication needed)."""
        found: dict[str, Any] = self._core.json("GET", "/health")
        return found

    def score(self, endpoint: str, data: Any, *, request_key: str | None = None) -> ScoreResult:
        """Predict with ``endpoint``'s deployed version (see ``Inferences.score``)."""
        return self.inferences.score(endpoint, data, request_key=request_key)

    def log_inferences(self, endpoint: str, data: Any, **kw: Any) -> IngestSummary:
        """Log inferences in batches, each stored once (see ``Inferences.log``)."""
        return self.inferences.log(endpoint, data, **kw)

    def log_labels(self, endpoint: str, data: Any, **kw: Any) -> IngestSummary:
        """Log labels in batches, each stored once (see ``Inferences.log_labels``)."""
        return self.inferences.log_labels(endpoint, data, **kw)

    @contextmanager
    def run(
        self,
        job: str,
        *,
        inputs: Sequence[Any] = (),
        parameters: Mapping[str, Any] | None = None,
        code_version: str | None = None,
    ) -> Iterator[RunHandle]:
        """Record a run of ``job`` as lineage: START now, COMPLETE (or FAIL) when the block ends.

        ``inputs`` are dataset or model versions, their ids, dataset names (the newest version)
        or ``(name, version)`` pairs. Versions registered with ``run=`` the handle, or passed to
        ``add_output``, are the run's outputs.
        """
        with self.runs.record(
            job, inputs=inputs, parameters=parameters, code_version=code_version,
            resolve=self._resolve,
        ) as handle:  # fmt: skip
            yield handle

    def _resolve(self, ref: Any) -> UUID:
        if isinstance(ref, tuple):
            return self.datasets.get(ref[0], str(ref[1])).id
        if isinstance(ref, str):
            try:
                return UUID(ref)
            except ValueError:
                return self.datasets.get(ref).id
        return node_id(ref)
