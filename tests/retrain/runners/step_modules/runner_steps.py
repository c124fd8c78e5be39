"""Steps the runner tests execute (imported by the child through the task's python_path)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from retrain.step import DatasetInput, ModelInput, ModelOutput, StepContext


def sleeper(ctx: StepContext, seconds: float = 60.0) -> dict[str, Any]:
    """Start a child process that sleeps, record its pid, then sleep too."""
    child = subprocess.Popen(["sleep", str(seconds)])
    (ctx.workdir / "child.pid").write_text(str(child.pid))
    print("ready", flush=True)
    time.sleep(seconds)
    return {}


def chatter(ctx: StepContext, lines: int = 100) -> dict[str, Any]:
    """Print numbered lines to stdout and stderr in turn, and through the step's logger."""
    print("first", flush=True)
    deadline = time.monotonic() + 20
    # the test creates "go" when it has received "first": proof that lines stream while we run
    while not (ctx.workdir / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the first line never reached the runner")
        time.sleep(0.01)
    for i in range(lines):
        print(f"line {i}", file=sys.stdout if i % 2 else sys.stderr)
    ctx.log.info("logged")
    return {}


def hog(ctx: StepContext, megabytes: int) -> dict[str, Any]:
    """Allocate and touch ``megabytes`` of memory."""
    block = bytearray(megabytes * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])
    return {"size": len(block)}


def spin(ctx: StepContext) -> dict[str, Any]:
    """Burn CPU until stopped."""
    while True:
        sum(range(10_000))


def escape(ctx: StepContext, target: str, link: bool = False) -> dict[str, Any]:
    """Write ``target`` (outside the work directory) and return it, or a symlink to it."""
    path = Path(target)
    path.write_text("outside")
    if link:
        inside = ctx.workdir / "link.parquet"
        inside.symlink_to(path)
        return {"data": inside}
    return {"data": path}


def environment(ctx: StepContext) -> dict[str, Any]:
    """The names of the environment variables the step sees."""
    return {"names": sorted(os.environ)}


def fail(ctx: StepContext, message: str) -> dict[str, Any]:
    """Raise ``ValueError(message)``."""
    raise ValueError(message)


def nothing(ctx: StepContext) -> dict[str, Any]:
    """Return no outputs at all."""
    return {}


def describe(
    ctx: StepContext,
    data: DatasetInput,
    model: ModelInput,
    scores: dict[str, float],
    epochs: int,
    literal: list[int],
) -> dict[str, Any]:
    """What the step received, as outputs of every kind."""
    out = ctx.workdir / "out" / "copy.parquet"
    out.parent.mkdir()
    out.write_bytes(data.path.read_bytes())
    model_file = ctx.workdir / "model.bin"
    model_file.write_bytes(model.path.read_bytes())
    seen = {
        "cwd": os.getcwd() == str(ctx.workdir),
        "data": [type(data).__name__, data.name, data.version, data.digest],
        "model": [type(model).__name__, model.flavor, model.name, model.version],
        "scores": scores,
        "epochs": epochs,
        "literal": literal,
        "step": ctx.step,
        "run": str(ctx.run_id),
    }
    signature = model.signature
    return {
        "seen": seen,
        "copy": out,
        "model": ModelOutput(path=model_file, flavor=model.flavor, signature=signature),
        "metrics": {"a": 1, "b": 0.5},
    }
