"""Smoke test of the SDK alone, for CI's SDK-only environment (httpx and pydantic, nothing else).

    python tests/client/smoke.py --url http://127.0.0.1:8080 --token "$TOKEN" --project alpha

The token needs dataset, model, endpoint and inference rights in the project (an owner's or an
ml-engineer's). It uploads a CSV dataset, registers a model version by hash, creates and deploys
an endpoint, logs inferences in two batches, reads them back, and exits 0 when all agree.
It also proves that no server package was imported.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import uuid
from datetime import UTC, datetime, timedelta

from steward.client import NotFound, Steward

SERVER_PACKAGES = ("governance", "lineage", "monitors", "retrain", "fastapi", "sqlalchemy", "torch")
SIGNATURE = {
    "inputs": [{"name": "x", "type": "float"}],
    "outputs": [{"name": "prediction", "type": "int"}],
}


def smoke(steward: Steward) -> str:
    """Run the checks; a line saying what was done (raises AssertionError on a mismatch)."""
    tag = uuid.uuid4().hex[:8]
    data = steward.datasets.upload(f"smoke-{tag}", b"x,y\n1.0,0\n2.0,1\n", media_type="text/csv")
    assert data.row_count == 2, data
    assert any(d.name == data.name for d in steward.datasets.list())
    digest = hashlib.sha256(tag.encode()).hexdigest()
    version = steward.models.register(f"smoke-{tag}", signature=SIGNATURE, sha256=digest)
    endpoint = steward.endpoints.create(f"smoke-{tag}")
    steward.endpoints.deploy(endpoint.name, version.model, version=version.version)
    assert any(e.name == endpoint.name for e in steward.endpoints.list())
    start = datetime.now(UTC) - timedelta(minutes=5)
    records = [
        {"correlation_id": f"{tag}-{i}", "timestamp": start + timedelta(seconds=i),
         "features": {"x": float(i)}, "prediction": i % 2}
        for i in range(10)
    ]  # fmt: skip
    logged = steward.log_inferences(endpoint.name, records, max_rows=6)
    assert (logged.rows, len(logged.batches)) == (10, 2), logged
    rows = steward.inferences.read(endpoint.name, start, datetime.now(UTC) + timedelta(minutes=1))
    assert sorted(r["correlation_id"] for r in rows) == sorted(f"{tag}-{i}" for i in range(10))
    try:
        steward.endpoints.get(f"missing-{tag}")
    except NotFound:
        pass
    else:
        raise AssertionError("an unknown endpoint was found")
    loaded = [p for p in SERVER_PACKAGES if p in sys.modules]
    assert not loaded, f"the SDK imported server packages: {loaded}"
    return f"ok: dataset {data.name}, model {version.model} v{version.version}, {len(rows)} rows"


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the smoke test, print the outcome."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="server URL (default: STEWARD_URL)")
    parser.add_argument("--token", default=None, help="bearer token (default: STEWARD_TOKEN)")
    parser.add_argument("--project", required=True)
    args = parser.parse_args(argv)
    with Steward(args.url, args.token, project=args.project) as steward:
        print(smoke(steward))
    return 0


if __name__ == "__main__":
    sys.exit(main())
