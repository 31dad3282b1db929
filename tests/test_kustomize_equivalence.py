"""The generated patches, applied by the real `kubectl kustomize` (kustomize v5.5 on this machine),
give every workload the same sidecar.istio.io/nativeSidecar annotation as sidecar-policy itself
(with `spec.mesh: linkerd`, the same Linkerd annotations under each of their keys).

Flux cannot be run here; it applies a HelmRelease's postRenderers with this same kustomize API:
one in-memory build whose only resource is Helm's output and whose `patches` are the
post-renderer's, in order (fluxcd/helm-controller internal/postrender/kustomize.go). A
kustomization listing the rendered file as its resource plus our patches is that build.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from postrender.core.policy import Policy, parse_policy
from postrender.flux.command import patches_yaml
from postrender.flux.patches import translate
from tests.support.helpers import post_render
from tests.support.kustomize_tools import HAVE_KUBECTL, POOL, annotations, borrowers, kustomize_build, selected, sidecar_policy
from tests.support.paths import CORPUS

pytestmark = pytest.mark.skipif(not HAVE_KUBECTL, reason="kubectl (with kustomize) is not installed")

HEADER = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nmetadata: {name: test}\n"
POLICIES = {
    # kinds only; Deployments and StatefulSets regular, Jobs and Rollouts native, the rest kept.
    "kinds": """
spec:
  rules:
  - match: {kinds: [Job, CronJob, Rollout]}
    sidecar: native
  - match: {kinds: [Deployment, StatefulSet, PodTemplate]}
    sidecar: regular
""",
    # name globs, with * ? [seq] [!seq]; the fallback covers everything else.
    "globs": """
spec:
  fallback: regular
  rules:
  - match: {names: ["*-controller", "details-v?", "istio-*gateway", "kyverno-[!a]*", "argocd-[a-r]*", "*-pod"]}
    sidecar: native
  - match: {kinds: [Job], names: ["*"]}
    sidecar: default
""",
    # label selectors in both forms: string (in, !key) and matchExpressions (NotIn matches a missing key).
    "labels": """
spec:
  rules:
  - match: {labels: "app.kubernetes.io/component in (controller,admission-webhook)"}
    sidecar: regular
  - match: {labels: "!app.kubernetes.io/part-of"}
    sidecar: native
  - match:
      labels:
        matchExpressions: [{key: app, operator: NotIn, values: [ratings, reviews]}]
    sidecar: regular
""",
    # removal: the input is annotated first (PRE_ANNOTATE), then most annotations go.
    "default": """
spec:
  fallback: regular
  rules:
  - match: {names: ["*-v1", "*controller*", "argocd-*", "kyverno-*", "istiod*", "*-pod", "old-*"]}
    sidecar: default
  - match: {kinds: [Job, CronJob, ReplicationController]}
    sidecar: default
""",
    # the fallback first and overlapping rules: the first matching rule must win.
    "first-rule-wins": """
spec:
  fallback: native
  rules:
  - match: {kinds: [Deployment], labels: app}
    sidecar: regular
  - match: {kinds: [Deployment, Pod]}
    sidecar: default
  - match: {names: ["*"]}
    sidecar: regular
""",
    # rules a target cannot express, resolved with --rendered: one exact patch per workload
    # (a Rollout's too, which must still not select the Rollouts that borrow their template).
    "rendered": """
spec:
  fallback: keep
  rules:
  - match: {podLabels: "app in (canary,details,reviews,web,worker)"}
    sidecar: regular
  - match: {namespaces: ["kube-*", "ingress-*", "istio-*"]}
    sidecar: native
  - match: {kinds: [Deployment]}
    sidecar: regular
""",
    # Linkerd, release not known: every key written, every key removed.
    "linkerd": """
spec:
  mesh: linkerd
  fallback: native
  rules:
  - match: {kinds: [Deployment, StatefulSet]}
    sidecar: regular
  - match: {names: ["*-v1", "*controller*", "*-pod"]}
    sidecar: default
""",
    # Linkerd 2.19 over manifests with every key already (PRE_ANNOTATE): its key set, the others removed.
    "linkerd-2.19": """
spec:
  mesh: linkerd
  linkerdVersion: "2.19"
  fallback: regular
  rules:
  - match: {kinds: [Job, CronJob, Pod]}
    sidecar: native
  - match: {names: ["*-v1", "*controller*", "argocd-*", "kyverno-*"]}
    sidecar: default
""",
}
PRE_ANNOTATE = {
    "default": HEADER + """
spec:
  fallback: native
  rules:
  - match: {kinds: [Job, CronJob]}
    sidecar: regular
""",
    "linkerd-2.19": HEADER + """
spec:
  mesh: linkerd
  fallback: native
  rules:
  - match: {kinds: [Job, CronJob]}
    sidecar: regular
""",
}
ALL_KINDS = Path(__file__).parent / "data" / "all-kinds.yaml"
WORKLOAD_KINDS = "  workloadKinds:\n  - {kind: CloneSet, apiVersion: apps.kruise.io/v1alpha1, podTemplate: spec.template}\n"
SMALL = ["ingress-nginx-cloud-deploy.yaml", "ingress-nginx-cloud-deploy-helm-4.0.15-with-source-comments.yaml",
         "istio-bookinfo.yaml"]
# 1-8 s each with kustomize: one policy each (the one that does most: pre-annotation, removal, fallback).
LARGE = ["istio-manifest-generate-all_on.golden.yaml", "argo-cd-install.yaml", "kyverno-install-2024-07-04.yaml"]
# kyverno-install-latest-testing.yaml (4 MB) adds no kind the others lack: left out for time.
CASES = ([(ALL_KINDS, name) for name in POLICIES] + [(CORPUS / file, name) for file in SMALL for name in POLICIES]
         + [pytest.param((CORPUS / file, "default"), marks=pytest.mark.slow) for file in LARGE])


def _case_id(case: tuple[Path, str]) -> str:
    return f"{case[0].stem}-{case[1]}"


def _policy(name: str, stream: Path, text: str | None = None) -> Policy:
    text = HEADER + POLICIES[name] if text is None else text
    if stream == ALL_KINDS:
        text = text.replace("spec:\n", "spec:\n" + WORKLOAD_KINDS, 1)
    return parse_policy(text, name)


def _build(directory: Path, stream: Path, name: str) -> tuple[str, str, str]:
    """Input, sidecar-policy's output, and kustomize's output with the generated patches."""
    policy = _policy(name, stream)
    data = stream.read_bytes()
    if name in PRE_ANNOTATE:  # annotate first, so that there is something to remove
        data = post_render(data, _policy(name, stream, PRE_ANNOTATE[name]))[0]
    ours, decisions = post_render(data, policy)
    patches = translate(policy, decisions if name == "rendered" else None)
    directory.mkdir(parents=True)
    (directory / "input.yaml").write_bytes(data)
    (directory / "kustomization.yaml").write_text("resources: [input.yaml]\npatches:\n" + patches_yaml(patches))
    return data.decode(), ours.decode(), kustomize_build(directory)


@pytest.fixture(scope="module")
def builds(request, tmp_path_factory):
    """Start the builds of every selected case at once, in a few processes; tests wait for their own."""
    root = tmp_path_factory.mktemp("kustomize")
    return {case: POOL.submit(_build, root / _case_id(case), *case) for case in selected(request, "case")}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_kustomize_applies_the_policy_like_sidecar_policy(case, builds):
    stream, name = case
    before, ours, built = builds[case].result()
    policy = _policy(name, stream)
    expected = annotations(ours, policy)
    assert expected, "the stream has workloads"
    assert annotations(built, policy) == expected
    assert expected != annotations(before, policy), "the policy changes something here"
    assert borrowers(built) == borrowers(before), "a Rollout with spec.workloadRef comes out as it went in"


def test_a_rule_kustomize_cannot_express_is_refused_by_name(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(HEADER + POLICIES["rendered"])
    done = sidecar_policy("kustomize", "--policy", str(policy))
    assert done.returncode == 2
    assert b"rule 1 cannot become a kustomize patch: podLabels" in done.stderr
    assert b"rule 2 cannot become a kustomize patch: namespace globs" in done.stderr
    assert b"--rendered" in done.stderr
    assert done.stdout == b""
