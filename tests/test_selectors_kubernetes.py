"""Label selectors against Kubernetes' own parser (labels.Parse, metav1.LabelSelectorAsSelector in
tests/harness/kubeyaml): the same strings are accepted and refused, and match the same labels."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from postrender.core.selectors import SelectorError, from_object, parse_string

EXAMPLES = int(os.environ.get("SIDECAR_POLICY_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES * 3, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces selectors are made of, valid and not: keys, values, every operator, odd spacing and characters.
PIECES = ["app", "tier", "x.io/app", "a..b/c", "-a", "A_b.c", "in", "notin", "web", "1", "10", "-1", "a" * 64,
          "=", "==", "!=", "!", "<", ">", "(", ")", ",", " ", "\t", "\v", "\n", "", "é", "/", "x/", "_"]
LABELS = st.dictionaries(st.sampled_from(["app", "tier", "x.io/app", "in"]), st.sampled_from(["", "web", "1", "10", "x"]), max_size=3)


def ours(text: str, labels: dict) -> tuple[bool, bool | None]:
    try:
        selector = parse_string(text)
    except SelectorError:
        return False, None
    return True, selector.matches(labels)


@SETTINGS
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=8), labels=LABELS)
@example(pieces=["app", "="], labels={"app": ""})
@example(pieces=["app", "!="], labels={"app": "x"})
@example(pieces=["app", " ", "in", " ", "(", ")"], labels={"app": ""})
@example(pieces=["app", "=", "web", ","], labels={})
@example(pieces=["app", ">", "1"], labels={"app": "10"})
def test_string_selectors_parse_and_match_as_labels_parse(kube_yaml, pieces: list[str], labels: dict) -> None:
    text = "".join(pieces)
    kube = kube_yaml.selector(text, labels)
    assert ours(text, labels) == (kube.valid, kube.matches), kube.error


EXPRESSIONS = st.fixed_dictionaries(
    {"key": st.sampled_from(["app", "x.io/app", "a..b/c", ""]), "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"])},
    optional={"values": st.lists(st.sampled_from(["", "web", "1", "-x"]), max_size=2)},
)


@SETTINGS
@given(match_labels=st.dictionaries(st.sampled_from(["app", "x/", "tier"]), st.sampled_from(["web", "", "a b"]), max_size=2),
       expressions=st.lists(EXPRESSIONS, max_size=2), labels=LABELS)
def test_selector_objects_parse_and_match_as_label_selector_as_selector(kube_yaml, match_labels, expressions, labels) -> None:
    selector = {"matchLabels": match_labels, "matchExpressions": expressions}
    kube = kube_yaml.label_selector(selector, labels)
    try:
        mine = from_object(selector)
    except SelectorError:
        assert not kube.valid
        return
    assert kube.valid, kube.error
    assert mine.matches(labels) == kube.matches


# Keys and values built from the characters that decide their validity (both cases, digits, `-_./`, a
# non-ASCII letter) and of the lengths where the limits are (63 for a name, 253 for a prefix).
SEGMENTS = st.sampled_from(["a", "Z", "0", "-", "_", ".", "/", "é", "a" * 62, "b" * 63, "c" * 190, "d.e"])
KEYS_OR_VALUES = st.lists(SEGMENTS, max_size=6).map("".join)


@SETTINGS
@given(key=KEYS_OR_VALUES, value=KEYS_OR_VALUES)
@example(key="a" * 253 + "/b", value="x")
@example(key="a" * 254 + "/b", value="x")
@example(key="a-.b/c", value="-x")
def test_label_keys_and_values_are_valid_where_labels_parse_says(kube_yaml, key: str, value: str) -> None:
    """As `key` (Exists), `key=value` and `key in (value)`: refused or read alike, for the same labels."""
    labels = {key: value}
    for text in (key, f"{key}={value}", f"{key} in ({value})"):
        kube = kube_yaml.selector(text, labels)
        assert ours(text, labels) == (kube.valid, kube.matches), (text, kube.error)
