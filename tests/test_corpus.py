"""The real rendered manifests in ../shared/data/corpus: the stream is kept, changes are minimal."""

from __future__ import annotations

import difflib
import io
import re

import kubernetes_validate
import pytest
import yaml

from postrender.core.istio import ANNOTATION
from postrender.core.stream import read_documents
from tests.support.helpers import policy_of, post_render
from tests.support.paths import corpus_files

POLICIES = {
    "all-native": "  fallback: native\n",
    "jobs-native-rest-regular": "  fallback: regular\n  rules:\n  - match: {kinds: [Job, CronJob]}\n    sidecar: native\n",
    "by-label": (
        "  rules:\n  - match:\n      labels: app.kubernetes.io/component in (controller,admission-webhook)\n"
        "    sidecar: native\n  - match: {names: ['*-server', 'kyverno-*']}\n    sidecar: regular\n"
    ),
}
# The only lines an edit may add or remove.
ANNOTATION_LINE = re.compile(r'^\s*(metadata:|annotations:|sidecar\.istio\.io/nativeSidecar: "(true|false)")\s*$')


def documents(data: bytes) -> list[bytes]:
    return [document.raw for document in read_documents(io.BytesIO(data))]


@pytest.fixture(params=corpus_files(), ids=lambda path: path.name)
def corpus(request) -> bytes:
    return request.param.read_bytes()


@pytest.mark.parametrize("policy_name", sorted(POLICIES))
def test_stream_is_kept_and_only_annotation_lines_change(corpus, policy_name):
    output, outcomes = post_render(corpus, policy_of(POLICIES[policy_name]))
    before, after = documents(corpus), documents(output)
    assert len(after) == len(before)
    changed = {outcome.workload.document for outcome in outcomes if outcome.action in ("set", "replaced", "removed")}
    for index, (old, new) in enumerate(zip(before, after), 1):
        if index not in changed:
            assert new == old, f"document {index} changed although no workload in it did"
            continue
        diff = [line for line in difflib.ndiff(old.decode().splitlines(), new.decode().splitlines()) if line[:1] in "+-"]
        assert diff and all(line[0] == "+" and ANNOTATION_LINE.match(line[2:]) for line in diff), diff


def load(raw: bytes):
    return yaml.load(raw, Loader=yaml.CSafeLoader)


@pytest.mark.parametrize("policy_name", sorted(POLICIES))
def test_annotation_is_a_string_where_the_policy_decided(corpus, policy_name):
    output, outcomes = post_render(corpus, policy_of(POLICIES[policy_name]))
    after = documents(output)
    expected = {"native": "true", "regular": "false"}
    decided = [outcome for outcome in outcomes if outcome.mode in expected]
    for outcome in decided:
        document = load(after[outcome.workload.document - 1])
        assert document["metadata"]["name"] == outcome.workload.name
        spec = document["spec"]["jobTemplate"]["spec"] if document["kind"] == "CronJob" else document["spec"]
        assert spec["template"]["metadata"]["annotations"][ANNOTATION] == expected[outcome.mode]


def test_running_twice_gives_the_same_bytes(corpus):
    policy = policy_of(POLICIES["jobs-native-rest-regular"])
    once, _ = post_render(corpus, policy)
    twice, outcomes = post_render(once, policy)
    assert twice == once
    assert all(outcome.action == "unchanged" for outcome in outcomes)


def test_default_removes_exactly_what_native_added(corpus):
    native, _ = post_render(corpus, policy_of(POLICIES["all-native"]))
    restored, outcomes = post_render(native, policy_of("  fallback: default\n"))
    assert restored == corpus
    assert outcomes and all(outcome.action == "removed" for outcome in outcomes)


def test_changed_workloads_still_validate_against_kubernetes_schemas(corpus):
    output, outcomes = post_render(corpus, policy_of(POLICIES["all-native"]))
    before, after = documents(corpus), documents(output)
    changed = sorted({outcome.workload.document for outcome in outcomes if outcome.action == "set"})
    assert changed
    for index in changed:
        old, new = load(before[index - 1]), load(after[index - 1])
        try:
            kubernetes_validate.validate(old, "1.30", strict=False)
        except kubernetes_validate.ValidationError:
            continue  # only claim what held before
        kubernetes_validate.validate(new, "1.30", strict=False)


@pytest.mark.parametrize("policy_name", sorted(POLICIES))
def test_every_output_is_accepted_by_the_api_server(corpus, policy_name, server_reader):
    """Every object of the output, created with --dry-run=server on Kubernetes 1.37 (support/server_reading.py)."""
    output, _ = post_render(corpus, policy_of(POLICIES[policy_name]))
    assert server_reader.refusals(output) == ""
