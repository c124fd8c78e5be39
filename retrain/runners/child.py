"""The process one pipeline step runs in: ``python -m retrain.runners.child TASK.json``.

It checks the step's function against the allowed module prefixes before importing anything
of the step's, applies the resource limits, imports the function, turns the JSON arguments into
``retrain.step`` objects, calls ``fn(ctx, **arguments)``, and writes what the step returned as
JSON to ``OUTPUTS_FILE`` in the work directory: ``{"outputs": {...}}``, or ``{"error": "one
line"}`` with a non-zero exit code. Arguments are tagged JSON objects:

- ``{"kind": "dataset", "path", "name", "version", "digest"}`` -> ``DatasetInput``
- ``{"kind": "model", "path", "flavor", "signature", "name", "version", "trusted"?}`` ->
  ``ModelInput`` (``trusted``: skops types to trust when loading it)
- ``{"kind": "metrics", "values": {...}}`` -> ``dict[str, float]``
- ``{"kind": "parameter", "value": v}`` -> ``v`` (any other JSON value is passed as it is)

Input paths are relative to the work directory (or absolute). Outputs are tagged the same way:
``{"kind": "dataset", "path"}``, ``{"kind": "model", "path", "flavor", "signature"}``,
``{"kind": "metrics", "values"}``, ``{"kind": "parameter", "value"}``, every path relative to the
work directory (a path that resolves outside it fails the step).
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from retrain.runners.base import ResourceLimits, StepOutcome, StepStatus, StepTask

TASK_FILE = ".step-task.json"
OUTPUTS_FILE = ".step-outputs.json"
EXIT_FAILED = 1
EXIT_REFUSED = 2
MAX_ERROR = 500
_FUNCTION = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)$")


class StepError(Exception):
    """The step cannot run, or returned something Steward cannot take."""


def split_function(function: str) -> tuple[str, str]:
    """``"package.module:function"`` as (module, function); StepError when malformed."""
    match = _FUNCTION.match(function)
    if match is None:
        raise StepError(f"function {function!r} is not 'package.module:function'")
    return match.group(1), match.group(2)


def function_allowed(function: str, allowed_modules: Sequence[str]) -> bool:
    """True when ``function``'s module is one of ``allowed_modules`` or inside one of them."""
    try:
        module, _ = split_function(function)
    except StepError:
        return False
    return any(module == p or module.startswith(p + ".") for p in allowed_modules if p)


def task_to_json(task: StepTask) -> dict[str, Any]:
    """The task as the child reads it."""
    return {
        "run_id": str(task.run_id),
        "step": task.step,
        "function": task.function,
        "arguments": dict(task.arguments),
        "outputs": dict(task.outputs),
        "workdir": str(task.workdir),
        "limits": {
            "timeout_seconds": task.limits.timeout_seconds,
            "memory_bytes": task.limits.memory_bytes,
            "cpu_seconds": task.limits.cpu_seconds,
        },
        "allowed_modules": list(task.allowed_modules),
        "python_path": [str(p) for p in task.python_path],
    }


def task_from_json(data: Mapping[str, Any]) -> StepTask:
    """Read a task written by ``task_to_json``."""
    return StepTask(
        run_id=UUID(data["run_id"]),
        step=data["step"],
        function=data["function"],
        arguments=data["arguments"],
        outputs=data["outputs"],
        workdir=Path(data["workdir"]),
        limits=ResourceLimits(**data["limits"]),
        allowed_modules=tuple(data["allowed_modules"]),
        python_path=tuple(Path(p) for p in data["python_path"]),
    )


def outcome_to_json(outcome: StepOutcome) -> dict[str, Any]:
    """An outcome as JSON (a Dask worker returns this)."""
    return {
        "status": str(outcome.status),
        "outputs": dict(outcome.outputs),
        "error": outcome.error,
        "duration_seconds": outcome.duration_seconds,
    }


def outcome_from_json(data: Mapping[str, Any]) -> StepOutcome:
    """Read an outcome written by ``outcome_to_json``."""
    return StepOutcome(
        status=StepStatus(data["status"]),
        outputs=data["outputs"],
        error=data["error"],
        duration_seconds=data["duration_seconds"],
    )


def one_line(exc: BaseException) -> str:
    """An exception as one short line: its type and message."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def apply_limits(limits: ResourceLimits) -> None:
    """Cap this process's address space and CPU time (inherited by what it starts)."""
    import resource

    if limits.memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    if limits.cpu_seconds is not None:
        # the soft limit sends SIGXCPU, the hard one a second later SIGKILL
        cpu = int(limits.cpu_seconds)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def to_argument(value: Any, workdir: Path) -> Any:
    """One tagged JSON argument as the object a step receives."""
    from retrain.step import DatasetInput, ModelInput

    kind = value.get("kind") if isinstance(value, dict) else None
    if kind == "dataset":
        return DatasetInput(
            path=workdir / value["path"],
            name=str(value.get("name", "")),
            version=str(value.get("version", "")),
            digest=str(value.get("digest", "")),
        )
    if kind == "model":
        return ModelInput(
            path=workdir / value["path"],
            flavor=value["flavor"],
            signature=value["signature"],
            name=str(value.get("name", "")),
            version=int(value.get("version", 0)),
            trusted=tuple(str(t) for t in value.get("trusted", ())),
        )
    if kind == "metrics":
        return {str(k): float(v) for k, v in value["values"].items()}
    if kind == "parameter":
        return value.get("value")
    return value


def to_outputs(returned: Any, declared: Mapping[str, str], workdir: Path) -> dict[str, Any]:
    """What a step returned as tagged JSON, checked against its declared outputs."""
    if returned is None:
        returned = {}
    if not isinstance(returned, Mapping):
        raise StepError(f"the step returned {type(returned).__name__}, not a dict of outputs")
    missing = sorted(set(declared) - set(returned))
    extra = sorted(set(returned) - set(declared))
    if missing or extra:
        raise StepError(
            f"the step's outputs differ from its spec: missing {missing}, extra {extra}"
        )
    return {name: _output(name, kind, returned[name], workdir) for name, kind in declared.items()}


def _output(name: str, kind: str, value: Any, workdir: Path) -> dict[str, Any]:
    from retrain.step import DatasetOutput, ModelOutput

    if kind == "dataset":
        path = value.path if isinstance(value, DatasetOutput) else value
        if not isinstance(path, str | Path):
            raise StepError(f"output {name!r} is a dataset: return the Path of a parquet file")
        return {"kind": "dataset", "path": inside(name, Path(path), workdir)}
    if kind == "model":
        if not isinstance(value, ModelOutput):
            raise StepError(f"output {name!r} is a model: return a retrain.step.ModelOutput")
        return _model_output(name, value, workdir)
    if kind == "metrics":
        return {"kind": "metrics", "values": _metrics(name, value)}
    if kind == "parameter":
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StepError(f"output {name!r} is not a JSON value ({one_line(exc)})") from None
        return {"kind": "parameter", "value": value}
    raise StepError(f"output {name!r} has an unknown kind {kind!r}")


def _model_output(name: str, value: Any, workdir: Path) -> dict[str, Any]:
    from lineage.schemas import Signature
    from retrain.artifacts.formats import flavor_of

    try:
        signature = Signature.model_validate(value.signature)
        flavor = flavor_of(str(value.flavor))
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise StepError(f"output {name!r}: {one_line(exc)}") from None
    except Exception as exc:  # InvalidInput: a flavour Steward cannot store
        raise StepError(f"output {name!r}: {exc}") from None
    return {
        "kind": "model",
        "path": inside(name, Path(value.path), workdir),
        "flavor": str(flavor),
        "signature": signature.model_dump(mode="json"),
    }


def _metrics(name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise StepError(f"output {name!r} is metrics: return a dict of numbers")
    metrics: dict[str, float] = {}
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise StepError(f"metric {key!r} of output {name!r} is not a number")
        if not math.isfinite(number):
            raise StepError(f"metric {key!r} of output {name!r} is not finite")
        metrics[str(key)] = float(number)
    return metrics


def inside(name: str, path: Path, workdir: Path) -> str:
    """``path`` (a file) relative to ``workdir``; StepError when it resolves outside it."""
    root = workdir.resolve()
    resolved = (root / path).resolve()  # an absolute path replaces root; symlinks followed
    if not resolved.is_relative_to(root) or resolved == root:
        raise StepError(f"output {name!r} is outside the step's work directory")
    if not resolved.is_file():
        raise StepError(f"output {name!r} is not a file the step wrote")
    return resolved.relative_to(root).as_posix()


def run_task(task: StepTask) -> dict[str, Any]:
    """Check, limit, import and call the step; its outputs as JSON (StepError and others raise)."""
    from retrain.step import StepContext

    module_name, function_name = split_function(task.function)
    if not function_allowed(task.function, task.allowed_modules):
        # refused before the module (or any parent package) is imported: no code of it runs
        raise StepError(f"module {module_name!r} is not among the allowed pipeline modules")
    apply_limits(task.limits)
    function = getattr(importlib.import_module(module_name), function_name, None)
    if not callable(function):
        raise StepError(f"{task.function!r} is not a function")
    workdir = task.workdir.resolve()
    ctx = StepContext(
        workdir=workdir, run_id=task.run_id, step=task.step, log=logging.getLogger(task.step)
    )
    arguments = {k: to_argument(v, workdir) for k, v in task.arguments.items()}
    return to_outputs(function(ctx, **arguments), task.outputs, workdir)


def _write(workdir: Path, data: dict[str, Any]) -> None:
    target = workdir / OUTPUTS_FILE
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(data, allow_nan=False), encoding="utf-8")
    os.replace(partial, target)


def main(argv: Sequence[str]) -> int:
    """Run the task file ``argv[0]``; 0 when the step succeeded."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    task = task_from_json(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    try:
        outputs = run_task(task)
    except StepError as exc:
        print(f"step refused: {exc}", file=sys.stderr)
        _write(task.workdir, {"error": one_line(exc)})
        return EXIT_REFUSED
    except (Exception, SystemExit) as exc:  # the step's own failure, reported as one line
        traceback.print_exc(file=sys.stderr)
        _write(task.workdir, {"error": one_line(exc)})
        return EXIT_FAILED
    _write(task.workdir, {"outputs": outputs})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
