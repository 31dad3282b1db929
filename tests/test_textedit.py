"""core/textedit.py: an annotation set or removed in a document's own text, and nothing else changed.

Generated pod templates, written in block, PyYAML and flow style; the edited text is read back with
PyYAML's safe loader and must hold exactly the original data with the annotation set or removed.
"""

from __future__ import annotations

import copy

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from postrender.core import anchors, textedit, yamlnodes
from tests.support.strategies import body_text, pod_template

KEY = "sidecar.istio.io/nativeSidecar"


def _edit(text: str, value: str | None) -> tuple[str, int]:
    doc = textedit.DocumentText(text)
    template = yamlnodes.compose(text)
    if value is None:
        splices = textedit.remove_annotation(doc, template, KEY)
    else:
        splices = textedit.set_annotation(doc, template, KEY, value)
    anchors.refuse_removed_anchors(text, [(splice.start, splice.end) for splice in splices])  # as the engine does
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
    except (textedit.EditError, yamlnodes.NodeError) as error:  # only where a string is written as an alias of an anchor
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


# --- several annotations at once (Linkerd's keys: core/meshes.py) ---------------------------------

LINKERD_KEYS = ("config.linkerd.io/proxy-enable-native-sidecar", "config.beta.linkerd.io/proxy-enable-native-sidecar",
                "config.alpha.linkerd.io/proxy-enable-native-sidecar")


@st.composite
def templates_with_several_keys(draw) -> tuple[dict, tuple[str, bool]]:
    """A pod template whose annotations hold any of the keys, in any order, among others."""
    data = draw(pod_template())
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and draw(st.booleans()):
        present = draw(st.lists(st.sampled_from(LINKERD_KEYS), unique=True))
        others = dict.fromkeys(draw(st.lists(st.sampled_from(["a.example/x", "b.example/y"]), unique=True)), "v")
        entries = list({**{key: draw(st.sampled_from(["true", "false", "yes"])) for key in present}, **others}.items())
        metadata["annotations"] = dict(draw(st.permutations(entries))) if entries else draw(st.sampled_from([{}, None]))
    return data, draw(body_text(data))


def _expected_several(data: dict, setting: dict, removing: list[str]) -> dict:
    expected = copy.deepcopy(data)
    metadata = expected.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if setting:
        if not isinstance(metadata, dict):
            metadata = expected["metadata"] = {}
        annotations = metadata["annotations"] = {**(annotations or {}), **setting}
    if isinstance(annotations, dict):
        for key in removing:
            annotations.pop(key, None)
        if not annotations and not setting and "annotations" in metadata and data["metadata"]["annotations"]:
            del metadata["annotations"]
    return expected


@settings(max_examples=300)
@given(case=templates_with_several_keys(), written=st.lists(st.sampled_from(LINKERD_KEYS), unique=True),
       value=st.sampled_from(["true", "false"]))
def test_several_keys_set_and_the_others_removed_in_one_edit(case, written, value):
    data, (text, aliased_strings) = case
    setting = {key: value for key in written}
    removing = [key for key in LINKERD_KEYS if key not in setting]
    doc = textedit.DocumentText(text)
    try:
        splices = textedit.edit_annotations(doc, yamlnodes.compose(text), tuple(setting.items()), removing)
        anchors.refuse_removed_anchors(text, [(splice.start, splice.end) for splice in splices])  # as the engine does
        edited = doc.apply(splices)
    except (textedit.EditError, yamlnodes.NodeError) as error:  # only where a string is written as an alias of an anchor
        assert aliased_strings and ("alias" in error.message or "anchor" in error.message), error
        return
    assert _as_kubernetes_reads(yaml.safe_load(edited)) == _as_kubernetes_reads(_expected_several(data, setting, removing))
    again = textedit.DocumentText(edited)
    assert textedit.edit_annotations(again, yamlnodes.compose(edited), tuple(setting.items()), removing) == []


def test_removing_every_annotation_keeps_the_comments_between_them():
    text = "metadata:\n  annotations:\n    # why\n    a: x\n    # and why\n    b: y\nspec: {}\n"
    doc = textedit.DocumentText(text)
    assert doc.apply(textedit.edit_annotations(doc, yamlnodes.compose(text), (), ("a", "b"))) == (
        "metadata:\n    # why\n    # and why\nspec: {}\n")


def test_in_a_flow_mapping_every_key_replaced_by_another_stays_one_mapping():
    text = '{"metadata": {"annotations": {"a": "x", "b": "y"}}, "spec": {}}\n'
    doc = textedit.DocumentText(text)
    edited = doc.apply(textedit.edit_annotations(doc, yamlnodes.compose(text), (("c", "true"),), ("a", "b")))
    assert edited == '{"metadata": {"annotations": {"c": "true"}}, "spec": {}}\n'


def test_an_entry_written_as_aliases_is_never_where_an_edit_goes():
    """`*s1 : *s3` has the marks of its anchors: a new annotation went in before it, and took it along."""
    text = "metadata:\n  labels:\n    n: &s1 y\n    &s2 app: &s3 web\n    *s1 : *s3\nspec: {}\n"
    doc = textedit.DocumentText(text)
    try:
        edited = doc.apply(textedit.set_annotation(doc, yamlnodes.compose(text), KEY, "true"))
    except textedit.EditError as error:
        assert "aliases" in error.message
        return
    assert yaml.safe_load(edited)["metadata"] == {"labels": {"n": "y", "app": "web", "y": "web"}, "annotations": {KEY: "true"}}


@given(st.text())
def test_a_value_is_written_as_json_writes_it(value):
    """The quoted scalars textedit writes are what json.dumps writes (ASCII, escapes), with or without _json."""
    import json

    assert textedit._json_string(value) == json.dumps(value)
