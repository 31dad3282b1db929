"""Property tests over generated objects of every built-in kind with several places or list items.

For any object of such a kind (lists and mappings of any length, places present, absent or null,
pod metadata merged into the same pods saying anything) and any policy (a fallback, a podLabels
rule): Kubernetes' parser (kubeyaml harness) reads the output exactly as the plain reference in
tests/support/places.py says (every place reached, nothing else changed); an object already in the
decided form comes out byte for byte; a second run changes nothing.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.core.policy import parse_policy
from postrender.core.workloads import BUILTIN_KINDS, ITEMS, VALUES, Target, TemplateKind
from tests.support.helpers import POLICY_HEADER, render
from tests.support.places import ANNOTATION, decide_object

KINDS = [entry for entry in BUILTIN_KINDS if entry.source]
EXAMPLES = int(os.environ.get("SIDECAR_POLICY_EXAMPLES", "300")) // 6  # per kind
MODES = ("native", "regular", "default", "keep")
KEYS = ("Master", "Worker", "PS")  # a replica map's keys, as Kubeflow's

annotations = st.dictionaries(st.sampled_from([ANNOTATION, "team", "prometheus.io/scrape"]),
                              st.sampled_from(["true", "false", "x"]), max_size=3)
labels = st.dictionaries(st.sampled_from(["tier", "app"]), st.sampled_from(["batch", "web"]), max_size=2)


@st.composite
def pod_metadata(draw) -> dict:
    metadata: dict = {}
    for key, values in (("annotations", annotations), ("labels", labels), ("name", st.just("pod"))):
        if draw(st.booleans()):
            metadata[key] = draw(values)
    return metadata


@st.composite
def place(draw, target: Target) -> object:
    """What a generated object holds at a place: nothing (None: leave it out), null, or a template / metadata."""
    shape = draw(st.sampled_from(["absent", "null", "there", "there", "there"]))
    if shape != "there":
        return shape
    metadata = draw(pod_metadata())
    if target.pod_metadata:
        # beside other fields, as Spark's driver has, or alone (removing its annotation must not leave it null)
        return {**metadata, "cores": 1} if draw(st.booleans()) else metadata
    template: dict = {"spec": {"containers": [{"name": "main", "image": "busybox"}]}}
    if draw(st.booleans()):
        template = {"metadata": metadata if metadata or draw(st.booleans()) else None, **template}
    return template


def grow(node: dict, path: tuple[str, ...], leaf, draw) -> None:
    """Build the path into `node`, with 0-3 items at each list or mapping step, and `leaf()` at its end."""
    step, rest = path[0], path[1:]
    if rest and rest[0] in (ITEMS, VALUES):
        container = node.get(step)
        if container is None:
            count = draw(st.integers(0, 3))
            container = node[step] = [{} for _ in range(count)] if rest[0] == ITEMS else {k: {} for k in KEYS[:count]}
        for child in (container if isinstance(container, list) else container.values()):
            if rest[1:]:
                grow(child, rest[1:], leaf, draw)
        return
    if not rest:
        if step not in node:
            value = leaf()
            if value == "null":
                node[step] = None
            elif value != "absent":
                node[step] = value
        return
    child = node.get(step)
    if not isinstance(child, dict):
        child = node[step] = {}
    grow(child, rest, leaf, draw)


@st.composite
def objects(draw, entry: TemplateKind) -> dict:
    group = sorted(entry.groups or ())[0]
    obj: dict = {"apiVersion": f"{group}/v1", "kind": entry.kind, "metadata": {"name": "example"}, "spec": {"other": 1}}
    for target in entry.targets:
        grow(obj, target.path, lambda target=target: draw(place(target)), draw)
        for path in target.merged_with:
            grow(obj, path, lambda: draw(pod_metadata()), draw)
    return obj


def empty_as_null(data: object) -> object:
    if isinstance(data, dict):
        return {key: empty_as_null(value) for key, value in data.items()} or None
    if isinstance(data, list):
        return [empty_as_null(item) for item in data]
    return data


def dump(obj: dict, style: str) -> bytes:
    if style == "json":
        return (json.dumps(obj, indent=2) + "\n").encode()
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=style == "flow").encode()


@pytest.mark.parametrize("entry", KINDS, ids=lambda e: f"{e.kind}.{sorted(e.groups or ())[0]}")
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_place_is_reached_and_nothing_else_changes(entry, data, kube_yaml):
    obj = data.draw(objects(entry), "object")
    fallback = data.draw(st.sampled_from(MODES), "fallback")
    rule = data.draw(st.sampled_from([None, *MODES[:3]]), "rule for tier=batch")
    text = POLICY_HEADER + f"spec:\n  fallback: {fallback}\n"
    if rule is not None:
        text += f"  rules:\n  - match: {{podLabels: tier=batch}}\n    sidecar: {rule}\n"
    policy = parse_policy(text, "policy.yaml")
    source = dump(obj, data.draw(st.sampled_from(["block", "flow", "json"]), "style"))

    output = render(policy, source)
    before = kube_yaml.read_stream(source)
    expected = [decide_object(copy.deepcopy(before[0]), entry,
                              lambda pod_labels: rule if rule is not None and pod_labels.get("tier") == "batch" else fallback)]
    # An edit that empties a template's metadata leaves it null in block style: Kubernetes reads null and {}
    # alike there. Pod metadata keeps `annotations: {}` (the reference says so), never null: a schema may
    # require it (Spark's driver), and the API server drops a null before it checks that.
    assert empty_as_null(kube_yaml.read_stream(output)) == empty_as_null(expected)
    assert render(policy, output) == output
    if expected == before:
        assert output == source
