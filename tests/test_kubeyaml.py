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
