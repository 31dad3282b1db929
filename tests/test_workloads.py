"""core/workloads.py: which objects are workloads, and where their pod template is."""

from __future__ import annotations

import pytest

from postrender.core import yamlnodes
from postrender.core.workloads import (
    BUILTIN_KINDS,
    KindTable,
    Target,
    TemplateKind,
    find_workloads,
    format_path,
    label,
    parse_path,
)

TABLE = KindTable(BUILTIN_KINDS)
POD = "metadata: {labels: {app: x}}\nspec: {containers: [{name: app, image: app}]}\n"


def _indent(text: str, columns: int) -> str:
    return "".join(" " * columns + line for line in text.splitlines(keepends=True))


def templates(text: str, table: KindTable = TABLE) -> list[tuple[str, dict | None]]:
    """(kind, the pod template's labels) for each workload found."""
    found = find_workloads(yamlnodes.compose(text), table)
    return [(w.kind, None if w.template is None else yamlnodes.construct(w.template)["metadata"]["labels"]) for w in found]


@pytest.mark.parametrize(("api_version", "kind", "text"), [
    ("v1", "Pod", POD),
    ("v1", "PodTemplate", "template:\n" + _indent(POD, 2)),
    ("v1", "ReplicationController", "spec:\n  template:\n" + _indent(POD, 4)),
    ("apps/v1", "Deployment", "spec:\n  template:\n" + _indent(POD, 4)),
    ("extensions/v1beta1", "DaemonSet", "spec:\n  template:\n" + _indent(POD, 4)),
    ("batch/v1", "Job", "spec:\n  template:\n" + _indent(POD, 4)),
    ("batch/v1", "CronJob", "spec:\n  jobTemplate:\n    spec:\n      template:\n" + _indent(POD, 8)),
    ("argoproj.io/v1alpha1", "Rollout", "spec:\n  template:\n" + _indent(POD, 4)),
])
def test_each_builtin_kind_has_its_template_where_kubernetes_puts_it(api_version, kind, text):
    assert templates(f"apiVersion: {api_version}\nkind: {kind}\n{text}") == [(kind, {"app": "x"})]


def test_a_kind_of_another_api_group_is_not_a_workload():
    assert templates("apiVersion: example.com/v1\nkind: Deployment\nspec:\n  template:\n" + _indent(POD, 4)) == []


def test_a_rollout_with_a_workload_ref_has_no_template_to_edit():
    text = ("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nspec:\n  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
            "  template:\n" + _indent(POD, 4))
    assert templates(text) == []


def test_the_items_of_a_list_are_workloads_in_order():
    text = ("apiVersion: v1\nkind: List\nitems:\n"
            "- apiVersion: v1\n  kind: Pod\n" + _indent(POD, 2).replace("app: x", "app: first") +
            "- apiVersion: v1\n  kind: ConfigMap\n"
            "- apiVersion: apps/v1\n  kind: Deployment\n  spec:\n    template:\n" + _indent(POD, 6).replace("app: x", "app: second"))
    assert templates(text) == [("Pod", {"app": "first"}), ("Deployment", {"app": "second"})]


def test_a_policy_kind_wins_over_a_builtin_of_the_same_group():
    custom = TemplateKind("Deployment", frozenset({"apps"}), (Target(("spec", "podSpecTemplate")),))
    table = KindTable(BUILTIN_KINDS, [custom])
    text = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  podSpecTemplate:\n" + _indent(POD, 4)
    assert templates(text, table) == [("Deployment", {"app": "x"})]
    assert table.may_hold_workloads("Deployment") and table.may_hold_workloads("ConfigMapList")
    assert not table.may_hold_workloads("ConfigMap")


SHARED_NAMES = sorted({entry.kind for entry in BUILTIN_KINDS if [e.kind for e in BUILTIN_KINDS].count(entry.kind) > 1})


@pytest.mark.parametrize("kind", SHARED_NAMES)
def test_an_object_without_api_version_is_taken_for_kubernetes_own_kind_of_its_name(kind):
    """Job, StatefulSet, DaemonSet are also Volcano's and Kruise's: without an apiVersion, Kubernetes' own
    (the first row of the name) reads the object, whose pod template is then edited, not left alone."""
    first = next(entry for entry in BUILTIN_KINDS if entry.kind == kind)
    assert TABLE.find(kind, None) is first
    path = first.targets[0].path
    text = f"kind: {kind}\n" + "".join(f"{'  ' * depth}{step}:\n" for depth, step in enumerate(path)) + _indent(POD, 2 * len(path))
    assert templates(text) == [(kind, {"app": "x"})]


@pytest.mark.parametrize(("text", "steps"), [
    ("", ()),
    ("spec.template", ("spec", "template")),
    ("spec.workerGroupSpecs[*].template", ("spec", "workerGroupSpecs", "[*]", "template")),
    ("spec.pytorchReplicaSpecs.*.template", ("spec", "pytorchReplicaSpecs", "*", "template")),
])
def test_paths_read_list_and_mapping_steps_and_write_back_the_same(text, steps):
    assert parse_path(text) == steps
    assert format_path(steps) == text


def _places(text: str) -> list[tuple[str, str, dict | None]]:
    """(label, the path of the place, what its annotations are now) for each place found."""
    found = find_workloads(yamlnodes.compose(text), TABLE)
    return [(w.label, ".".join(w.steps), yamlnodes.construct(w.owner)) for w in found]


def test_each_item_of_a_list_and_each_value_of_a_mapping_is_a_place_with_a_name():
    ray = ("apiVersion: ray.io/v1\nkind: RayCluster\nspec:\n  headGroupSpec:\n    template:\n" + _indent(POD, 6)
           + "  workerGroupSpecs:\n  - template:\n" + _indent(POD, 6) + "  - template:\n" + _indent(POD, 6))
    assert [(label, path) for label, path, _ in _places(ray)] == [
        ("headGroupSpec", "spec.headGroupSpec.template"),
        ("workerGroupSpecs[0]", "spec.workerGroupSpecs.0.template"),
        ("workerGroupSpecs[1]", "spec.workerGroupSpecs.1.template"),
    ]
    pytorch = ("apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nspec:\n  pytorchReplicaSpecs:\n"
               "    Master:\n      template:\n" + _indent(POD, 8) + "    Worker:\n      template:\n" + _indent(POD, 8))
    assert [label for label, _, _ in _places(pytorch)] == ["pytorchReplicaSpecs[Master]", "pytorchReplicaSpecs[Worker]"]


def test_absent_pod_metadata_is_a_place_to_write_and_an_absent_pod_template_is_none():
    workflow = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nspec:\n  entrypoint: main\n"
    assert [(label, path) for label, path, _ in _places(workflow)] == [("podMetadata", "spec.podMetadata")]
    ray_job = "apiVersion: ray.io/v1\nkind: RayJob\nspec:\n  entrypoint: python x.py\n"
    assert _places(ray_job) == []  # no cluster spec, no submitter template: KubeRay's defaults
    flink = "apiVersion: flink.apache.org/v1beta1\nkind: FlinkDeployment\nspec:\n  podTemplate:\n"  # null
    assert [(label, path) for label, path, _ in _places(flink)] == [("podTemplate", "spec.podTemplate")]


def test_label_names_a_place_by_what_says_more_than_spec_and_template():
    assert label(("spec", "template"), ("spec", "template")) == "template"
    assert label(("spec", "template", "driver"), ("spec", "template", "driver")) == "driver"
    assert label(("spec", "a", "[*]", "b", "*", "template"), ("spec", "a", "2", "b", "x", "template")) == "a[2].b[x]"
