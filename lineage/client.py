"""A small HTTP client for training scripts: register data, log runs, register and deploy models.

    from lineage.client import LineageClient

    with LineageClient("http://steward:8080", token, project="credit") as steward:
        train = steward.register_dataset("train", Path("data/train.parquet"))
        with steward.run("train-churn", inputs=[train["id"]]) as run:
            model = fit(...)
            dump(model, "model.skops")
        version = steward.register_model(
            "churn", Path("model.skops"), signature=sig, run_id=run.id, training_data=[train["id"]]
        )
        steward.deploy("churn-api", "churn", version=version["version"])

Errors come back as the same exception classes the server raised (``NotFound``, ``Conflict``,
``PermissionDenied`` ...), carrying the server's stable code and message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from uuid import UUID

import httpx

from governance.core import errors
from governance.core.clock import isoformat, utcnow
from governance.core.ids import new_id
from lineage.datafile import inspect_path, sha256_file
from lineage.schemas import Signature

_BY_CODE: dict[str, type[errors.StewardError]] = {
    cls.code: cls
    for cls in (
        errors.NotFound,
        errors.Conflict,
        errors.InvalidInput,
        errors.InvalidState,
        errors.Unauthenticated,
        errors.PermissionDenied,
        errors.TooLarge,
        errors.Unavailable,
    )
}

Json = dict[str, Any]


@dataclass(kw_only=True)
class RunHandle:
    """A run being logged; outputs may be added before it completes."""

    id: UUID
    job: str
    outputs: list[str] = field(default_factory=list)


class LineageClient:
    """Talks to one Steward project over its REST API with a bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        project: str,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.project = project
        self._own = http is None
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}"}

    def __enter__(self) -> LineageClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool (only one this client created)."""
        if self._own:
            self.http.close()

    def _call(self, method: str, path: str, body: Json | None = None, **params: Any) -> Any:
        url = f"/api/v1/projects/{self.project}{path}"
        response = self.http.request(
            method, url, json=body, params=params or None, headers=self._headers
        )
        if response.status_code >= 400:
            _raise(response)
        return None if response.status_code == 204 else response.json()

    def register_dataset(
        self,
        name: str,
        path: Path,
        *,
        namespace: str | None = None,
        version: str | None = None,
        facets: Json | None = None,
        description: str = "",
    ) -> Json:
        """Hash a file or Parquet folder locally, read its schema and rows, and register it."""
        facts = inspect_path(path)
        body = {
            "name": name,
            "namespace": namespace,
            "uri": facts.uri,
            "version": version,
            "sha256": facts.sha256,
            "row_count": facts.row_count,
            "facets": facets or {},
            "columns": [c.model_dump(mode="json") for c in facts.columns],
            "description": description,
        }
        result: Json = self._call("POST", "/datasets", body)
        return result

    def log_run(
        self,
        job: str,
        *,
        run_id: UUID | None = None,
        state: str = "COMPLETE",
        inputs: Sequence[str | UUID] = (),
        outputs: Sequence[str | UUID] = (),
        parameters: Json | None = None,
        code_version: str | None = None,
        started_at: str | None = None,
        ended_at: str | None = None,
        facets: Json | None = None,
    ) -> Json:
        """Record (or update) a run of ``job`` with its input and output node ids."""
        body = {
            "job": job,
            "run_id": str(run_id) if run_id else None,
            "state": state,
            "inputs": [str(i) for i in inputs],
            "outputs": [str(o) for o in outputs],
            "parameters": parameters or {},
            "code_version": code_version,
            "started_at": started_at,
            "ended_at": ended_at,
            "facets": facets or {},
        }
        result: Json = self._call("POST", "/runs", body)
        return result

    @contextmanager
    def run(
        self,
        job: str,
        *,
        inputs: Sequence[str | UUID] = (),
        parameters: Json | None = None,
        code_version: str | None = None,
    ) -> Iterator[RunHandle]:
        """Log START now and COMPLETE (or FAIL, on an exception) when the block ends."""
        handle = RunHandle(id=new_id(), job=job)
        common: Json = {"inputs": inputs, "parameters": parameters, "code_version": code_version}
        self.log_run(job, run_id=handle.id, state="START", started_at=isoformat(utcnow()), **common)
        try:
            yield handle
        except BaseException:
            self.log_run(
                job, run_id=handle.id, state="FAIL", ended_at=isoformat(utcnow()), **common
            )
            raise
        self.log_run(
            job,
            run_id=handle.id,
            state="COMPLETE",
            ended_at=isoformat(utcnow()),
            outputs=handle.outputs,
            **common,
        )

    def register_model(
        self,
        name: str,
        artifact: Path,
        *,
        signature: Signature | Json,
        flavor: str = "sklearn",
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
        run_id: UUID | None = None,
        training_data: Sequence[str | UUID] = (),
        derived_from: int | None = None,
        description: str = "",
    ) -> Json:
        """Hash a model artifact and register it as the model's next version."""
        sig = signature.model_dump(mode="json") if isinstance(signature, Signature) else signature
        body = {
            "artifact_uri": artifact.resolve().as_uri(),
            "sha256": sha256_file(artifact),
            "flavor": flavor,
            "signature": sig,
            "metrics": metrics or {},
            "tags": tags or {},
            "run_id": str(run_id) if run_id else None,
            "training_data": [str(t) for t in training_data],
            "derived_from": derived_from,
            "description": description,
        }
        result: Json = self._call("POST", f"/models/{name}/versions", body)
        return result

    def set_alias(self, model: str, alias: str, version: int) -> Json:
        """Point ``alias`` (e.g. champion) at ``version``."""
        result: Json = self._call("PUT", f"/models/{model}/aliases/{alias}", {"version": version})
        return result

    def create_endpoint(self, name: str, description: str = "") -> Json:
        """Create an endpoint."""
        body = {"name": name, "description": description}
        result: Json = self._call("POST", "/endpoints", body)
        return result

    def deploy(
        self,
        endpoint: str,
        model: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        note: str = "",
    ) -> Json:
        """Serve a model version (by number or alias) at ``endpoint`` from now on."""
        body = {"model": model, "version": version, "alias": alias, "note": note}
        result: Json = self._call("POST", f"/endpoints/{endpoint}/deployments", body)
        return result

    def endpoint(self, name: str) -> Json:
        """An endpoint with the model version it serves now."""
        result: Json = self._call("GET", f"/endpoints/{name}")
        return result

    def upstream(self, node_id: str | UUID, *, depth: int = 10) -> Json:
        """The upstream subgraph of a node."""
        result: Json = self._call("GET", f"/lineage/nodes/{node_id}/upstream", depth=depth)
        return result

    def downstream(self, node_id: str | UUID, *, depth: int = 10) -> Json:
        """The downstream subgraph of a node."""
        result: Json = self._call("GET", f"/lineage/nodes/{node_id}/downstream", depth=depth)
        return result


def _raise(response: httpx.Response) -> None:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = str(body.get("code", "error"))
    detail = str(body.get("detail", f"HTTP {response.status_code}"))
    raise _BY_CODE.get(code, errors.StewardError)(detail, code=code)
