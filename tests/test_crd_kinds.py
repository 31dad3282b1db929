"""The batch, ML and serverless kinds against the projects' own definitions and example manifests.

Each built-in row of core/workloads.py cites the CRD it follows; tests/support/upstream.py brings that
CRD (and the project's examples) at the pinned release. Every target path must exist in every served
version's schema, and every pod template the schema has must be a target (or merged into one). The
projects' own examples, post-rendered, must read back through Kubernetes' parser (kubeyaml harness)
exactly as the plain reference in tests/support/places.py says: every place reached, nothing else changed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
import yaml

from postrender.core.errors import InputError
from postrender.core.policy import parse_policy
from postrender.core.workloads import BUILTIN_KINDS, ITEMS, VALUES, KindTable, TemplateKind, api_group
from tests.support import upstream
from tests.support.helpers import POLICY_HEADER, render
from tests.support.kubeyaml import KubeYAMLError
from tests.support.places import annotations_at, decide_object, places

CITING = [entry for entry in BUILTIN_KINDS if entry.source]
TABLE = KindTable(BUILTIN_KINDS)
# Pod templates in a definition that are no target, and why (a pod that is not the object's workload).
NOT_TARGETS = {
    ("ray.io", "spec.headGroupSpec.headService"): "a Service",
}


def _definitions(entry: TemplateKind) -> Iterator[tuple[str, dict]]:
    """(version, its openAPI schema) for each served version of the CRD the row cites."""
    for document in yaml.load_all(upstream.definition(entry.source).read_text(), Loader=yaml.CSafeLoader):
        if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
            spec = document["spec"]
            if spec["names"]["kind"] == entry.kind and spec["group"] in (entry.groups or ()):
                for version in spec["versions"]:
                    if version.get("served"):
                        yield version["name"], version["schema"]["openAPIV3Schema"]


def _schema_at(schema: dict, path: tuple[str, ...]) -> dict | None:
    """The schema of the value at the path; a schema that keeps unknown fields answers for all below it."""
    node = schema
    for step in path:
        if node.get("x-kubernetes-preserve-unknown-fields") and not node.get("properties"):
            return node
        if step == ITEMS:
            node = node.get("items") or {}
        elif step == VALUES:
            node = node.get("additionalProperties") or {}
        else:
            found = (node.get("properties") or {}).get(step)
            if found is None:
                return None
            node = found
    return node


def _opaque(node: dict) -> bool:
    return bool(node.get("x-kubernetes-preserve-unknown-fields")) and not node.get("properties")


@pytest.mark.parametrize("entry", CITING, ids=lambda e: f"{e.kind}.{sorted(e.groups or ())[0]}")
def test_every_builtin_row_follows_the_definition_it_cites(entry):
    versions = list(_definitions(entry))
    assert versions, f"{entry.source} defines no served {entry.kind}"
    for version, schema in versions:
        for target in entry.targets:
            node = _schema_at(schema, target.path)
            assert node is not None, (version, target.path)
            if target.pod_metadata:
                assert _opaque(node) or "annotations" in node["properties"], (version, target.path)
            else:  # a pod template: metadata and a pod spec (OpenKruise keeps the template's schema open)
                assert _opaque(node) or {"metadata", "spec"} <= set(node["properties"]), (version, target.path)
            for path in target.merged_with:
                merged = _schema_at(schema, path)
                assert merged is not None and (_opaque(merged) or "annotations" in merged["properties"]), (version, path)


def _pod_templates(node: dict, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    props = node.get("properties") or {}
    if "containers" in ((props.get("spec") or {}).get("properties") or {}) and "metadata" in props:
        yield path
        return  # a pod template's own volumes may hold more templates (PVCs): not pods
    for key, value in props.items():
        yield from _pod_templates(value, (*path, key))
    if isinstance(node.get("items"), dict):
        yield from _pod_templates(node["items"], (*path, ITEMS))
    if isinstance(node.get("additionalProperties"), dict):
        yield from _pod_templates(node["additionalProperties"], (*path, VALUES))


@pytest.mark.parametrize("entry", CITING, ids=lambda e: f"{e.kind}.{sorted(e.groups or ())[0]}")
def test_every_pod_template_of_the_definition_is_a_target(entry):
    covered = {target.path for target in entry.targets} | {path[:-1] for t in entry.targets for path in t.merged_with}
    for version, schema in _definitions(entry):
        for path in _pod_templates(schema, ()):
            assert path in covered, f"{entry.kind} {version}: a pod template at {'.'.join(path)} is no target"


# --- the projects' own examples -------------------------------------------------------------------

NATIVE = parse_policy(POLICY_HEADER + "spec:\n  fallback: native\n", "policy.yaml")


def _objects(documents: list) -> Iterator[dict]:
    for document in documents:
        if isinstance(document, dict) and str(document.get("kind", "")).endswith("List"):
            yield from (item for item in document.get("items") or [] if isinstance(item, dict))
        elif isinstance(document, dict):
            yield document


def _entry(obj: dict) -> TemplateKind | None:
    return TABLE.find(str(obj.get("kind")), obj.get("apiVersion"))


def _reference(documents: list) -> list:
    expected = copy.deepcopy(documents)
    for obj in _objects(expected):
        entry = _entry(obj)
        if entry is not None:
            decide_object(obj, entry, lambda labels: "native")
    return expected


# Projects whose examples hold no pod template to reach (they still must come out as the reference says).
NOTHING_TO_REACH = {"keda": "its one sample ScaledJob leaves jobTargetRef.template empty"}


@pytest.mark.parametrize("project", upstream.PROJECTS)
def test_the_projects_own_examples_post_render_as_the_reference_says(project, kube_yaml, helm3):
    examples = [(str(path), path.read_bytes()) for path in upstream.example_files(project)]
    examples += upstream.chart_renders(project, helm3)  # ARC ships its examples as a chart and its values files
    reached = 0
    for name, data in examples:
        try:
            before = kube_yaml.read_stream(data)
        except KubeYAMLError:  # e.g. spark-operator's examples/spark-pi-prometheus.yaml: not YAML
            with pytest.raises(InputError):
                render(NATIVE, data)
            continue
        output = render(NATIVE, data)
        after = kube_yaml.read_stream(output)
        assert after == _reference(before), name
        assert render(NATIVE, output) == output, f"{name}: a second run changed it"
        for obj in _objects(after):
            entry = _entry(obj)
            for target in entry.targets if entry is not None and entry.source else ():
                if any(True for _ in places(obj, target)):
                    assert set(annotations_at(obj, target)) <= {"true", None}
                    reached += 1
    assert reached or project in NOTHING_TO_REACH, f"no example of {project} holds a kind of the table"


def test_an_example_already_decided_comes_out_byte_for_byte(kube_yaml):
    data = b"".join(b"---\n" + path.read_bytes() for path in upstream.example_files("kuberay")[:10])
    once = render(NATIVE, data)
    assert render(NATIVE, once) == once
    assert kube_yaml.read_stream(once) == _reference(kube_yaml.read_stream(data))


def test_examples_carry_their_groups(kube_yaml):
    """The examples are of the groups the rows name: a row of the wrong group would reach nothing."""
    groups = {api_group(str(obj.get("apiVersion"))) for project in ("kuberay", "argo-workflows", "training-operator")
              for path in upstream.example_files(project)
              for obj in _objects(kube_yaml.read_stream(path.read_bytes()))}
    assert {"ray.io", "argoproj.io", "kubeflow.org"} <= groups


@pytest.mark.parametrize("holder", [
    "  driver:\n    annotations:\n      sidecar.istio.io/nativeSidecar: \"true\"\n",
    "  driver: {annotations: {sidecar.istio.io/nativeSidecar: \"true\"}}\n",
    "  driver:\n    annotations: {sidecar.istio.io/nativeSidecar: \"true\"}\n",
])
def test_pod_metadata_emptied_by_default_stays_a_mapping(holder, kube_yaml):
    """Spark requires `driver`: removing its only annotation must not leave `driver:` null, which the API
    server drops before it checks that the field is there (the server dry-run in test_crd_server saw it)."""
    policy = parse_policy(POLICY_HEADER + "spec:\n  fallback: default\n", "policy.yaml")
    source = ("apiVersion: sparkoperator.k8s.io/v1beta2\nkind: SparkApplication\nmetadata: {name: pi}\nspec:\n"
              + holder + "  executor: {cores: 1}\n").encode()
    assert kube_yaml.read_stream(render(policy, source))[0]["spec"]["driver"] == {"annotations": {}}
