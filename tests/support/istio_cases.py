"""The Istio injector goldens as test cases, and comparison of manifests as data."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import ISTIO_GOLDEN

NATIVE_SIDECAR = "sidecar.istio.io/nativeSidecar"
# Settings of a case that the manifest cannot show (see the goldens' README).
MESH_HOLD = {"flip-hello-proxyHoldsApplication"}


def pair_cases() -> list[str]:
    """Cases with a regular and a native injection of the same input."""
    return sorted(p.parent.name for p in ISTIO_GOLDEN.glob("*/regular.injected.yaml"))


def golden_path(case: str, form: str) -> Path:
    return ISTIO_GOLDEN / case / f"{form}.injected.yaml"


def load_all(path: Path) -> list[Any]:
    """The documents of a file, a fresh copy each call (tests change them)."""
    return copy.deepcopy(_parsed(path))


@functools.cache
def _parsed(path: Path) -> list[Any]:
    return [doc for doc in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader) if doc is not None]


def pod_templates(doc: dict) -> Iterator[tuple[dict, dict | None]]:
    """(pod template, kube-inject's CronJob metadata) for each workload of a golden document."""
    if doc["kind"] == "List":
        for item in doc["items"]:
            yield from pod_templates(item)
    elif doc["kind"] == "Pod":
        yield doc, None
    elif doc["kind"] == "CronJob":
        job = doc["spec"]["jobTemplate"]
        yield job["spec"]["template"], job["metadata"]
    else:
        yield doc["spec"]["template"], None


def as_data(value: Any) -> Any:
    """Comparable data: JSON-valued strings parsed, the policy's own annotation left out."""
    value = copy.deepcopy(value)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            annotations = node.get("annotations")
            if isinstance(annotations, dict) and annotations.pop(NATIVE_SIDECAR, None) is not None and not annotations:
                del node["annotations"]  # the policy's annotation was the only one
            return {key: walk(_json_or_text(item)) for key, item in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(value)


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
