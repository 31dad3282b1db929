"""A converted document is written back in its own style: what the README promises."""

from __future__ import annotations

import json
import textwrap

import pytest

from postrender.core import yamlnodes
from postrender.core.reemit import construct, detect_style, load_document, reemit, split_document
from postrender.core.stream import read_documents
from tests.support.paths import ISTIO_GOLDEN


def _documents(path) -> list[str]:
    with open(path, "rb") as handle:
        return [doc.raw.decode() for doc in read_documents(handle)]


@pytest.mark.parametrize("path", sorted(ISTIO_GOLDEN.glob("*/*injected*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_injector_output_reemits_byte_identically(path) -> None:
    """kube-inject's layout (sorted keys, flush sequences, Go quoting) is the one we write."""
    for text in _documents(path):
        data = load_document(text)
        if data is not None:
            assert reemit(text, data) == text


def test_leading_and_trailing_comment_lines_are_kept() -> None:
    text = "---\n# Source: chart/templates/deployment.yaml\n# second comment\nkind: Pod\nmetadata:\n  name: a\n# trailing note\n\n"
    data = load_document(text)
    data["metadata"]["name"] = "b"
    assert reemit(text, data) == (
        "---\n# Source: chart/templates/deployment.yaml\n# second comment\nkind: Pod\nmetadata:\n  name: b\n# trailing note\n\n"
    )


def test_indented_sequences_and_four_space_indent_are_kept() -> None:
    text = textwrap.dedent("""\
        kind: Pod
        spec:
            containers:
                -   name: app
                    ports:
                        -   containerPort: 80
        """)
    assert detect_style(split_document(text)[1]).indent == 4
    assert reemit(text, load_document(text)) == text


def test_two_space_indented_sequences() -> None:
    text = "kind: Pod\nspec:\n  containers:\n    - name: app\n      args:\n        - x\n"
    assert reemit(text, load_document(text)) == text


def test_json_document_stays_json_with_its_indent() -> None:
    data = {"kind": "Pod", "metadata": {"name": "a"}, "spec": {"containers": [{"name": "app"}]}}
    for indent in (2, 4):
        text = json.dumps(data, indent=indent) + "\n"
        assert reemit(text, data) == text
    compact = json.dumps(data, separators=(",", ":"))
    assert reemit(compact, data) == compact


def test_scalars_keep_their_types_and_kubernetes_quoting() -> None:
    text = textwrap.dedent("""\
        metadata:
          creationTimestamp: 2024-01-01T00:00:00Z
          annotations:
            port: "15020"
            flag: "true"
            empty: ""
            star: '*'
        spec:
          args:
          - =
          value: |-
            line one
            line two
        """)
    data = load_document(text)
    assert data["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z"
    assert reemit(text, data) == text


def test_construct_from_composed_nodes_indexes_every_node() -> None:
    root = yamlnodes.compose("kind: Pod\nspec:\n  containers:\n  - name: a\n")
    data, objects = construct(root)
    containers_node = yamlnodes.get(root, "spec", "containers")
    assert objects[id(containers_node)] is data["spec"]["containers"]


def test_document_without_final_newline_keeps_none() -> None:
    text = "kind: Pod\nmetadata:\n  name: a"
    assert reemit(text, load_document(text)) == text


def test_crlf_line_endings_are_kept() -> None:
    text = "kind: Pod\r\nmetadata:\r\n  name: a\r\n"
    assert reemit(text, load_document(text)) == text
