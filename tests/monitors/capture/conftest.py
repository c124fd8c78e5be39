"""Fixtures of the capture tests: an endpoint with a deployed model signature, a manual clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from governance.core.clock import ManualClock
from lineage import service as lineage
from lineage.schemas import ColumnSpec, EndpointCreate, ModelCreate, Signature
from monitors.capture.files import ParquetCaptureStore
from monitors.capture.service import capture_files
from steward.api.deps import Services
from tests.builders import OPERATOR, World

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ENDPOINT = "income-api"
CLASSES = ["<=50K", ">50K"]
SIGNATURE = Signature(
    inputs=[
        ColumnSpec(name="age", type="float"),
        ColumnSpec(name="hours", type="int"),
        ColumnSpec(name="job", type="str"),
    ],
    outputs=[ColumnSpec(name="prediction", type="str")],
    task="binary",
    probabilities=True,
    classes=CLASSES,
)


def deploy_endpoint(svc: Services, project: str = "alpha", name: str = ENDPOINT) -> str:
    """Register a model version with SIGNATURE and serve it at endpoint ``name``."""
    lineage.register_model_version(
        svc.db,
        project=project,
        name="income",
        data=ModelCreate(sha256="0" * 64, signature=SIGNATURE),
        actor=OPERATOR,
    )
    lineage.create_endpoint(svc.db, project=project, data=EndpointCreate(name=name), actor=OPERATOR)
    lineage.deploy(svc.db, project=project, endpoint=name, model="income", actor=OPERATOR)
    return name


@pytest.fixture
def endpoint(services: Services, world: World) -> str:
    """Endpoint 'income-api' in 'alpha', serving a model with SIGNATURE."""
    return deploy_endpoint(services)


@pytest.fixture
def clock() -> ManualClock:
    """A clock one day after T0."""
    return ManualClock(T0 + timedelta(days=1))


@pytest.fixture
def files(services: Services) -> ParquetCaptureStore:
    """The Parquet store under the test home."""
    return capture_files(services.settings)


def records(
    n: int,
    *,
    start: int = 0,
    at: datetime = T0,
    step: timedelta = timedelta(seconds=1),
    prefix: str = "c",
) -> list[dict[str, Any]]:
    """``n`` valid inference records with correlation ids ``prefix{start..start+n-1}``."""
    return [
        {
            "correlation_id": f"{prefix}{i}",
            "timestamp": (at + step * i).isoformat(),
            "features": {"age": 20.0 + i % 50, "hours": 40 + i % 7, "job": f"j{i % 3}"},
            "prediction": CLASSES[i % 2],
            "probabilities": [0.7, 0.3] if i % 2 == 0 else [0.2, 0.8],
        }
        for i in range(start, start + n)
    ]


def json_body(recs: list[dict[str, Any]]) -> bytes:
    """A JSON inference batch."""
    return json.dumps({"records": recs}).encode()


def bulk_table(n: int, *, at: datetime = T0, prefix: str = "b") -> pa.Table:
    """``n`` valid rows as a flat Arrow table (the bulk layout)."""
    return pa.table(
        {
            "correlation_id": [f"{prefix}{i}" for i in range(n)],
            "timestamp": pa.array(
                [at + timedelta(seconds=i) for i in range(n)], pa.timestamp("ms")
            ),
            "age": pa.array([30 + i % 40 for i in range(n)], pa.int32()),
            "hours": pa.array([40] * n, pa.int64()),
            "job": [f"j{i % 4}" for i in range(n)],
            "prediction": [CLASSES[i % 2] for i in range(n)],
            "probabilities": [[0.5, 0.5]] * n,
        }
    )


def arrow_stream(table: pa.Table) -> bytes:
    """``table`` as an Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())
