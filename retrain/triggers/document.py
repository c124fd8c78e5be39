"""YAML form of triggers: one trigger, a ``triggers:`` list, or several ``---`` documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from governance.core.errors import InvalidInput
from monitors.specs.document import load_documents as yaml_documents
from retrain.triggers.schemas import TriggerSpec

MAX_SHOWN_PROBLEMS = 5


def _unbool_on(item: Any) -> Any:
    # YAML 1.1 (PyYAML) reads the key ``on`` as the boolean true; a trigger means its condition.
    if isinstance(item, dict) and True in item and "on" not in item:
        return {("on" if k is True else k): v for k, v in item.items()}
    return item


def _items(text: str) -> list[Any]:
    raw: list[Any] = []
    for document in yaml_documents(text):
        if document is None:
            continue
        if isinstance(document, dict) and set(document) == {"triggers"}:
            raw.extend(document["triggers"] or [])
        elif isinstance(document, list):
            raw.extend(document)
        else:
            raw.append(document)
    return [_unbool_on(item) for item in raw]


def load_triggers(text: str) -> list[TriggerSpec]:
    """Parse YAML text into trigger specs; any invalid field refuses the whole document."""
    specs, problems = [], []
    for index, item in enumerate(_items(text)):
        try:
            specs.append(TriggerSpec.model_validate(item))
        except ValidationError as exc:
            name = item.get("name") if isinstance(item, dict) else None
            named = {"name": name} if isinstance(name, str) and len(name) <= 64 else {}
            problems += [
                {"trigger": index, **named, "loc": ".".join(map(str, e["loc"])), "msg": e["msg"]}
                for e in exc.errors()
            ]
    if problems:
        shown = "; ".join(
            f"trigger {p.get('name', p['trigger'])!r}: {p['loc']}: {p['msg']}"
            for p in problems[:MAX_SHOWN_PROBLEMS]
        )
        raise InvalidInput(f"invalid trigger definition: {shown}", errors=problems)
    if not specs:
        raise InvalidInput("the document holds no trigger")
    return specs


def load_file(path: Path) -> list[TriggerSpec]:
    """Read trigger specs from a YAML file."""
    return load_triggers(path.read_text(encoding="utf-8"))
