"""The Python client a training script uses, and ``steward lineage show``."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from governance.core.errors import NotFound, PermissionDenied
from governance.core.settings import Settings
from lineage.client import LineageClient
from lineage.schemas import ColumnSpec, ColumnType, Signature
from steward.cli import app as cli_app
from steward.cli import context
from tests.builders import World

SIG = Signature(inputs=[ColumnSpec(name="x", type=ColumnType.float)])


def _training(
    client: TestClient, world: World, tmp_path: Path, settings: Settings
) -> dict[str, object]:
    data = settings.dataset_roots[0] / "alpha" / "train.parquet"
    data.parent.mkdir(parents=True)
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}), data)
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"weights")
    steward = LineageClient("", world.tokens["ml-engineer"], project="alpha", http=client)
    train = steward.register_dataset("train", data)
    assert train["row_count"] == 3 and [c["name"] for c in train["columns"]] == ["x", "y"]
    with steward.run("fit-churn", inputs=[train["id"]], parameters={"C": 1.0}) as run:
        pass
    version = steward.register_model(
        "churn",
        artifact,
        signature=SIG,
        run_id=run.id,
        training_data=[train["id"]],
        metrics={"auc": 0.9},
    )
    steward.set_alias("churn", "champion", version["version"])
    steward.create_endpoint("churn-api")
    steward.deploy("churn-api", "churn", alias="champion")
    return {"steward": steward, "train": train, "version": version, "run": run}


def test_training_script_flow(
    client: TestClient, world: World, tmp_path: Path, settings: Settings
) -> None:
    got = _training(client, world, tmp_path, settings)
    steward: LineageClient = got["steward"]  # type: ignore[assignment]
    ep = steward.endpoint("churn-api")
    assert (
        ep["model_version"]["version"] == 1
        and ep["model_version"]["signature"]["inputs"][0]["name"] == "x"
    )
    down = steward.downstream(got["train"]["id"])  # type: ignore[index]
    kinds = sorted(n["kind"] for n in down["nodes"])
    assert kinds == ["dataset_version", "endpoint", "model_version", "run"]
    impact = client.get(
        f"/api/v1/projects/alpha/lineage/nodes/{got['train']['id']}/impact",  # type: ignore[index]
        headers=world.headers("viewer"),
    ).json()
    assert sorted(n["kind"] for n in impact["nodes"]) == [
        "dataset_version",
        "endpoint",
        "model_version",
    ]
    with pytest.raises(NotFound):
        steward.endpoint("nope")
    viewer = LineageClient("", world.tokens["viewer"], project="alpha", http=client)
    with pytest.raises(PermissionDenied):
        viewer.create_endpoint("other")


def test_lineage_show_cli(
    client: TestClient,
    world: World,
    tmp_path: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _training(client, world, tmp_path, settings)
    monkeypatch.setenv("STEWARD_HOME", str(settings.home))
    monkeypatch.setenv("STEWARD_DATABASE_URL", settings.database_url)
    context.settings.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(
            cli_app, ["lineage", "show", "endpoint:churn-api", "-p", "alpha", "--format", "mermaid"]
        )
        assert r.exit_code == 0, r.output
        assert r.output.startswith("flowchart LR") and "model_version: churn@1" in r.output
        r = runner.invoke(
            cli_app,
            ["lineage", "show", "model:churn@1", "-p", "alpha", "--direction", "downstream"],
        )
        assert (
            r.exit_code == 0 and "digraph lineage" in r.output and "endpoint: churn-api" in r.output
        )
        r = runner.invoke(cli_app, ["lineage", "history", "churn-api", "-p", "alpha"])
        assert r.exit_code == 0 and "churn" in r.output
        out = tmp_path / "events.jsonl"
        r = runner.invoke(cli_app, ["lineage", "export", "-p", "alpha", "-o", str(out)])
        assert r.exit_code == 0 and out.read_text().count("\n") >= 2
        r = runner.invoke(cli_app, ["lineage", "ingest", str(out), "-p", "beta"])
        assert r.exit_code == 0 and "applied" in r.output, r.output
    finally:
        context.settings.cache_clear()
