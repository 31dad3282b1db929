"""Which place of its workload a running pod comes from, and the pod template a pod made there now gets.

A RayCluster makes its head from `headGroupSpec.template` and each worker group's pods from their
item of `workerGroupSpecs`; the kind table's PodName rows say how the operator's pods name their
place (the label ray.io/group holds the group's `groupName`). Pod metadata the operator merges into
the same pods (Argo's template metadata, Flink's component pod templates) is merged here as the
operator merges it, so the result is what the mesh's injector would read on a pod made now.

Plain data in, plain data out: the objects are a cluster dump's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from postrender.core.workloads import ITEMS, VALUES, PodName, Target, TemplateKind

AMBIGUOUS = object()  # several places could have made the pod, and they disagree


class Place(NamedTuple):
    """One place a path reaches in plain data, and the list item or mapping key it was reached through."""

    node: Any  # the value there; None where the last step is absent
    parent: Any  # the mapping that holds (or would hold) it
    item: Any  # the list item of the last `[*]` step, or None
    key: str | None  # the mapping key of the last `*` step, or None


def places(data: Any, path: tuple[str, ...]) -> Iterator[Place]:
    yield from _walk(data, path, Place(None, None, None, None))


def _walk(node: Any, path: tuple[str, ...], seen: Place) -> Iterator[Place]:
    if not path:
        yield seen._replace(node=node)
        return
    step, rest = path[0], path[1:]
    if step == ITEMS:
        for item in node if isinstance(node, list) else ():
            yield from _walk(item, rest, seen._replace(parent=node, item=item))
    elif step == VALUES:
        for key, value in node.items() if isinstance(node, dict) else ():
            yield from _walk(value, rest, seen._replace(parent=node, key=str(key)))
    elif isinstance(node, dict):
        if node.get(step) is not None:
            yield from _walk(node[step], rest, seen._replace(parent=node))
        elif not rest:
            yield seen._replace(node=None, parent=node)


class PodView(NamedTuple):
    """What a pod says about where it comes from: its labels and annotations, and its owners' data."""

    labels: dict
    annotations: dict
    controller_kind: str  # the kind of the pod's controller, "" for none
    owners: Sequence[dict]  # the objects above the pod in the dump, nearest first

    @classmethod
    def of(cls, pod: dict, controller_kind: str, owners: Sequence[dict]) -> PodView:
        metadata = pod.get("metadata") or {}
        return cls(metadata.get("labels") or {}, metadata.get("annotations") or {}, controller_kind, owners)

    def said(self, key: str) -> Any:
        return self.labels[key] if key in self.labels else self.annotations.get(key)


def _names(kind: TemplateKind, path: tuple[str, ...]) -> PodName | None:
    return next((name for name in kind.pod_names if name.path == path), None)


def _lookup(view: PodView, steps: tuple[str, ...], value: str) -> Any:
    for owner in view.owners:
        data: Any = owner
        for step in steps:
            data = data.get(value if step == "{}" else step) if isinstance(data, dict) else None
        if data is not None:
            return data
    return None


def names_pod(name: PodName | None, place: Place, view: PodView) -> bool:
    """Whether the pod comes from this place: always where the kind names none (a place of its own)."""
    if name is None:
        return True
    if name.controller:
        return view.controller_kind == name.controller
    said = view.said(name.key)
    if said is None:
        return False
    if name.lookup:
        said = _lookup(view, name.lookup, str(said))
    if name.value is not None:
        expected: Any = name.value
    elif name.field:
        expected = place.item.get(name.field) if isinstance(place.item, dict) else None
    else:
        expected = place.key.lower() if name.lowercase and place.key is not None else place.key
    return expected is not None and str(said) == str(expected)


def _metadata(node: Any, target: Target) -> dict:
    holder = node if target.pod_metadata else (node.get("metadata") if isinstance(node, dict) else None)
    return holder if isinstance(holder, dict) else {}


def _merged(layers: list[dict], field: str) -> dict:
    merged: dict = {}
    for layer in layers:
        value = layer.get(field)
        merged.update(value if isinstance(value, dict) else {})
    return merged


def template_at(data: dict, kind: TemplateKind, target: Target, place: Place, view: PodView) -> dict:
    """The pod template a pod made at this place now gets: the target's, with the pod metadata the
    operator merges in laid over it (or under it, where the target's wins)."""
    layers = [_metadata(place.node, target)]
    for path in target.merged_with:
        name = _names(kind, path)
        layers += [_metadata(merged.node, Target(path, True)) for merged in places(data, path)
                   if names_pod(name, merged, view)]
    if target.target_wins:
        layers.reverse()
    base = place.node if not target.pod_metadata and isinstance(place.node, dict) else {}
    metadata = {**(base.get("metadata") or {}), "labels": _merged(layers, "labels"),
                "annotations": _merged(layers, "annotations")}
    return {**base, "metadata": metadata}


def desired_templates(data: dict, kind: TemplateKind, view: PodView) -> list[dict]:
    """The templates of every place of `data` that could have made the pod: one when the kind's pods
    name their place; several (or none) where they do not tell."""
    found = []
    for target in kind.targets:
        name = _names(kind, target.path)
        for place in places(data, target.path):
            if place.node is None and not (target.written_when_absent and isinstance(place.parent, dict)):
                continue  # an absent pod template makes no pods
            if names_pod(name, place, view):
                found.append(template_at(data, kind, target, place, view))
    return found
