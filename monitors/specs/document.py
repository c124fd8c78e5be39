"""YAML form of monitors: one monitor, a ``monitors:`` list, or several ``---`` documents."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from governance.core.errors import InvalidInput
from monitors.specs.schemas import MonitorSpec

# Far beyond any real monitors file (a monitor is a few dozen nodes, a handful of levels deep),
# yet small enough that a short body cannot turn into a huge or deep structure.
MAX_NODES = 100_000
MAX_DEPTH = 32
MAX_SHOWN_PROBLEMS = 5
MAX_SHOWN_NAME = 64


class _Refused(yaml.YAMLError):
    """A YAML document well-formed but outside what monitor files may use."""

    def __init__(self, *, problem: str, mark: yaml.Event) -> None:
        super().__init__(problem)
        self.problem = problem
        start = mark.start_mark
        self.where = "" if start is None else f"line {start.line + 1}, column {start.column + 1}"


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader without aliases or anchors, and with a cap on node count and nesting depth.

    Aliases are refused as events, before composing, so an alias bomb ("billion laughs") is
    never expanded; counting nodes as they are composed bounds everything else.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.nodes = 0
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Compose one node, refusing aliases, anchors and sizes beyond the caps."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(problem="YAML anchors and aliases are not accepted", mark=event)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refused(problem=f"the document has more than {MAX_NODES} nodes", mark=event)
        if self.depth >= MAX_DEPTH:
            raise _Refused(problem=f"the document nests deeper than {MAX_DEPTH} levels", mark=event)
        self.depth += 1
        try:
            node: yaml.Node | None = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        return node


def load_documents(text: str) -> list[Any]:
    """The YAML documents of ``text``, with the loader's bounds (depth, size, no aliases)."""
    loader = _BoundedLoader(text)
    try:
        documents = []
        while loader.check_data():  # type: ignore[no-untyped-call]
            documents.append(loader.get_data())
        return documents
    except _Refused as exc:
        raise InvalidInput(f"YAML refused: {exc.problem} at {exc.where}") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def load_specs(text: str) -> list[MonitorSpec]:
    """Parse YAML text into monitor specs; any invalid field refuses the whole file."""
    documents = [d for d in load_documents(text) if d is not None]
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
            problems.extend(_problems(index, item, exc))
    if problems:
        raise InvalidInput(_summary(problems), errors=problems)
    return specs


def _problems(index: int, item: Any, exc: ValidationError) -> list[dict[str, Any]]:
    name = item.get("name") if isinstance(item, dict) else None
    named = {"name": name} if isinstance(name, str) and len(name) <= MAX_SHOWN_NAME else {}
    return [
        {"monitor": index, **named, "loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]}
        for e in exc.errors()
    ]


def _summary(problems: list[dict[str, Any]]) -> str:
    """The first problems in one line: the CLI prints only this, so it names each place."""
    shown = "; ".join(
        f"monitor {p.get('name', p['monitor'])!r}: {p['loc']}: {p['msg']}"
        for p in problems[:MAX_SHOWN_PROBLEMS]
    )
    more = len(problems) - MAX_SHOWN_PROBLEMS
    return f"invalid monitor definition: {shown}" + (f" (and {more} more)" if more > 0 else "")


def load_file(path: Path) -> list[MonitorSpec]:
    """Read monitor specs from a YAML file."""
    return load_specs(path.read_text(encoding="utf-8"))


def spec_to_dict(spec: MonitorSpec, *, full: bool = False) -> dict[str, Any]:
    """A spec as plain data; without ``full`` only the fields that differ from the defaults."""
    data: dict[str, Any] = spec.model_dump(mode="json", exclude_defaults=not full)
    if not full:
        for signal in data.get("signals", ()):
            if signal.get("options") == {}:  # every option at its default
                del signal["options"]
    return data


def dump_specs(specs: Iterable[MonitorSpec], *, full: bool = False) -> str:
    """Render specs as a YAML ``monitors:`` document that ``load_specs`` reads back."""
    items = [spec_to_dict(s, full=full) for s in specs]
    return yaml.safe_dump({"monitors": items}, sort_keys=False, allow_unicode=True)
