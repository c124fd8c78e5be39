"""The store contract, everywhere: each domain's store is a Protocol whose methods never hand out
(or take) ORM rows, and each ``Sql...Store`` implements one of its module's Protocols.

Store modules are ``store.py`` files and modules under a ``store/`` or ``stores/`` package of
the domain packages. A new domain with a ``models.py`` must bring its store Protocol along.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any, Protocol

import pytest

from governance.core.db import Base
from monitors.specs.models import MonitorRow
from monitors.specs.schemas import Monitor

PACKAGES = ("governance", "lineage", "monitors", "retrain")
STORE_NAMES = frozenset({"store", "stores"})


def _raise(name: str) -> None:
    raise ImportError(f"cannot import {name} while looking for stores")


def _module_names() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        found = pkgutil.walk_packages(root.__path__, prefix=f"{package}.", onerror=_raise)
        names.extend(info.name for info in found)
    return sorted(names)


def is_store_module(name: str) -> bool:
    """True for ``store.py`` modules and modules inside a ``store``/``stores`` package."""
    parts = name.split(".")
    return parts[-1] == "store" or any(part in STORE_NAMES for part in parts[1:])


def _defined_classes(module: ModuleType) -> list[type]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__
    ]


def is_store_protocol(cls: type) -> bool:
    """A class named ``...Store`` that is itself a Protocol (not an implementation of one)."""
    return cls.__name__.endswith("Store") and Protocol in cls.__bases__


def public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    """The public callables (and property getters) a class offers, by name."""
    methods: dict[str, Callable[..., Any]] = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if isinstance(attr, property) and attr.fget is not None:
            methods[name] = attr.fget
        elif isinstance(attr, staticmethod | classmethod):
            methods[name] = attr.__func__
        elif inspect.isfunction(attr):
            methods[name] = attr
    return methods


def orm_classes_in(annotation: object) -> set[type]:
    """ORM classes anywhere inside an annotation: generics, unions, tuples, Annotated."""
    if isinstance(annotation, list | tuple):  # Callable[[A, B], R] carries a list of arguments
        return {cls for item in annotation for cls in orm_classes_in(item)}
    found: set[type] = set()
    if typing.get_origin(annotation) is None and inspect.isclass(annotation):
        if issubclass(annotation, Base):
            found.add(annotation)
    for arg in typing.get_args(annotation):
        found |= orm_classes_in(arg)
    return found


def _hints(func: Callable[..., Any]) -> dict[str, Any] | str:
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception as exc:  # an unresolvable annotation is a finding, not a crash
        return f"annotations do not resolve: {type(exc).__name__}: {exc}"


def return_problems(func: Callable[..., Any]) -> list[str]:
    """Why a store method's return annotation breaks the contract (empty when it keeps it)."""
    hints = _hints(func)
    if isinstance(hints, str):
        return [hints]
    if "return" not in hints:
        return ["has no return annotation"]
    returned = hints["return"]
    if returned is Any:
        return ["returns Any"]
    leaked = sorted(cls.__name__ for cls in orm_classes_in(returned))
    return [f"returns ORM rows {leaked}"] if leaked else []


def parameter_problems(func: Callable[..., Any]) -> list[str]:
    """Which parameters of a store method take ORM rows (the store builds rows itself)."""
    hints = _hints(func)
    if isinstance(hints, str):
        return [hints]
    problems = []
    for name, annotation in hints.items():
        leaked = sorted(cls.__name__ for cls in orm_classes_in(annotation))
        if name != "return" and leaked:
            problems.append(f"parameter {name!r} takes ORM rows {leaked}")
    return problems


def structural_problems(impl: type, protocols: Iterable[type]) -> list[str]:
    """Why ``impl`` matches none of ``protocols`` by public method names."""
    offered = set(public_methods(impl))
    candidates = list(protocols)
    if any(set(public_methods(p)) == offered for p in candidates):
        return []
    if not candidates:
        return [f"{impl.__name__}: its module defines no store Protocol"]
    named = impl.__name__.removeprefix("Sql")
    closest = next((p for p in candidates if p.__name__ == named), candidates[0])
    wanted = set(public_methods(closest))
    return [
        f"{impl.__name__} vs {closest.__name__}: missing {sorted(wanted - offered)}, "
        f"extra {sorted(offered - wanted)}"
    ]


def domains_without_protocol(modules: Iterable[str], protocol_modules: Iterable[str]) -> list[str]:
    """Domains (packages with a ``models`` module) that have no store Protocol."""
    with_protocol = list(protocol_modules)
    missing = []
    for name in modules:
        domain, _, leaf = name.rpartition(".")
        if leaf != "models":
            continue
        prefixes = tuple(f"{domain}.{store}" for store in STORE_NAMES)
        if not any(m == p or m.startswith(f"{p}.") for m in with_protocol for p in prefixes):
            missing.append(domain)
    return missing


MODULES = _module_names()
STORE_MODULES = [importlib.import_module(name) for name in MODULES if is_store_module(name)]
PROTOCOLS = {
    module.__name__: [cls for cls in _defined_classes(module) if is_store_protocol(cls)]
    for module in STORE_MODULES
}
SQL_STORES = [
    (module.__name__, cls)
    for module in STORE_MODULES
    for cls in _defined_classes(module)
    if cls.__name__.startswith("Sql") and cls.__name__.endswith("Store")
]


def _protocol_methods() -> Iterator[Any]:
    for module, protocols in sorted(PROTOCOLS.items()):
        for protocol in protocols:
            for name, func in sorted(public_methods(protocol).items()):
                yield pytest.param(func, id=f"{module}.{protocol.__name__}.{name}")


PROTOCOL_METHODS = list(_protocol_methods())


def test_the_walk_finds_the_stores() -> None:
    assert "monitors.alerts.store" in PROTOCOLS
    assert PROTOCOL_METHODS, "no store Protocol methods found"


@pytest.mark.parametrize("func", PROTOCOL_METHODS)
def test_store_methods_return_no_orm_rows(func: Callable[..., Any]) -> None:
    problems = return_problems(func)
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("func", PROTOCOL_METHODS)
def test_store_methods_take_no_orm_rows(func: Callable[..., Any]) -> None:
    problems = parameter_problems(func)
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize(
    "domain",
    sorted({name.rpartition(".")[0] for name in MODULES if name.endswith(".models")}),
)
def test_every_domain_with_models_has_a_store_protocol(domain: str) -> None:
    with_protocol = [module for module, protocols in PROTOCOLS.items() if protocols]
    missing = domains_without_protocol([f"{domain}.models"], with_protocol)
    assert not missing, f"{domain} has models but no ...Store Protocol in its store module"


@pytest.mark.parametrize(
    ("module", "impl"), SQL_STORES, ids=[f"{m}.{cls.__name__}" for m, cls in SQL_STORES]
)
def test_sql_stores_implement_a_protocol_of_their_module(module: str, impl: type) -> None:
    problems = structural_problems(impl, PROTOCOLS[module])
    assert not problems, "; ".join(problems)


# The checks above must be able to fail: throwaway stores that break each rule.


class _LeakyStore(Protocol):
    """A store Protocol breaking every rule once (and keeping it once, in ``fine``)."""

    def row(self) -> MonitorRow | None: ...

    def nested(self) -> dict[str, list[tuple[int, MonitorRow]]]: ...

    def callback(self) -> Callable[[int], MonitorRow]: ...

    def anything(self) -> Any: ...

    def unannotated(self): ...  # type: ignore[no-untyped-def]

    def takes_row(self, row: MonitorRow) -> None: ...

    def fine(self, project: str) -> list[Monitor] | None: ...


class SqlLeakyStore:
    """An implementation that drifted from its Protocol."""

    def row(self) -> None: ...

    def extra(self) -> None: ...


def test_the_checks_flag_rows_any_and_missing_annotations() -> None:
    methods = public_methods(_LeakyStore)
    assert return_problems(methods["row"]) == ["returns ORM rows ['MonitorRow']"]
    assert return_problems(methods["nested"]) == ["returns ORM rows ['MonitorRow']"]
    assert return_problems(methods["callback"]) == ["returns ORM rows ['MonitorRow']"]
    assert return_problems(methods["anything"]) == ["returns Any"]
    assert return_problems(methods["unannotated"]) == ["has no return annotation"]
    assert parameter_problems(methods["takes_row"]) == [
        "parameter 'row' takes ORM rows ['MonitorRow']"
    ]
    assert return_problems(methods["fine"]) == parameter_problems(methods["fine"]) == []
    assert is_store_protocol(_LeakyStore) and not is_store_protocol(SqlLeakyStore)


def test_the_checks_flag_mismatched_implementations_and_bare_domains() -> None:
    assert structural_problems(SqlLeakyStore, [_LeakyStore]) != []
    assert structural_problems(SqlLeakyStore, []) != []
    modules = ["pkg.a.models", "pkg.b.models", "pkg.c.models", "pkg.a.store", "pkg.b.store"]
    assert domains_without_protocol(modules, ["pkg.a.store", "pkg.c.stores.sql"]) == ["pkg.b"]
    assert is_store_module("pkg.a.stores.sql") and not is_store_module("pkg.a.restore")
