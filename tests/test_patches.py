"""The translation's building blocks: globs as RE2 regexes, targets that select exactly the
workload kinds, and what cannot be translated."""

from __future__ import annotations

import fnmatch
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from postrender.core.errors import UsageError
from postrender.core.globs import escape, glob_to_regex
from postrender.core.policy import glob_problem
from postrender.flux.borrowed_templates import MARK
from postrender.flux.patches import KUBERNETES_GROUPS, template_buckets, translate
from tests.support.helpers import policy_of, post_render

NAME_CHARS = "abz09-.[]!*?^\\"


@given(st.text(alphabet=NAME_CHARS, min_size=1, max_size=8), st.text(alphabet="abz09-.[]^\\", max_size=10))
def test_a_glob_selects_the_names_fnmatch_selects(glob, name):
    """Kustomize anchors the regex as ^(?:…)$; Python's re agrees with Go's RE2 on this subset."""
    assume(glob_problem(glob) is None)  # the policy refuses the others
    assert (re.fullmatch(glob_to_regex(glob), name) is not None) == fnmatch.fnmatchcase(name, glob)


def test_regexes_stay_readable():
    assert glob_to_regex("istio-*gateway") == "istio-.*gateway"
    assert glob_to_regex("kyverno-[!a]?") == "kyverno-[^a]."
    assert escape("argoproj.io") == r"argoproj\.io"


def test_every_target_selects_only_kinds_with_its_template_path():
    policy = policy_of("  workloadKinds:\n"
                     "  - {kind: CloneSet, apiVersion: apps.kruise.io/v1alpha1, podTemplate: spec.template}\n"
                     "  - {kind: Deployment, apiVersion: example.com/v1, podTemplate: spec.podTemplate}\n"
                     "  - {kind: Widget, podTemplate: spec.pod}\n")
    buckets, vague, _ = template_buckets(policy)
    assert vague == {}
    for bucket in buckets:
        groups = bucket.groups(bucket.kinds)
        for kind in bucket.kinds:
            for group in groups or ["any.example.com"]:
                entry = policy.kinds.find(kind, f"{group}/v1" if group else "v1")
                if entry is None:  # a pair no API serves: only inside Kubernetes' own groups
                    assert group in KUBERNETES_GROUPS, (kind, group)
                else:
                    assert entry.template_path == bucket.path, (kind, group)
    paths = {bucket.path for bucket in buckets if "Deployment" in bucket.kinds}
    assert paths == {("spec", "template"), ("spec", "podTemplate")}


def test_a_kind_without_group_is_any_group_and_translates():
    policy = policy_of("  workloadKinds:\n  - {kind: Widget, podTemplate: spec.pod}\n"
                     "  rules:\n  - match: {kinds: [Widget]}\n    sidecar: native\n")
    (patch,) = translate(policy)
    assert patch.target == {"kind": "^Widget$"}


def test_a_kind_without_group_that_a_grouped_entry_shadows_is_refused():
    """`any group but example.com` is not a regex kustomize's RE2 can say (no lookahead)."""
    policy = policy_of("  workloadKinds:\n  - {kind: Widget, podTemplate: spec.pod}\n"
                     "  - {kind: Widget, apiVersion: example.com/v1, podTemplate: spec.other}\n"
                     "  rules:\n  - name: widgets\n    match: {kinds: [Widget]}\n    sidecar: native\n")
    with pytest.raises(UsageError, match=r"policy.yaml:\d+: widgets cannot become a kustomize patch: spec.workloadKinds "
                                         "gives Widget without apiVersion"):
        translate(policy)


def test_keep_generates_nothing_and_default_removes_with_null():
    assert translate(policy_of("  fallback: keep\n")) == []
    patches = translate(policy_of("  rules:\n  - match: {kinds: [Deployment]}\n    sidecar: default\n"))
    assert [p.patch.splitlines()[-1].strip() for p in patches] == ["sidecar.istio.io/nativeSidecar: null"]


def test_rules_that_match_no_workload_kind_generate_nothing():
    assert translate(policy_of("  rules:\n  - match: {kinds: [ConfigMap]}\n    sidecar: native\n")) == []


def test_two_objects_a_target_cannot_tell_apart_but_the_policy_decides_differently_are_refused():
    stream = b"".join(
        b"---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: %s}\n"
        b"spec: {template: {spec: {containers: []}}}\n" % namespace for namespace in (b"team-a", b"team-b"))
    policy = policy_of("  rules:\n  - match: {namespaces: [team-a]}\n    sidecar: native\n"
                       "  - match: {namespaces: [team-*]}\n    sidecar: regular\n")
    _, decisions = post_render(stream, policy)
    with pytest.raises(UsageError, match="two Deployment objects named web that the policy decides differently"):
        translate(policy, decisions)


def test_patches_that_cannot_select_a_rollout_get_no_guard():
    patches = translate(policy_of("  rules:\n  - match: {kinds: [Deployment, Job]}\n    sidecar: native\n"))
    assert patches and all("annotationSelector" not in patch.target for patch in patches)
    assert all("borrows its pod template" not in patch.origin for patch in patches)


@pytest.mark.parametrize("rules", [
    "  fallback: native\n",
    "  rules:\n  - match: {kinds: [Rollout]}\n    sidecar: regular\n",
    "  rules:\n  - match: {names: [canary-*]}\n    sidecar: native\n",
    "  rules:\n  - match: {labels: tier=web}\n    sidecar: default\n",
])
def test_every_patch_that_may_select_a_rollout_excludes_the_borrowers_inside_the_guard(rules):
    """The mark is set by the first patches and removed by the last (kustomize runs them in order)."""
    patches = translate(policy_of(rules))
    rollouts = [i for i, patch in enumerate(patches) if patch.target.get("kind") in ("^Rollout$", None)]
    marking, unmarking = rollouts[:4], rollouts[-1]
    assert marking == [0, 1, 2, 3] and unmarking == len(patches) - 1
    policy_patches = patches[4:-1]
    assert any(p.target.get("kind") == "^Rollout$" for p in policy_patches)
    for patch in policy_patches:
        selects_rollouts = patch.target.get("kind") == "^Rollout$"
        assert (patch.target.get("annotationSelector") == f"!{MARK}") == selects_rollouts, patch
    assert patches[-1].target["annotationSelector"] == MARK
