"""core/textedit.py: an annotation set or removed in a document's own text, and nothing else changed.

Generated pod templates, written in block, PyYAML and flow style; the edited text is read back with
PyYAML's safe loader and must hold exactly the original data with the annotation set or removed.
"""

from __future__ import annotations

import copy

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from postrender.core import textedit, yamlnodes
from tests.support.strategies import body_text, pod_template

KEY = "sidecar.istio.io/nativeSidecar"


def _edit(text: str, value: str | None) -> tuple[str, int]:
    doc = textedit.DocumentText(text)
    template = yamlnodes.compose(text)
    if value is None:
        splices = textedit.remove_annotation(doc, template, KEY)
    else:
        splices = textedit.set_annotation(doc, template, KEY, value)
    return doc.apply(splices), len(splices)


def _expected(data: dict, value: str | None) -> dict:
    expected = copy.deepcopy(data)
    metadata = expected.get("metadata")
    if value is not None:
        if not isinstance(metadata, dict):
            metadata = expected["metadata"] = {}
        if not isinstance(metadata.get("annotations"), dict):
            metadata["annotations"] = {}
        metadata["annotations"][KEY] = value
    elif isinstance(metadata, dict) and isinstance(metadata.get("annotations"), dict) and KEY in metadata["annotations"]:
        del metadata["annotations"][KEY]
        if not metadata["annotations"]:  # an `annotations:` the removal emptied goes too
            del metadata["annotations"]
    return expected


def _as_kubernetes_reads(template: dict) -> dict:
    """A removal that empties `metadata:` leaves the key with no value (null): the edit takes out only the
    annotation and the `annotations:` it empties. Kubernetes
    reads a null ObjectMeta and an empty one alike."""
    if template.get("metadata") is None and "metadata" in template:
        return {**template, "metadata": {}}
    return template


@st.composite
def templates_as_text(draw) -> tuple[dict, tuple[str, bool]]:
    data = draw(pod_template())
    return data, draw(body_text(data))


@settings(max_examples=150)
@given(case=templates_as_text(), value=st.sampled_from(["true", "false", None]))
def test_only_the_annotation_changes_and_a_second_edit_changes_nothing(case, value):
    data, (text, aliased_strings) = case
    try:
        edited, _ = _edit(text, value)
    except textedit.EditError as error:  # only where a string is written as an alias of an anchor
        assert aliased_strings and ("alias" in error.message or "anchor" in error.message), error
        return
    assert _as_kubernetes_reads(yaml.safe_load(edited)) == _as_kubernetes_reads(_expected(data, value))
    again, splices = _edit(edited, value)
    assert (again, splices) == (edited, 0)


def test_a_new_annotation_follows_the_documents_indentation_and_line_ends():
    text = "metadata:\r\n    labels:\r\n        app: web\r\nspec: {}\r\n"
    edited, _ = _edit(text, "true")
    assert edited == ("metadata:\r\n    labels:\r\n        app: web\r\n    annotations:\r\n"
                      "        sidecar.istio.io/nativeSidecar: \"true\"\r\nspec: {}\r\n")
