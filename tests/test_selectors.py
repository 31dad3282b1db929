"""Label selectors read as Kubernetes reads them: core/selectors.py against Kubernetes' own parser.

The reference is k8s.io/apimachinery/pkg/labels.Parse and Selector.Matches, built from source
(tests/harness/labels). For generated selector strings and label sets, sidecar-policy must accept
exactly the selectors Kubernetes accepts, and match exactly the label sets Kubernetes matches.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postrender.core import selectors
from tests.support.gotools import harness

KEYS = ["app", "tier", "app.kubernetes.io/name", "example.com/team", "a-b_c.d", "A9", "x" * 63, "x" * 64,
        "-app", "app-", "_x", "example.com/", "/name", "a/b/c", "Example.COM/x", "a" * 254 + "/b"]
VALUES = ["web", "api", "", "v1.2", "a_b-c", "A", "x" * 63, "x" * 64, "-web", "web-", "a b"]
OPERATORS = ["=", "==", "!=", " in ", " notin ", "in", "", "!"]


class Kubernetes:
    """The harness as a long-lived process: one JSON line in, one out."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([str(harness("labels"))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, selector: str, labels: dict[str, str]) -> dict[str, bool]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"selector": selector, "labels": labels}) + "\n")
        self.process.stdin.flush()
        answer: dict[str, bool] = json.loads(self.process.stdout.readline())
        return answer

    def close(self) -> None:
        self.process.communicate()


@pytest.fixture(scope="session")
def kubernetes():
    reference = Kubernetes()
    yield reference
    reference.close()


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


def ours(text: str, labels: dict[str, str]) -> dict[str, bool]:
    try:
        selector = selectors.parse_string(text)
    except selectors.SelectorError:
        return {"valid": False, "matches": False}
    return {"valid": True, "matches": selector.matches(labels)}


@settings(max_examples=400)
@given(text=selector_texts, labels=label_sets)
def test_selectors_parse_and_match_as_kubernetes_does(kubernetes, text, labels):
    assert ours(text, labels) == kubernetes.ask(text, labels)


@pytest.mark.parametrize("text", ["tier!=web", "tier notin (web)"])
def test_a_negative_requirement_matches_a_workload_without_the_label(kubernetes, text):
    assert ours(text, {"app": "shop"}) == kubernetes.ask(text, {"app": "shop"}) == {"valid": True, "matches": True}
