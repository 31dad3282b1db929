"""A plain reference of where a kind's pods get their metadata, and what a decision does there, on parsed data.

It shares no code with the engine: it walks the kind table's target paths through plain data (as
Kubernetes' reader returns it) and writes the decision as docs/workloads.md says: the target gets
it (written where it is absent, if it is pod metadata or has metadata merged into it), pod metadata
merged into the same pods gets the same where it holds the annotation, `default` removes it from all
(pod metadata that held nothing else keeps an empty `annotations`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from postrender.core.workloads import ITEMS, VALUES, Target, TemplateKind

ANNOTATION = "sidecar.istio.io/nativeSidecar"
VALUES_OF = {"native": "true", "regular": "false"}


def walk(node: Any, path: tuple[str, ...], parent: Any = None, key: Any = None) -> Iterator[tuple[Any, Any, Any]]:
    """(the value at the path or None, its parent, its key there) for each place the path reaches."""
    if not path:
        yield node, parent, key
        return
    step, rest = path[0], path[1:]
    if step == ITEMS and isinstance(node, list):
        for index, item in enumerate(node):
            yield from walk(item, rest, node, index)
    elif step == VALUES and isinstance(node, dict):
        for name, value in node.items():
            yield from walk(value, rest, node, name)
    elif isinstance(node, dict) and step != ITEMS and step != VALUES:
        if step in node:
            yield from walk(node[step], rest, node, step)
        elif not rest:
            yield None, node, step


def metadata_of(place: Any, target: Target) -> dict | None:
    holder = place if target.pod_metadata else (place.get("metadata") if isinstance(place, dict) else None)
    return holder if isinstance(holder, dict) else None


def places(obj: dict, target: Target) -> Iterator[tuple[Any, Any, Any]]:
    """The target's places that are there, or that are written where absent."""
    for place, parent, key in walk(obj, target.path):
        if isinstance(place, dict) or (target.pod_metadata or target.merged_with) and isinstance(parent, dict):
            yield place, parent, key


def decide_object(obj: dict, entry: TemplateKind, decide: Callable[[dict], str]) -> dict:
    """The object after the policy: `decide(pod labels)` gives each place's mode."""
    for target in entry.targets:
        for place, parent, key in list(places(obj, target)):
            labels = (metadata_of(place, target) or {}).get("labels") or {}
            mode = decide(labels if isinstance(labels, dict) else {})
            if mode == "keep":
                continue
            merged = [meta for path in target.merged_with for meta, _, _ in walk(obj, path) if isinstance(meta, dict)]
            if not isinstance(place, dict) and mode != "default":
                place = parent[key] = {}
            if isinstance(place, dict):
                _apply(place, ("annotations",) if target.pod_metadata else ("metadata", "annotations"), mode, create=True)
            for meta in merged:
                if meta is not metadata_of(place, target):
                    _apply(meta, ("annotations",), mode, create=False)
    return obj


def _apply(owner: dict, at: tuple[str, ...], mode: str, create: bool) -> None:
    holder, node = owner, owner
    for step in at:
        holder, node = node, node.get(step)
        if not isinstance(node, dict):
            if mode == "default" or not create:
                return
            node = holder[step] = {}
    if mode == "default":
        if ANNOTATION in node:
            del node[ANNOTATION]
            # Pod metadata the schema may require (Spark's driver) keeps `annotations: {}` rather than
            # becoming empty, which a block mapping writes as null; a pod template's metadata may go null.
            if not node and not (create and at == ("annotations",) and len(holder) == 1):
                del holder[at[-1]]
    elif create or ANNOTATION in node:
        node[ANNOTATION] = VALUES_OF[mode]


def annotations_at(obj: dict, target: Target) -> list[Any]:
    """What each place of the target says (None: no annotation), for assertions."""
    found = []
    for place, _, _ in walk(obj, target.path):
        metadata = metadata_of(place, target)
        annotations = (metadata or {}).get("annotations") or {}
        found.append(annotations.get(ANNOTATION) if isinstance(annotations, dict) else None)
    return found
