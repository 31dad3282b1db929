"""Label selectors read as Kubernetes reads them: core/selectors.py against Kubernetes' own parser.

The reference is k8s.io/apimachinery/pkg/labels.Parse and Selector.Matches, built from source
(tests/harness/kubeyaml, through the `kube_yaml` fixture). For generated selector strings and label sets, sidecar-policy must accept
exactly the selectors Kubernetes accepts, and match exactly the label sets Kubernetes matches.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postrender.core import selectors
from tests.support.kubeyaml import KubeYAML

KEYS = ["app", "tier", "app.kubernetes.io/name", "example.com/team", "a-b_c.d", "A9", "x" * 63, "x" * 64,
        "-app", "app-", "_x", "example.com/", "/name", "a/b/c", "Example.COM/x", "a" * 254 + "/b"]
VALUES = ["web", "api", "", "v1.2", "a_b-c", "A", "x" * 63, "x" * 64, "-web", "web-", "a b"]
OPERATORS = ["=", "==", "!=", " in ", " notin ", "in", "", "!"]


@st.composite
def requirements(draw) -> str:
    key = draw(st.sampled_from(KEYS))
    operator = draw(st.sampled_from(OPERATORS))
    if operator == "!":
        return "!" + key
    if operator == "":
        return key
    if operator.strip() in ("in", "notin"):
        values = draw(st.lists(st.sampled_from(VALUES), max_size=3))
        return f"{key}{operator}({', '.join(values)})"
    return key + operator + draw(st.sampled_from(VALUES))


selector_texts = st.one_of(
    st.lists(requirements(), min_size=1, max_size=3).map(",".join),
    st.text(alphabet="ab=!(), inot", max_size=16),  # the grammar's edges
)
label_sets = st.dictionaries(st.sampled_from(KEYS[:6]), st.sampled_from(VALUES[:7]), max_size=4)


def ours(text: str, labels: dict[str, str]) -> tuple[bool, bool]:
    try:
        selector = selectors.parse_string(text)
    except selectors.SelectorError:
        return False, False
    return True, selector.matches(labels)


def kubernetes(kube_yaml: KubeYAML, text: str, labels: dict[str, str]) -> tuple[bool, bool]:
    answer = kube_yaml.selector(text, labels)
    return answer.valid, bool(answer.valid and answer.matches)


@settings(max_examples=400)
@given(text=selector_texts, labels=label_sets)
def test_selectors_parse_and_match_as_kubernetes_does(kube_yaml, text, labels):
    assert ours(text, labels) == kubernetes(kube_yaml, text, labels)


@pytest.mark.parametrize("text", ["tier!=web", "tier notin (web)"])
def test_a_negative_requirement_matches_a_workload_without_the_label(kube_yaml, text):
    assert ours(text, {"app": "shop"}) == kubernetes(kube_yaml, text, {"app": "shop"}) == (True, True)
