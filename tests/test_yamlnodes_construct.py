"""yamlnodes.construct takes a short path for common tags; it must build exactly what its full
constructor (PyYAML's SafeConstructor, unknown tags read as plain data) builds: same values, types,
key order, shared objects for aliases; and reject what that constructor rejects."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from postrender.core import yamlnodes
from tests.support.paths import corpus_files


def reference(node):
    return yamlnodes._construct_full(node)


def same(left, right, seen_left: dict, seen_right: dict, path: str = "") -> None:
    """Equal values of equal types, dict order included, with the same objects shared in both."""
    assert type(left) is type(right), path
    if isinstance(left, (dict, list)):
        # An alias is the same object in both, a distinct node a distinct object in both.
        assert (id(left) in seen_left) == (id(right) in seen_right), path
        if id(left) in seen_left:
            assert seen_left[id(left)] == seen_right[id(right)], path
            return
        seen_left[id(left)] = seen_right[id(right)] = path
    if isinstance(left, dict):
        assert list(left) == list(right), path
        for key in left:
            same(left[key], right[key], seen_left, seen_right, f"{path}.{key}")
    elif isinstance(left, list):
        assert len(left) == len(right), path
        for index, (a, b) in enumerate(zip(left, right)):
            same(a, b, seen_left, seen_right, f"{path}[{index}]")
    elif isinstance(left, float) and math.isnan(left):
        assert math.isnan(right), path
    else:
        assert left == right, path


def assert_constructs_alike(text: str) -> None:
    node = yaml.compose(text, Loader=yaml.CSafeLoader)
    try:
        expected = reference(node)
    except Exception as error:  # e.g. `!!int nope`: the same verdict, whatever it is
        with pytest.raises(type(error)):
            yamlnodes.construct(yaml.compose(text, Loader=yaml.CSafeLoader))
        return
    same(yamlnodes.construct(yaml.compose(text, Loader=yaml.CSafeLoader)), expected, {}, {})


TRICKY = [
    "a: 1\nb: 0x1F\nc: 0o17\nd: 1_000\ne: 1:30\nf: -.inf\ng: .NaN\nh: 2001-12-14t21:59:43.10-05:00\ni: 2002-12-14\n",
    "yes: no\nOn: Off\n~: null\n'1': 1\n1: one\n3.5: x\n",
    "base: &b {x: 1, y: [1, 2]}\nderived:\n  <<: *b\n  y: 3\n",
    "a: &a [1, 2]\nb: *a\nc: {k: *a}\n",
    "r: &r [*r]\n",
    "m: &m {self: *m}\n",
    "s: !!set {a, b}\no: !!omap [{a: 1}]\nbin: !!binary aGVsbG8=\n",
    "bad: !!int nope\n",
    "bad: !!binary '%%%'\n",
    "weird: !!str {a: b}\n",
    "custom: !thing x\n",
    "dup: 1\ndup: 2\nfirst: x\n",
    "? [a, b]\n: c\n",
    "= : value key\n",
    "a: !!bool maybe\n",
    "deep: " + "[" * 300 + "]" * 300 + "\n",
    "- a\n- - b\n  - {c: d}\n",
    "'quoted': \"1\"\nplain: 010\nfloat: 1e3\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_documents_construct_as_safe_constructor_does(text: str) -> None:
    assert_constructs_alike(text)


def test_corpus_documents_construct_as_safe_constructor_does() -> None:
    for path in corpus_files():
        for node in yaml.compose_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
            if node is not None:
                same(yamlnodes.construct(node), reference(node), {}, {}, path.name)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["0x1F", "1:30", "~", "yes", "2001-12-14", ".inf", "0o7"]),
                    st.dates(), st.datetimes())
data = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), children, max_size=4)),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(data, st.booleans())
def test_generated_documents_construct_as_safe_constructor_does(value, flow: bool) -> None:
    shared = {"first": value, "again": value}  # the dumper writes an anchor and an alias for it
    assert_constructs_alike(yaml.safe_dump(shared, default_flow_style=flow))


def tags(node, seen=None) -> list[tuple[str, str | None]]:
    """Every node's tag (and scalar value), depth first."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return [("alias", None)]
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        return [(node.tag, node.value)]
    children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else node.value
    return [(node.tag, None)] + [entry for child in children for entry in tags(child, seen)]


def test_compose_resolves_tags_as_pyyaml_does() -> None:
    """yamlnodes.compose memoizes tag resolution; twice over, so the memo is used, not only filled."""
    # Self-referencing aliases are left out: yamlnodes.compose rejects them (recursive aliases).
    texts = [text for text in TRICKY if "deep" not in text and "*r" not in text and "*m" not in text] + [
        text for path in corpus_files() for text in path.read_text(encoding="utf-8").split("\n---")]
    for _ in range(2):
        for text in texts:
            try:
                expected = yaml.compose(text, Loader=yaml.CSafeLoader)
            except yaml.YAMLError:
                continue
            if expected is not None:
                assert tags(yamlnodes.compose(text)) == tags(expected)
