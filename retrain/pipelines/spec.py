"""Pipeline specs: typed inputs and a DAG of steps, parsed from YAML/JSON or built in Python.

A step's argument is a reference (``inputs.<name>`` or ``steps.<step>.<output>``) or a literal
JSON value. ``validate_spec`` checks what parsing cannot: references exist, the steps form a
DAG, and every step function lies under an allowed module prefix (checked by name, nothing is
imported). ``spec_digest`` is the identity of a spec's content: applying the same content
again keeps its version.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from governance.core.errors import InvalidInput
from monitors.specs.document import load_documents as yaml_documents

NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
FUNCTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
# A pipeline is a few dozen lines: anything far larger is refused before it is parsed.
MAX_SPEC_BYTES = 256 * 1024
MAX_STEPS = 100
INPUT_REF = "inputs."
STEP_REF = "steps."


class InputKind(StrEnum):
    """What a pipeline input resolves to at launch."""

    dataset = "dataset"  # a registered dataset version ("name" for the newest, "name@version")
    model = "model"  # a registered model version ("name" for the newest, "name@version")
    endpoint_window = "endpoint_window"  # the endpoint's latest labelled window, materialised
    parameter = "parameter"  # a JSON value


class OutputKind(StrEnum):
    """What a step output becomes once the step succeeded."""

    dataset = "dataset"  # a dataset version of the project
    model = "model"  # a model version with its artifact
    metrics = "metrics"  # numbers kept on the run
    parameter = "parameter"  # a JSON value kept on the run


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputSpec(_Frozen):
    """One typed input of a pipeline."""

    kind: InputKind
    default: Any = None
    endpoint: str | None = Field(default=None, max_length=200)  # endpoint_window only
    days: float = Field(default=7.0, gt=0, le=366)  # endpoint_window only
    min_rows: int = Field(default=1, ge=1)  # endpoint_window only


class OutputSpec(_Frozen):
    """One output of a step; ``name`` is the registered dataset or model name."""

    kind: OutputKind
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")


class StepSpec(_Frozen):
    """One step: a function, its arguments (references or literals) and its typed outputs."""

    name: str = Field(pattern=NAME)
    function: str = Field(max_length=300)
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, OutputSpec] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0)
    memory_bytes: int | None = Field(default=None, ge=64 * 1024**2)

    @field_validator("function")
    @classmethod
    def _function(cls, value: str) -> str:
        if not FUNCTION.match(value):
            raise ValueError("must be 'package.module:function'")
        return value

    @field_validator("outputs", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # ``train: dataset`` is short for ``train: {kind: dataset}``.
        if isinstance(value, Mapping):
            return {k: {"kind": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("inputs", "outputs")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", key):
                raise ValueError(f"{key!r} is not a valid argument name")
        return value


class PipelineSpec(_Frozen):
    """A pipeline: typed inputs and steps forming a DAG."""

    name: str = Field(pattern=NAME)
    description: str = Field(default="", max_length=4000)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_STEPS)


def spec_digest(spec: PipelineSpec) -> str:
    """SHA-256 of the spec's canonical JSON."""
    text = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def parse_spec(text: str | bytes) -> PipelineSpec:
    """Parse one pipeline from YAML or JSON text (bounded: size, nodes, depth, no aliases)."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_SPEC_BYTES:
        raise InvalidInput(
            f"the pipeline spec is larger than {MAX_SPEC_BYTES} bytes", code="spec_too_large"
        )
    try:
        documents = [d for d in yaml_documents(raw.decode("utf-8")) if d is not None]
    except UnicodeDecodeError as exc:
        raise InvalidInput("the pipeline spec is not UTF-8 text", code="invalid_spec") from exc
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, code="invalid_spec") from exc
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise InvalidInput("the spec must be exactly one pipeline mapping", code="invalid_spec")
    return model_spec(documents[0])


def model_spec(data: Any) -> PipelineSpec:
    """A PipelineSpec from parsed data; InvalidInput (code invalid_spec) naming the problems."""
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()[:10]
        ]
        shown = "; ".join(f"{p['loc']}: {p['msg']}" for p in problems[:3])
        raise InvalidInput(f"invalid pipeline spec: {shown}", code="invalid_spec",
                           errors=problems) from exc  # fmt: skip


# Steward's own step modules: always allowed, whatever STEWARD_PIPELINE_MODULES says (evaluation
# runs compare their variants in one; refusing it would make a shipped feature a setting).
BUILTIN_MODULES = ("retrain.evaluation.step",)


def allowed_modules(configured: Sequence[str]) -> tuple[str, ...]:
    """The step modules a pipeline may use: Steward's own and the configured ones."""
    return (*BUILTIN_MODULES, *configured)


def module_allowed(function: str, allowed: Sequence[str]) -> bool:
    """Whether ``function``'s module is one of ``allowed`` or inside one of them."""
    module = function.partition(":")[0]
    return any(p and (module == p or module.startswith(p + ".")) for p in allowed)


def reference(value: Any) -> tuple[str, ...] | None:
    """``("inputs", name)`` or ``("steps", step, output)`` for a reference; None for a literal."""
    if isinstance(value, str) and value.startswith(INPUT_REF):
        return ("inputs", value[len(INPUT_REF) :])
    if isinstance(value, str) and value.startswith(STEP_REF):
        step, _, output = value[len(STEP_REF) :].partition(".")
        return ("steps", step, output)
    return None


def validate_spec(spec: PipelineSpec, *, allowed_modules: Sequence[str]) -> list[StepSpec]:
    """Check references, kinds and function prefixes; the steps in an order that runs them."""
    for name, item in spec.inputs.items():
        _check_input(name, item)
    steps = {s.name: s for s in spec.steps}
    if len(steps) != len(spec.steps):
        raise InvalidInput("step names must be unique", code="invalid_spec")
    for step in spec.steps:
        if not module_allowed(step.function, allowed_modules):
            raise InvalidInput(
                f"step {step.name!r}: {step.function!r} is outside the allowed pipeline modules",
                code="function_not_allowed",
            )
        for output, out in step.outputs.items():
            _check_output(step, output, out)
        for arg, value in step.inputs.items():
            _check_reference(spec, steps, step, arg, value)
    return topological(spec.steps)


def _check_input(name: str, item: InputSpec) -> None:
    window = item.kind is InputKind.endpoint_window
    if window and not item.endpoint:
        raise InvalidInput(f"input {name!r}: an endpoint_window needs an endpoint",
                           code="invalid_spec")  # fmt: skip
    defaults = InputSpec(kind=item.kind)
    options = (item.endpoint, item.days, item.min_rows)
    if not window and options != (defaults.endpoint, defaults.days, defaults.min_rows):
        # An option that would be ignored is refused, never silently dropped.
        raise InvalidInput(f"input {name!r}: endpoint, days and min_rows belong to an "
                           "endpoint_window input", code="invalid_spec")  # fmt: skip
    if item.kind in (InputKind.dataset, InputKind.model) and item.default is not None:
        if not isinstance(item.default, str) or not item.default:
            raise InvalidInput(f"input {name!r}: the default must be 'name' or 'name@version'",
                               code="invalid_spec")  # fmt: skip


def _check_output(step: StepSpec, output: str, out: OutputSpec) -> None:
    where = f"step {step.name!r} output {output!r}"
    if out.kind is OutputKind.model and not out.name:
        raise InvalidInput(f"{where}: a model output needs a name", code="invalid_spec")
    if out.name and out.kind in (OutputKind.metrics, OutputKind.parameter):
        raise InvalidInput(f"{where}: only datasets and models are registered by name",
                           code="invalid_spec")  # fmt: skip


def _check_reference(
    spec: PipelineSpec, steps: dict[str, StepSpec], step: StepSpec, arg: str, value: Any
) -> None:
    ref = reference(value)
    where = f"step {step.name!r} argument {arg!r}"
    if ref is None:
        return
    if ref[0] == "inputs" and ref[1] not in spec.inputs:
        raise InvalidInput(f"{where}: no pipeline input {ref[1]!r}", code="invalid_spec")
    if ref[0] == "steps":
        source = steps.get(ref[1])
        if source is None or source is step:
            raise InvalidInput(f"{where}: no other step {ref[1]!r}", code="invalid_spec")
        if ref[2] not in source.outputs:
            raise InvalidInput(
                f"{where}: step {ref[1]!r} has no output {ref[2]!r}", code="invalid_spec"
            )


def dependencies(step: StepSpec) -> set[str]:
    """The steps whose outputs ``step`` reads."""
    return {r[1] for v in step.inputs.values() if (r := reference(v)) and r[0] == "steps"}


def topological(steps: Sequence[StepSpec]) -> list[StepSpec]:
    """The steps in an order where each comes after those it reads (spec order breaks ties)."""
    done: list[StepSpec] = []
    names: set[str] = set()
    pending = list(steps)
    while pending:
        ready = [s for s in pending if dependencies(s) <= names]
        if not ready:
            cycle = ", ".join(s.name for s in pending)
            raise InvalidInput(f"the steps form a cycle: {cycle}", code="invalid_spec")
        done.append(ready[0])
        names.add(ready[0].name)
        pending.remove(ready[0])
    return done
