"""Steward's own facets on ingest: restore the nodes, edges and deployments an export described.

``lineage.export`` marks every dataset, job and run it writes with a ``steward`` facet
(``lineage/spec/StewardFacets.json``) naming the node's kind and identity and carrying its
stored attributes. Ingesting such events rebuilds the same graph: a node an event creates gets
those attributes verbatim; a node that exists keeps its own (a dataset or model version must
agree on its content hash, or the event is refused). Registry assets (models, their versions,
endpoints) are restored into the target project's namespace, where the registry looks for them.
Restoring them needs the permissions their registry routes need (``permissions``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from governance.core.clock import to_utc
from governance.core.errors import Conflict, InvalidInput
from lineage.olschema import NODE_FACET
from lineage.schemas import EdgeKind, Node, NodeKind
from lineage.stores import LineageStores

REGISTRY_KINDS = frozenset({NodeKind.model, NodeKind.model_version, NodeKind.endpoint})
_PARENT_KIND = {NodeKind.dataset_version: NodeKind.dataset, NodeKind.model_version: NodeKind.model}
_NEEDS = {
    NodeKind.dataset_version: ("dataset", "write"),
    NodeKind.model: ("model", "write"),
    NodeKind.model_version: ("model", "write"),
    NodeKind.endpoint: ("endpoint", "write"),
}
Flush = Callable[[], None]


def mark_of(facets: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The Steward node facet among ``facets``, if any (already validated)."""
    found = (facets or {}).get(NODE_FACET)
    return found if isinstance(found, dict) else None


def _dataset_marks(payload: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    parts = [*(payload.get("inputs") or []), *(payload.get("outputs") or [])]
    if payload.get("dataset"):
        parts.append(payload["dataset"])
    for part in parts:
        mark = mark_of(part.get("facets"))
        if mark is not None:
            yield mark


def permissions(payload: Mapping[str, Any]) -> set[tuple[str, str]]:
    """What restoring an event's registry assets needs beyond (lineage, write)."""
    needed: set[tuple[str, str]] = set()
    for mark in _dataset_marks(payload):
        kind = NodeKind(mark["kind"])
        if kind in _NEEDS:
            needed.add(_NEEDS[kind])
        if mark.get("deployments"):
            needed.add(("model", "deploy"))
    return needed


def node_attrs(mark: Mapping[str, Any], facets: Mapping[str, Any] | None) -> dict[str, Any]:
    """The attributes of a node restored from ``mark``: its own, with the event's facets."""
    attrs = dict(mark["attrs"])
    rest = {k: v for k, v in (facets or {}).items() if k != NODE_FACET}
    if "facets" not in attrs and rest:  # the export leaves them out when the event's are them
        attrs["facets"] = rest
    return attrs


def created_at(mark: Mapping[str, Any], default: datetime) -> datetime:
    """When the node was created, as the export said."""
    when = mark.get("createdAt")
    return to_utc(datetime.fromisoformat(when)) if isinstance(when, str) else default


def restore_asset(
    stores: LineageStores,
    project: str,
    ds: Mapping[str, Any],
    mark: Mapping[str, Any],
    now: datetime,
    flush: Flush,
) -> Node:
    """The dataset, version, model, model version or endpoint ``mark`` names, restored."""
    kind = NodeKind(mark["kind"])
    namespace = project if kind in REGISTRY_KINDS else str(ds["namespace"])
    name, version = str(mark["name"]), str(mark["version"])
    node = stores.nodes.find(project, kind, namespace, name, version)
    if node is not None:
        _agree(node, mark)
    else:
        if kind == NodeKind.model_version:
            flush()  # the versions this batch made count, and the registry reads them by query
        attrs = node_attrs(mark, ds.get("facets"))
        node = _create(stores, project, kind, namespace, name, version, attrs, mark, now)
    for ref in mark.get("derivedFrom") or []:
        _derive(stores, project, ref, node, now)
    if mark.get("deployments"):
        _deploy(stores, project, node, mark["deployments"], flush)
    return node


def _agree(node: Node, mark: Mapping[str, Any]) -> None:
    ours, theirs = node.attrs.get("sha256"), mark["attrs"].get("sha256")
    if node.kind in _PARENT_KIND and ours != theirs:
        raise Conflict(f"{node.kind} {node.name!r} {node.version!r} exists with other content")


def _create(
    stores: LineageStores,
    project: str,
    kind: NodeKind,
    namespace: str,
    name: str,
    version: str,
    attrs: dict[str, Any],
    mark: Mapping[str, Any],
    now: datetime,
) -> Node:
    at = created_at(mark, now)
    parent = None
    if kind in _PARENT_KIND:
        holder, _ = stores.nodes.ensure(
            project=project, kind=_PARENT_KIND[kind], namespace=namespace, name=name, at=at
        )
        parent = holder.id
    if kind == NodeKind.model_version:
        known = len(stores.registry.model_versions(project, name) or [])
        if version != str(known + 1):
            raise Conflict(f"model {name!r} version {version} cannot come before {known + 1}")
    return stores.nodes.add(
        project=project,
        kind=kind,
        namespace=namespace,
        name=name,
        version=version,
        parent=parent,
        attrs=attrs,
        at=at,
    )


def find_ref(stores: LineageStores, project: str, ref: Mapping[str, Any]) -> Node:
    """The asset a reference names in ``project``; raises InvalidInput when there is none."""
    kind = NodeKind(ref["kind"])
    namespace = project if kind in REGISTRY_KINDS else str(ref["namespace"])
    found = stores.nodes.find(project, kind, namespace, str(ref["name"]), str(ref["version"]))
    if found is None:
        raise InvalidInput(
            f"{kind} {ref['name']!r} is not in project {project!r} (send it first)",
            field=f"facets.{NODE_FACET}",
        )
    return found


def _derive(
    stores: LineageStores, project: str, ref: Mapping[str, Any], node: Node, now: datetime
) -> None:
    src = find_ref(stores, project, ref)
    at = created_at({"createdAt": ref.get("validFrom")}, now)
    stores.edges.link(project=project, src=src.id, dst=node.id, kind=EdgeKind.derived_from, at=at)


def _deploy(
    stores: LineageStores, project: str, endpoint: Node, wanted: list[Any], flush: Flush
) -> None:
    # A deployment ends the one before it: replayed in order, they rebuild the history.
    flush()
    done = stores.endpoints.deployments(endpoint.id)
    seen = {(d.model, d.version, d.started_at) for d in done}
    for item in sorted(wanted, key=lambda d: to_utc(datetime.fromisoformat(d["startedAt"]))):
        start = to_utc(datetime.fromisoformat(item["startedAt"]))
        if (item["model"], int(item["version"]), start) in seen:
            continue
        if done and start <= done[-1].started_at:
            raise Conflict(f"endpoint {endpoint.name!r} has another deployment history")
        ref = {"kind": "model_version", "namespace": project, "name": item["model"], **item}
        version = find_ref(stores, project, ref)
        stores.endpoints.record_deployment(
            endpoint=endpoint.id,
            version=version.id,
            actor=str(item.get("actor", "")),
            note=str(item.get("note", "")),
            at=start,
        )
        flush()
        done = stores.endpoints.deployments(endpoint.id)
