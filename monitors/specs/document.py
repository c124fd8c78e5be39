"""YAML form of monitors: one monitor, a ``monitors:`` list, or several ``---`` documents."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from governance.core.errors import InvalidInput
from monitors.specs.schemas import MonitorSpec


def load_specs(text: str) -> list[MonitorSpec]:
    """Parse YAML text into monitor specs; any invalid field refuses the whole file."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML: {exc}") from exc
    raw: list[Any] = []
    for document in documents:
        if isinstance(document, dict) and set(document) == {"monitors"}:
            raw.extend(document["monitors"] or [])
        elif isinstance(document, list):
            raw.extend(document)
        else:
            raw.append(document)
    specs, problems = [], []
    for index, item in enumerate(raw):
        try:
            specs.append(MonitorSpec.model_validate(item))
        except ValidationError as exc:
            problems.extend(_problems(index, exc))
    if problems:
        raise InvalidInput("invalid monitor definition", errors=problems)
    return specs


def _problems(index: int, exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"monitor": index, "loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]}
        for e in exc.errors()
    ]


def load_file(path: Path) -> list[MonitorSpec]:
    """Read monitor specs from a YAML file."""
    return load_specs(path.read_text(encoding="utf-8"))


def spec_to_dict(spec: MonitorSpec, *, full: bool = False) -> dict[str, Any]:
    """A spec as plain data; without ``full`` only the fields that differ from the defaults."""
    data: dict[str, Any] = spec.model_dump(mode="json", exclude_defaults=not full)
    return data


def dump_specs(specs: Iterable[MonitorSpec], *, full: bool = False) -> str:
    """Render specs as a YAML ``monitors:`` document that ``load_specs`` reads back."""
    items = [spec_to_dict(s, full=full) for s in specs]
    return yaml.safe_dump({"monitors": items}, sort_keys=False, allow_unicode=True)
