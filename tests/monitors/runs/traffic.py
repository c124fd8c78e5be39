"""Set-up shared by the monitor-run tests: a deployed model, a reference file, inferences."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from lineage import service as lineage
from lineage.schemas import ColumnSpec, EndpointCreate, ModelCreate, Signature
from steward.api.deps import Services
from tests.builders import OPERATOR, World

PROJECT = "/api/v1/projects/alpha"


def deploy(
    services: Services, signature: Signature, *, endpoint: str = "scorer", model: str = "income"
) -> None:
    """Register a model version with ``signature`` and deploy it to a new endpoint in 'alpha'."""
    digest = hashlib.sha256(f"{model}/{endpoint}".encode()).hexdigest()
    data = ModelCreate(sha256=digest, signature=signature)
    db = services.db
    lineage.register_model_version(db, project="alpha", name=model, data=data, actor=OPERATOR)
    lineage.create_endpoint(db, project="alpha", data=EndpointCreate(name=endpoint), actor=OPERATOR)
    lineage.deploy(db, project="alpha", endpoint=endpoint, model=model, actor=OPERATOR)


def register_reference(
    client: TestClient, world: World, settings: Settings, table: pa.Table, name: str = "ref"
) -> None:
    """Write ``table`` under the project's dataset root and register it as dataset ``name``."""
    path = settings.dataset_roots[0] / "alpha" / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    body = {"name": name, "uri": str(path), "sha256": digest}
    r = client.post(f"{PROJECT}/datasets", json=body, headers=world.headers("data-scientist"))
    assert r.status_code == 201, r.text


def send(
    client: TestClient,
    world: World,
    records: list[dict[str, Any]],
    *,
    endpoint: str = "scorer",
    labels: list[dict[str, Any]] | None = None,
) -> None:
    """Post inferences (and labels) to ``endpoint`` as the app developer."""
    headers = world.headers("app-developer")
    base = f"{PROJECT}/endpoints/{endpoint}"
    r = client.post(f"{base}/inferences", content=json.dumps({"records": records}), headers=headers)
    assert r.status_code == 201, r.text
    if labels is not None:
        r = client.post(f"{base}/labels", json={"labels": labels}, headers=headers)
        assert r.status_code == 201, r.text


# A small model of ages and sexes predicting income, with traffic like its reference's.
T0 = datetime(2026, 3, 1, tzinfo=UTC)
CLASSES = ["<=50K", ">50K"]
AGE_SEX = Signature(
    inputs=[ColumnSpec(name="age", type="float"), ColumnSpec(name="sex", type="str")],
    outputs=[ColumnSpec(name="prediction", type="str")],
    task="binary",
    classes=CLASSES,
)


def age_sex_reference(rows: int) -> pa.Table:
    """``rows`` reference rows: ages 20-69, alternating sexes, >50K predicted one time in four."""
    i = range(rows)
    return pa.table(
        {
            "age": pa.array([20.0 + k % 50 for k in i]),
            "sex": ["M" if k % 2 else "F" for k in i],
            "prediction": [CLASSES[k % 4 == 0] for k in i],
        }
    )


def age_sex_day(day: int, rows: int, *, shift: float, minutes: int) -> list[dict[str, Any]]:
    """A day of inferences like the reference, ages shifted by ``shift``, ``minutes`` apart."""
    start = T0 + timedelta(days=day)
    return [
        {
            "correlation_id": f"d{day}-{k}",
            "timestamp": (start + timedelta(minutes=minutes * k)).isoformat(),
            "features": {"age": 20.0 + k % 50 + shift, "sex": "M" if k % 2 else "F"},
            "prediction": CLASSES[k % 4 == 0],
        }
        for k in range(rows)
    ]


def apply_yaml(client: TestClient, world: World, text: str) -> Any:
    """``POST .../monitors/apply`` of a YAML document as the data scientist; the response."""
    headers = world.headers("data-scientist") | {"Content-Type": "application/yaml"}
    return client.post(f"{PROJECT}/monitors/apply", content=text, headers=headers)


def run_day(client: TestClient, world: World, monitor: str, day: int) -> dict[str, Any]:
    """Run ``monitor``'s window ending at the end of ``day`` (after T0) over HTTP; the run."""
    body = {"window_end": (T0 + timedelta(days=day + 1)).isoformat()}
    r = client.post(
        f"{PROJECT}/monitors/{monitor}/run", json=body, headers=world.headers("ml-engineer")
    )
    assert r.status_code == 200, r.text
    return dict(r.json()["run"])
