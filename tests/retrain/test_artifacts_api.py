"""Model artifacts through the API: hash-verified, checked by flavour, never unpickled."""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from lineage.schemas import ColumnSpec, ColumnType, Signature, TaskType
from retrain.artifacts.formats import Flavor
from retrain.artifacts.store import artifact_path, find_artifact, load_artifact
from steward.api.deps import Services
from steward.demo.data import load_adult
from tests.builders import World
from tests.conftest import make_settings

MODELS = "/api/v1/projects/alpha/models"
MAX_BYTES = 256 * 1024
NUMERIC = ("age", "education-num", "hours-per-week")
CATEGORICAL = ("sex", "race")
OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Test settings with a small artifact cap, so an oversized upload is cheap."""
    return make_settings(tmp_path / "home", db_url, artifact_max_bytes=MAX_BYTES)


class SideEffect:
    """Unpickling this writes a file: the proof that a pickle was (or was not) loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (Path.write_text, (self.path, "pwned"))  # type: ignore[return-value]


def _adult(rows: int = 2000) -> pa.Table:
    return load_adult().slice(0, rows)


def _signature(*, numeric_only: bool = False) -> Signature:
    inputs = [ColumnSpec(name=n, type=ColumnType.int) for n in NUMERIC]
    if not numeric_only:
        inputs += [ColumnSpec(name=n, type=ColumnType.str) for n in CATEGORICAL]
    return Signature(
        inputs=inputs, task=TaskType.binary, probabilities=True, classes=["<=50K", ">50K"]
    )


def _register(client: TestClient, world: World, data: bytes, flavor: str, **extra: Any) -> int:
    body = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "flavor": flavor,
        "signature": (extra.pop("signature", None) or _signature()).model_dump(mode="json"),
        **extra,
    }
    r = client.post(f"{MODELS}/m/versions", json=body, headers=world.headers("ml-engineer"))
    assert r.status_code == 201, r.text
    return int(r.json()["version"])


def _put(client: TestClient, world: World, version: int, data: bytes, role: str = "ml-engineer"):  # type: ignore[no-untyped-def]
    url = f"{MODELS}/m/versions/{version}/artifact"
    return client.put(url, content=data, headers={**OCTET, **world.headers(role)})


def _pipeline(table: pa.Table) -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = table.select([*NUMERIC, *CATEGORICAL]).to_pandas()
    labels = table.column("income").to_pylist()
    model = make_pipeline(
        make_column_transformer(
            (StandardScaler(), list(NUMERIC)),
            (OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
        ),
        LogisticRegression(max_iter=500),
    )
    return model.fit(frame, labels)


def _skops(model: Any) -> bytes:
    import skops.io as sio

    return bytes(sio.dumps(model))


def test_a_skops_pipeline_round_trips_and_scores_like_the_estimator(
    client: TestClient, world: World, services: Services
) -> None:
    table = _adult()
    model = _pipeline(table.slice(0, 1500))
    data = _skops(model)
    version = _register(client, world, data, "sklearn")
    r = _put(client, world, version, data)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "model": "m", "version": version, "sha256": hashlib.sha256(data).hexdigest(),
        "flavor": "sklearn", "size": len(data),
    }  # fmt: skip
    assert _put(client, world, version, data).status_code == 201  # the same bytes again
    got = client.get(f"{MODELS}/m/versions/{version}/artifact", headers=world.headers("viewer"))
    assert got.status_code == 200 and got.content == data
    assert got.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    root = services.settings.artifact_dir
    assert root is not None
    stored = find_artifact(services.db, project="alpha", model="m", version=version, root=root)
    assert stored.path == artifact_path(root, stored.sha256)
    assert stored.path.stat().st_mode & 0o777 == 0o600
    held_out = table.slice(1500)
    scored = load_artifact(stored).predict(held_out)
    frame = held_out.select([*NUMERIC, *CATEGORICAL]).to_pandas()
    assert scored.predictions == model.predict(frame).tolist()
    assert scored.probabilities is not None
    np.testing.assert_array_equal(scored.probabilities, model.predict_proba(frame))


def test_a_pickle_posing_as_sklearn_or_torch_is_refused_without_being_loaded(
    client: TestClient, world: World, services: Services, tmp_path: Path
) -> None:
    proof = tmp_path / "side-effect"
    data = pickle.dumps(SideEffect(proof))
    for flavor in ("sklearn", "torch"):
        version = _register(client, world, data, flavor)
        r = _put(client, world, version, data)
        assert r.status_code == 422 and r.json()["code"] == "invalid_artifact", r.text
        assert not proof.exists()  # the pickle's code never ran
    root = services.settings.artifact_dir
    assert root is not None
    assert not artifact_path(root, hashlib.sha256(data).hexdigest()).exists()
    assert not any((root / "sha256" / "incoming").iterdir())  # nothing left behind
    pickle.loads(data)  # the proof works: loading it would have written the file
    assert proof.read_text() == "pwned"


def test_bytes_other_than_registered_oversized_or_of_unknown_flavour_are_refused(
    client: TestClient, world: World
) -> None:
    data = _skops(_pipeline(_adult(300)))
    version = _register(client, world, data, "sklearn")
    r = _put(client, world, version, data + b"\0")
    assert r.status_code == 409 and r.json()["code"] == "artifact_mismatch"
    big = b"\0" * (MAX_BYTES + 1)
    version = _register(client, world, big, "sklearn")
    assert _put(client, world, version, big).status_code == 413
    version = _register(client, world, data, "xgboost")
    r = _put(client, world, version, data)
    assert r.status_code == 422 and r.json()["code"] == "unsupported_flavor"
    assert "sklearn, onnx, torchscript, torch" in r.json()["detail"]


def test_types_outside_the_trust_list_are_named_and_refused(
    client: TestClient, world: World
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    model = HistGradientBoostingClassifier(max_iter=5).fit(rng.random((60, 2)), np.arange(60) % 2)
    data = _skops(model)
    version = _register(client, world, data, "sklearn")
    r = _put(client, world, version, data)
    assert r.status_code == 422 and r.json()["code"] == "untrusted_types"
    assert "TreePredictor" in r.json()["detail"]


def test_onnx_and_torchscript_score_as_their_graphs_and_a_state_dict_cannot(
    client: TestClient, world: World, services: Services, tmp_path: Path
) -> None:
    import torch

    table = _adult(200)
    signature = _signature(numeric_only=True)
    x = np.column_stack([table.column(n).to_numpy().astype(np.float32) for n in NUMERIC])
    weights = np.array([[0.05], [0.3], [0.02]], dtype=np.float32)
    expected = 1 / (1 + np.exp(-(x @ weights - 4.0)))
    root = services.settings.artifact_dir
    assert root is not None

    network = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(dim=1))
    path = tmp_path / "m.pt"
    torch.jit.save(torch.jit.script(network), str(path))
    state = io.BytesIO()
    torch.save(network.state_dict(), state)
    for flavor, data in (
        ("onnx", _onnx_logistic(weights, -4.0)),
        ("torchscript", path.read_bytes()),
        ("torch", state.getvalue()),
    ):
        version = _register(client, world, data, flavor, signature=signature)
        assert _put(client, world, version, data).status_code == 201, flavor
        stored = find_artifact(services.db, project="alpha", model="m", version=version, root=root)
        assert stored.flavor is Flavor(flavor)
        if flavor == "torch":
            with pytest.raises(Exception, match="state dict holds weights"):
                load_artifact(stored)
            continue
        scored = load_artifact(stored).predict(table)
        assert scored.probabilities is not None
        if flavor == "onnx":
            np.testing.assert_allclose(scored.probabilities[:, 1], expected[:, 0], rtol=1e-5)
        else:
            with torch.no_grad():
                want = network(torch.from_numpy(x)).numpy()
            np.testing.assert_allclose(scored.probabilities, want, rtol=1e-6)
        assert set(scored.predictions) <= {"<=50K", ">50K"}


def _onnx_logistic(weights: np.ndarray, bias: float) -> bytes:
    """A one-output ONNX graph: sigmoid(x @ w + b), the positive class's probability."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["p"]),
        ],
        "logistic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, weights.shape[0]])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [None, 1])],
        initializer=[
            numpy_helper.from_array(weights, "w"),
            numpy_helper.from_array(np.array([bias], dtype=np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def test_reads_follow_the_model_permissions_and_a_changed_file_is_not_served(
    client: TestClient, world: World, services: Services
) -> None:
    data = _skops(_pipeline(_adult(300)))
    version = _register(client, world, data, "sklearn")
    url = f"{MODELS}/m/versions/{version}/artifact"
    assert client.get(url, headers=world.headers("viewer")).status_code == 404  # not uploaded
    assert _put(client, world, version, data, role="viewer").status_code == 403
    assert _put(client, world, version, data, role="app-developer").status_code == 403
    assert _put(client, world, version, data).status_code == 201
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    assert client.get(url, headers=outsider).status_code in (403, 404)
    root = services.settings.artifact_dir
    assert root is not None
    path = artifact_path(root, hashlib.sha256(data).hexdigest())
    path.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:])  # someone with the disk edits it
    r = client.get(url, headers=world.headers("viewer"))
    assert r.status_code == 409 and r.json()["code"] == "artifact_corrupt"
