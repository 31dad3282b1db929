"""The kubeyaml harness answers as Kubernetes does: the facts the differential tests rely on."""

from __future__ import annotations

import pytest

from tests.support.kubeyaml import KubeYAMLError


def test_scalars_resolve_as_go_yaml_does(kube_yaml) -> None:
    # sigs.k8s.io/yaml reads YAML 1.1 booleans and numbers that a YAML 1.2 reader would keep as strings.
    assert kube_yaml.read_stream(b"args: [1e6, y, 0o17, '1e6', off, 0x1F, 1_000, .5, ~, 2024-01-01]\n") == [
        {"args": [1000000.0, True, 15, "1e6", False, 31, 1000, 0.5, None, "2024-01-01"]}
    ]


def test_streams_split_like_kubectl(kube_yaml) -> None:
    stream = b"a: 1\n---\n# only a comment\n---\nb: 2\n...\n---\n{\"c\": 3}\n"
    assert kube_yaml.read_stream(stream) == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert kube_yaml.read_stream(stream, keep_empty=True) == [{"a": 1}, None, {"b": 2}, {"c": 3}]
    assert kube_yaml.read_stream(b'{"a": "\\ud83d\\ude80"}\n{"b": 1}') == [{"a": "\U0001F680"}, {"b": 1}]


def test_invalid_yaml_is_an_error(kube_yaml) -> None:
    with pytest.raises(KubeYAMLError):
        kube_yaml.read_stream(b"a: [1\n")


def test_one_document_to_json(kube_yaml) -> None:
    assert kube_yaml.to_json(b"- 0o17\n- '0o17'\n") == [15, "0o17"]


def test_selectors_parse_as_labels_parse(kube_yaml) -> None:
    assert kube_yaml.selector("app=").valid
    assert kube_yaml.selector("app!=", {"app": "x"}).matches is True
    assert kube_yaml.selector("app in (a, b),!tier", {"app": "b"}).matches is True
    assert not kube_yaml.selector("app in (a").valid
    assert not kube_yaml.selector("-app=x").valid
    assert kube_yaml.label_selector({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {"app": ""}).matches is True
    assert not kube_yaml.label_selector({"matchExpressions": [{"key": "app", "operator": "In"}]}).valid


def test_label_keys_are_stored_as_go_yaml_reads_them(kube_yaml) -> None:
    # sigs.k8s.io/yaml writes a key go-yaml read as a bool or a number as its JSON text (yaml.go
    # convertToJSONableObject; floats as strconv.FormatFloat(f, 'g', -1, 32)); a null key it cannot write.
    labels = b"metadata:\n  labels: {y: a, NO: b, 1.0: c, 0x1F: d, 1e3: e, 1e6: f, 'on': g}\n"
    assert kube_yaml.read_stream(labels)[0]["metadata"]["labels"] == {
        "true": "a", "false": "b", "1": "c", "31": "d", "1000": "e", "1e+06": "f", "on": "g"}
    with pytest.raises(KubeYAMLError, match="unsupported map key"):
        kube_yaml.read_stream(b"labels: {~: a}\n")


def test_an_alias_of_a_removed_anchor_is_unreadable(kube_yaml) -> None:
    with pytest.raises(KubeYAMLError, match="unknown anchor"):
        kube_yaml.read_stream(b"a:\n  b: 1\nc: *x\n")


def test_typed_list_items_take_the_list_kind(kube_yaml) -> None:
    # unstructured.UnstructuredJSONScheme decodeToList: only an item with neither kind nor apiVersion.
    stream = (b"apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- metadata: {name: a}\n"
              b"- {kind: Deployment, metadata: {name: b}}\n- {apiVersion: v1, metadata: {name: c}}\n"
              b"---\napiVersion: v1\nkind: List\nitems: [{metadata: {name: d}}]\n---\n{metadata: {name: e}}\n")
    first, second, third = kube_yaml.objects(stream)
    assert [(o.get("apiVersion"), o.get("kind"), o["metadata"]["name"]) for o in first] == [
        ("apps/v1", "Deployment", "a"), (None, "Deployment", "b"), ("v1", None, "c")]
    assert [(o.get("apiVersion"), o.get("kind")) for o in second] == [("v1", "")]
    assert isinstance(third, KubeYAMLError)
