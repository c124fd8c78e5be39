"""Projects, datasets, models and endpoints: the registry half of the SDK."""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from steward.client import frames
from steward.client.base import Resource, node_id, seg
from steward.client.models import (
    ArtifactInfo,
    Dataset,
    DatasetVersion,
    Deployment,
    Endpoint,
    Me,
    Model,
    ModelVersion,
    Project,
    RoleBinding,
    Signature,
)

_MEDIA = {".parquet": frames.PARQUET, ".pq": frames.PARQUET, ".csv": "text/csv"}
OCTETS = "application/octet-stream"


def sha256_of(content: bytes | Path) -> str:
    """Hex SHA-256 of bytes or of a file, read in chunks."""
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest()
    digest = hashlib.sha256()
    with content.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Projects(Resource):
    """Projects the caller may see, and the roles in them."""

    def me(self) -> Me:
        """Who the token belongs to, and its roles."""
        return Me.model_validate(self._http.json("GET", "/me"))

    def list(self) -> builtins.list[Project]:
        """Projects where the caller holds a role."""
        return [Project.model_validate(p) for p in self._http.json("GET", "/projects")]

    def create(
        self, name: str, *, description: str = "", retention_days: int | None = None
    ) -> Project:
        """Create a project (the caller becomes its owner)."""
        body = {"name": name, "description": description, "retention_days": retention_days}
        return Project.model_validate(self._http.json("POST", "/projects", json=body))

    def get(self, name: str) -> Project:
        """One project."""
        return Project.model_validate(self._http.json("GET", f"/projects/{seg(name)}"))

    def roles(self, name: str | None = None) -> builtins.list[RoleBinding]:
        """Who holds which role in the project."""
        path = f"/projects/{seg(name or self.project)}/roles"
        return [RoleBinding.model_validate(b) for b in self._http.json("GET", path)]

    def grant(self, principal: str, role: str, *, project: str | None = None) -> RoleBinding:
        """Grant ``role`` in the project to ``principal``."""
        path = f"/projects/{seg(project or self.project)}/roles"
        body = {"principal": principal, "role": role}
        return RoleBinding.model_validate(self._http.json("POST", path, json=body))

    def revoke(self, principal: str, role: str, *, project: str | None = None) -> None:
        """Revoke ``role`` in the project from ``principal``."""
        path = f"/projects/{seg(project or self.project)}/roles/{seg(principal)}/{seg(role)}"
        self._http.request("DELETE", path)


class Datasets(Resource):
    """Datasets and their immutable versions."""

    def list(self) -> builtins.list[Dataset]:
        """Every dataset of the project, by name."""
        return list(self._by_name(Dataset, "/datasets", "name"))

    def versions(self, name: str) -> builtins.list[DatasetVersion]:
        """Every version of a dataset, oldest first."""
        return self._list(DatasetVersion, f"/datasets/{seg(name)}/versions")

    def get(self, name: str, version: str | None = None) -> DatasetVersion:
        """One version of a dataset (the newest when ``version`` is None)."""
        if version is None:
            found: DatasetVersion = self.versions(name)[-1]  # an unknown dataset is a 404
            return found
        return self._get(DatasetVersion, f"/datasets/{seg(name)}/versions/{seg(version)}")

    def upload(
        self,
        name: str,
        data: Path | str | bytes | Any,
        *,
        version: str | None = None,
        media_type: str | None = None,
        description: str = "",
        namespace: str | None = None,
    ) -> DatasetVersion:
        """Upload a file (Parquet, CSV, other bytes) or a frame (sent as Parquet) as a version.

        ``version`` defaults to the first 12 hex digits of the content's SHA-256, so uploading
        the same content again names the same version.
        """
        content, media = _dataset_body(data, media_type)
        digest = sha256_of(content)
        params = {"sha256": digest, "namespace": namespace, "description": description or None}
        tail = f"/datasets/{seg(name)}/versions/{seg(version or digest[:12])}/file"
        headers = {"Content-Type": media}
        found = self._http.json(
            "PUT", self._path(tail), content=content, params=params, headers=headers
        )
        return DatasetVersion.model_validate(found)

    def register(
        self, name: str, *, uri: str, sha256: str, version: str | None = None, **fields: Any
    ) -> DatasetVersion:
        """Register a file the server already holds under the project's dataset root."""
        body = {"name": name, "uri": uri, "sha256": sha256, "version": version, **fields}
        return self._send(DatasetVersion, "POST", "/datasets", body)


def _dataset_body(data: Any, media_type: str | None) -> tuple[bytes | Path, str]:
    if isinstance(data, str):
        data = Path(data)
    if isinstance(data, Path):
        return data, media_type or _MEDIA.get(data.suffix.lower(), OCTETS)
    if isinstance(data, bytes):
        return data, media_type or OCTETS
    return frames.parquet_bytes(frames.to_arrow(data)), frames.PARQUET


class Models(Resource):
    """Registered models: versions with signatures and artifacts, and aliases."""

    def list(self) -> builtins.list[Model]:
        """Every model of the project, by name."""
        return list(self._by_name(Model, "/models", "name"))

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """Every version of a model, oldest first."""
        return self._list(ModelVersion, f"/models/{seg(name)}/versions")

    def get(
        self, name: str, version: int | None = None, *, alias: str | None = None
    ) -> ModelVersion:
        """One version, by number or alias (the newest when neither is given)."""
        if alias is not None:
            return self._get(ModelVersion, f"/models/{seg(name)}/aliases/{seg(alias)}")
        if version is None:
            newest: ModelVersion = self.versions(name)[-1]
            return newest
        return self._get(ModelVersion, f"/models/{seg(name)}/versions/{version}")

    def register(
        self,
        name: str,
        *,
        signature: Signature | BaseModel | Mapping[str, Any],
        artifact: Path | str | bytes | None = None,
        sha256: str | None = None,
        flavor: str = "sklearn",
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        run: Any = None,
        training_data: Sequence[Any] = (),
        derived_from: int | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Register the model's next version and upload its artifact (the server keeps it).

        Without ``artifact``, ``sha256`` registers the version alone (``upload_artifact`` later).

        ``run`` is the producing run (a ``RunHandle`` or its id); ``training_data`` are dataset
        versions (or their ids). A run handle also records the version as its output.
        """
        content = Path(artifact) if isinstance(artifact, str) else artifact
        if content is None and sha256 is None:
            raise ValueError("pass the artifact, or the sha256 of one uploaded later")
        digest = sha256_of(content) if content is not None else sha256
        sig = signature if isinstance(signature, Mapping) else signature.model_dump(mode="json")
        body = {
            "sha256": digest, "flavor": flavor, "signature": sig,
            "metrics": dict(metrics or {}), "tags": dict(tags or {}),
            "run_id": None if run is None else str(node_id(run)),
            "training_data": [str(node_id(t)) for t in training_data],
            "derived_from": derived_from, "description": description,
        }  # fmt: skip
        version = self._send(ModelVersion, "POST", f"/models/{seg(name)}/versions", body)
        if content is not None:
            self.upload_artifact(name, version.version, content)
        if hasattr(run, "add_output"):
            run.add_output(version)
        return version

    def upload_artifact(self, name: str, version: int, artifact: Path | bytes) -> ArtifactInfo:
        """Upload a version's artifact (its SHA-256 must be the registered one)."""
        tail = f"/models/{seg(name)}/versions/{version}/artifact"
        headers = {"Content-Type": OCTETS}
        found = self._http.json("PUT", self._path(tail), content=artifact, headers=headers)
        return ArtifactInfo.model_validate(found)

    def download_artifact(self, name: str, version: int) -> bytes:
        """A version's artifact bytes."""
        tail = f"/models/{seg(name)}/versions/{version}/artifact"
        return self._http.request("GET", self._path(tail)).content

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` (e.g. champion) at ``version``."""
        tail = f"/models/{seg(name)}/aliases/{seg(alias)}"
        self._http.json("PUT", self._path(tail), json={"version": version})

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        self._http.request("DELETE", self._path(f"/models/{seg(name)}/aliases/{seg(alias)}"))


class Endpoints(Resource):
    """Endpoints, what they serve, and their deployment history."""

    def create(self, name: str, *, description: str = "", kind: str = "model") -> Endpoint:
        """Create an endpoint: ``kind`` ``model`` serves model versions, ``llm`` records traces."""
        body = {"name": name, "description": description, "kind": kind}
        return self._send(Endpoint, "POST", "/endpoints", body)

    def list(self) -> builtins.list[Endpoint]:
        """Every endpoint of the project with what it serves now."""
        return list(self._by_name(Endpoint, "/endpoints", "name"))

    def get(self, name: str) -> Endpoint:
        """An endpoint and the model version it serves now."""
        return self._get(Endpoint, f"/endpoints/{seg(name)}")

    def deploy(
        self,
        endpoint: str,
        model: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        note: str = "",
    ) -> Deployment:
        """Serve a model version (by number or alias) at ``endpoint`` from now on."""
        body = {"model": model, "version": version, "alias": alias, "note": note}
        return self._send(Deployment, "POST", f"/endpoints/{seg(endpoint)}/deployments", body)

    def deployments(self, endpoint: str) -> builtins.list[Deployment]:
        """The endpoint's production history, oldest first."""
        return self._list(Deployment, f"/endpoints/{seg(endpoint)}/deployments")

    def served(self, endpoint: str, at: datetime | None = None) -> Deployment:
        """The deployment that served ``endpoint`` at ``at`` (default: now)."""
        params = {"at": at.isoformat() if at else None}
        return self._get(Deployment, f"/endpoints/{seg(endpoint)}/served", **params)
