"""Projects, datasets, models, endpoints, scoring and recorded runs through the SDK."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from steward.client import Forbidden, NotFound, Steward
from steward.demo.data import load_adult
from tests.retrain.test_artifacts_api import CATEGORICAL, NUMERIC, _pipeline, _skops
from tests.retrain.test_scoring_api import _signature


def test_projects_are_created_listed_and_shared(admin: Steward, steward: Steward) -> None:
    created = admin.projects.create("gamma", description="the third")
    assert created.name == "gamma" and admin.projects.get("gamma").description == "the third"
    assert {"alpha", "beta", "gamma"} <= {p.name for p in admin.projects.list()}
    assert "gamma" not in {p.name for p in steward.projects.list()}
    admin.projects.grant("ml-engineer-user", "viewer", project="gamma")
    assert "gamma" in {p.name for p in steward.projects.list()}
    assert steward.projects.me().roles["gamma"] == ["viewer"]
    with pytest.raises(Forbidden):
        steward.in_project("gamma").endpoints.create("nope")


def test_datasets_upload_files_and_frames(steward: Steward, tmp_path: Path) -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    path = tmp_path / "train.parquet"
    pq.write_table(table, path)
    from_file = steward.datasets.upload("train", path, version="v1")
    assert (from_file.version, from_file.row_count) == ("v1", 3)
    assert [c.name for c in from_file.columns] == ["x", "y"]
    from_frame = steward.datasets.upload("train", table.to_pandas().head(2))
    assert from_frame.row_count == 2 and len(from_frame.version) == 12
    assert [v.version for v in steward.datasets.versions("train")] == ["v1", from_frame.version]
    assert steward.datasets.get("train").id == from_frame.id
    assert steward.datasets.get("train", "v1").sha256 == from_file.sha256
    assert [d.name for d in steward.datasets.list()] == ["train"]
    with pytest.raises(NotFound):
        steward.datasets.get("nothing")


def test_a_model_is_registered_with_its_artifact_deployed_and_scores(
    steward: Steward, world: object
) -> None:
    adult = load_adult().slice(0, 1200)
    model = _pipeline(adult.slice(0, 1000))
    artifact = _skops(model)
    train = steward.datasets.upload("adult", adult.slice(0, 1000).to_pandas())
    with steward.run("fit-income", inputs=[train], parameters={"C": 1.0}) as run:
        version = steward.models.register(
            "income", signature=_signature(), artifact=artifact, run=run,
            training_data=[train], metrics={"auc": 0.9},
        )  # fmt: skip
    recorded = steward.runs.get(run.id)
    assert recorded.state == "COMPLETE" and recorded.parameters == {"C": 1.0}
    assert recorded.inputs == [train.id] and recorded.outputs == [version.id]
    assert steward.models.download_artifact("income", version.version) == artifact
    steward.models.set_alias("income", "champion", version.version)
    assert steward.models.get("income", alias="champion").id == version.id
    assert steward.models.list()[0].aliases == {"champion": 1}
    steward.endpoints.create("income")
    deployed = steward.endpoints.deploy("income", "income", alias="champion")
    assert steward.endpoints.served("income").version == deployed.version == 1
    assert [d.version for d in steward.endpoints.deployments("income")] == [1]
    assert steward.endpoints.get("income").model_version is not None
    rows = adult.slice(1000, 30).select([*NUMERIC, *CATEGORICAL])
    frame = rows.to_pandas()
    by_frame = steward.score("income", frame)
    assert by_frame.predictions == model.predict(frame).tolist()
    records = [{"correlation_id": f"q{i}", "features": r} for i, r in enumerate(rows.to_pylist())]
    by_json = steward.score("income", records)
    assert by_json.predictions == by_frame.predictions and by_json.correlation_ids[0] == "q0"


def test_a_failing_block_records_a_failed_run_and_raises(steward: Steward) -> None:
    data = steward.datasets.upload("raw", b"a,b\n1,2\n", media_type="text/csv")
    with pytest.raises(RuntimeError, match="diverged"), steward.run("fit", inputs=["raw"]) as run:
        raise RuntimeError("diverged")
    failed = steward.runs.get(run.id)
    assert failed.state == "FAIL" and failed.inputs == [data.id]
    assert "diverged" in failed.model_dump()["facets"]["errorMessage"]["message"]
