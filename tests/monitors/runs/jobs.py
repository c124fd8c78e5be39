"""Backfills over HTTP: request one and wait for the app's worker to bring it to a state."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

ENDED = {"succeeded", "failed", "cancelled"}
State = dict[str, Any]


def ended(job: State) -> bool:
    """Whether a backfill is over."""
    return job["status"] in ENDED


def wait_for(
    client: TestClient,
    location: str,
    headers: dict[str, str],
    reached: Callable[[State], bool] = ended,
    *,
    timeout: float = 60.0,
) -> State:
    """Poll the backfill at ``location`` until ``reached`` holds (by default: until it ended)."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(location, headers=headers)
        assert r.status_code == 200, r.text
        if reached(r.json()):
            return dict(r.json())
        assert time.monotonic() < deadline, f"backfill never got there: {r.json()}"
        time.sleep(0.02)


def backfill(client: TestClient, path: str, body: State, headers: dict[str, str]) -> State:
    """POST a backfill to ``path`` (202, queued) and return it once the worker ended it."""
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued" and r.json()["windows_done"] == 0
    return wait_for(client, r.headers["Location"], headers)
