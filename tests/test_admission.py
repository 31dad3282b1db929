"""`sidecar-policy admission` offline: the API version per Kubernetes release, the rules a pod cannot
answer at admission (exit 2, one line naming each), the defaults a platform team expects, and the
Python model of the decision (core/admission.py) against the post-renderer on generated workloads.

What the API server makes of the generated objects is tests/test_admission_cluster.py.
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.cli import main
from postrender.core.admission import Admission, Settings, pod_of, read_pod
from postrender.core.engine import Options
from postrender.core.errors import UsageError
from postrender.core.istio import ANNOTATION
from postrender.core.policy import parse_policy
from tests.support.helpers import POLICY_HEADER, policy_of, post_render
from tests.support.paths import ROOT
from tests.support.strategies import admission_policies, workload

POLICY = POLICY_HEADER + """\
spec:
  fallback: regular
  rules:
  - name: batch
    match: {kinds: [Job, CronJob]}
    sidecar: native
  - name: pipelines
    match: {kinds: [PipelineRun], namespaces: [data-*]}
    sidecar: native
"""


def admission(tmp_path, capsys, *args: str, policy: str = POLICY) -> tuple[int, list[dict], str]:
    path = tmp_path / "policy.yaml"
    path.write_text(policy)
    code = main(["admission", "--policy", str(path), *args])
    out, err = capsys.readouterr()
    return code, [doc for doc in yaml.safe_load_all(out) if doc is not None], err


def test_the_api_version_follows_the_kubernetes_release(tmp_path, capsys):
    for version, expected, warned in (("1.34", "v1beta1", True), ("v1.35.4", "v1beta1", True),
                                      ("1.36", "v1", False), ("1.37.2", "v1", False), (None, "v1", False)):
        code, documents, err = admission(tmp_path, capsys, *(["--kube-version", version] if version else []))
        assert code == 0
        assert [doc["kind"] for doc in documents] == ["MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"]
        assert {doc["apiVersion"] for doc in documents} == {f"admissionregistration.k8s.io/{expected}"}
        assert ("MutatingAdmissionPolicy=true" in err) == warned
        assert documents[1]["spec"] == {"policyName": documents[0]["metadata"]["name"]}


def test_before_1_34_there_is_nothing_to_generate(tmp_path, capsys):
    code, documents, err = admission(tmp_path, capsys, "--kube-version", "1.33")
    assert (code, documents) == (2, [])
    assert len(err.splitlines()) == 1 and "1.33" in err


def test_same_policy_same_bytes(tmp_path, capsys):
    outputs = {admission(tmp_path, capsys)[1].__repr__() for _ in range(2)}
    assert len(outputs) == 1


def test_defaults_a_platform_team_expects(tmp_path, capsys):
    _, (policy, _), _ = admission(tmp_path, capsys)
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Ignore"
    assert spec["matchConstraints"]["resourceRules"] == [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]
    assert spec["matchConstraints"]["namespaceSelector"]["matchExpressions"] == [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "istio-system"]}]
    assert [condition["name"] for condition in spec["matchConditions"]] == ["annotation-not-set"]
    _, (policy, _), _ = admission(tmp_path, capsys, "--failure-policy", "Fail", "--override-annotated",
                                  "--mesh-namespace", "mesh", "--name", "sidecars")
    assert policy["spec"]["failurePolicy"] == "Fail" and "matchConditions" not in policy["spec"]
    assert policy["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"][0]["values"] == ["kube-system", "mesh"]
    assert policy["metadata"]["name"] == "sidecars"


def test_a_rule_that_names_kube_system_acts_there_alone(tmp_path, capsys):
    named = POLICY + "  - name: node-agents\n    match: {namespaces: [kube-system], kinds: [DaemonSet]}\n    sidecar: regular\n"
    _, (policy, _), _ = admission(tmp_path, capsys, policy=named)
    spec = policy["spec"]
    assert spec["matchConstraints"]["namespaceSelector"]["matchExpressions"][0]["values"] == ["istio-system"]
    rules = {variable["name"]: variable["expression"] for variable in spec["variables"]}
    assert '!(request.namespace in ["kube-system"])' in rules["rule1"]
    assert "kube-system" not in rules["rule3"].split("\n", 2)[1]
    model = Admission(policy_of(named.removeprefix(POLICY_HEADER + "spec:\n")))
    job = {"metadata": {"ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "controller": True}]}}
    daemon = {"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d", "controller": True}]}}
    assert model.decide(job, "kube-system").action == "exempt"
    assert model.decide(daemon, "kube-system").rule.name == "node-agents"
    assert model.decide(job, "istio-system").action == "exempt"
    assert model.decide(job, "team").mode == "native"


REFUSED = {
    "labels": "    match: {labels: app=web}\n",
    "cronjob": "    match: {kinds: [CronJob]}\n",
    "cronjob-names": "    match: {kinds: [Job, CronJob], names: [nightly]}\n",
    "jobset": "    match: {kinds: [Job, JobSet]}\n",
    "knative": "    match: {kinds: [Service]}\n",
}


def test_rules_a_pod_cannot_answer_are_refused_one_line_each(tmp_path, capsys):
    for name, match in REFUSED.items():
        text = POLICY + f"  - name: {name}\n{match}    sidecar: native\n"
        code, documents, err = admission(tmp_path, capsys, policy=text)
        assert (code, documents) == (2, []), name
        assert len(err.splitlines()) == 1 and f"policy.yaml:12: {name} cannot be read at admission" in err, err
    both = POLICY + "".join(f"  - name: {name}\n{match}    sidecar: native\n" for name, match in REFUSED.items())
    code, _, err = admission(tmp_path, capsys, policy=both)
    assert code == 2 and len(err.splitlines()) == 1 and all(name in err for name in REFUSED)


def test_convert_injected_is_a_warning_at_admission(tmp_path, capsys):
    code, documents, err = admission(tmp_path, capsys, policy=POLICY.replace("spec:\n", "spec:\n  convertInjected: true\n"))
    assert code == 0 and len(documents) == 2
    assert err.startswith("sidecar-policy: warning: convertInjected") and len(err.splitlines()) == 1


def test_what_a_pod_can_answer_is_accepted(tmp_path, capsys):
    for match in ("{kinds: [Job, CronJob]}", "{kinds: [Job], names: [migrate-*]}", "{labels: ''}",
                  "{podLabels: 'app=web,tier notin (db)'}", "{names: [runner-*]}", "{podLabels: pod-template-hash}",
                  "{kinds: [Workflow, PyTorchJob, RayCluster, CloneSet, TaskRun, EphemeralRunner]}"):
        code, _, err = admission(tmp_path, capsys, policy=POLICY + f"  - match: {match}\n    sidecar: default\n")
        assert (code, err) == (0, ""), match


def owned(kind: str, api_version: str, name: str, labels: dict | None = None, **metadata) -> dict:
    reference = {"apiVersion": api_version, "kind": kind, "name": name, "controller": True}
    return {"metadata": {"labels": labels or {}, "ownerReferences": [reference], **metadata}}


def test_how_a_pod_is_read():
    cases = [
        ({"metadata": {"name": "debug"}}, ("Pod", "", "debug")),
        ({"metadata": {"generateName": "runner-"}}, ("Pod", "", "runner-")),
        (owned("ReplicaSet", "apps/v1", "web-5d8c7f9b64", {"pod-template-hash": "5d8c7f9b64"}), ("Deployment", "apps", "web")),
        (owned("ReplicaSet", "apps/v1", "web-abc", {"pod-template-hash": "other"}), ("ReplicaSet", "apps", "web-abc")),
        (owned("ReplicaSet", "apps/v1", "canary-7f9", {"rollouts-pod-template-hash": "7f9"}), ("Rollout", "argoproj.io", "canary")),
        (owned("Job", "batch/v1", "nightly-29384021"), ("Job", "batch", "nightly-29384021")),
        (owned("Workflow", "argoproj.io/v1alpha1", "etl-x7k2p"), ("Workflow", "argoproj.io", "etl-x7k2p")),
        (owned("Node", "v1", "node-1"), ("Node", "", "node-1")),
        ({"metadata": {"name": "p", "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x"}]}}, ("Pod", "", "p")),
    ]
    for pod, expected in cases:
        assert tuple(read_pod(pod)) == expected


def test_kinds_keep_their_api_group_at_admission():
    model = Admission(policy_of("  rules:\n  - match: {kinds: [Deployment, Workflow]}\n    sidecar: native\n"))
    decide = lambda pod: model.decide(pod, "team").mode  # noqa: E731
    assert decide(owned("ReplicaSet", "apps/v1", "web-5d8", {"pod-template-hash": "5d8"})) == "native"
    assert decide(owned("Deployment", "example.com/v1", "web")) == "keep"  # not apps: not the post-renderer's Deployment
    assert decide(owned("Workflow", "argoproj.io/v1alpha1", "etl")) == "native"  # a kind no table knows: any group


def test_the_pods_own_annotation_wins_unless_told_otherwise():
    policy = policy_of("  fallback: native\n")
    pod = {"metadata": {"name": "p", "annotations": {ANNOTATION: "false"}}}
    assert Admission(policy).decide(pod, "team").action == "annotated"
    assert Admission(policy, Settings(override_annotated=True)).decide(pod, "team")[1:] == ("native", "replaced")


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(policy=admission_policies(), data=st.data())
def test_the_model_decides_as_the_post_renderer_where_both_see_the_same(policy, data):
    """Every workload kind but CronJob (whose pods show only their Job), outside the exempt namespaces,
    with the pods' own annotation overridden (the post-renderer replaces it too)."""
    text, _, _, custom_kind = policy
    documents = [doc for doc in data.draw(st.lists(workload(custom_kind), min_size=1, max_size=8)) if doc["kind"] != "CronJob"]
    namespace = data.draw(st.sampled_from(["team-a", "default"]))
    parsed = parse_policy(text, "policy.yaml")
    _, outcomes = post_render(yaml.safe_dump_all(documents).encode(), parsed, Options(namespace=namespace))
    model = Admission(parsed, Settings(override_annotated=True))
    for outcome in outcomes:
        pod = pod_of(outcome.workload, outcome.template, minutes=29384021)
        decision = model.decide(pod, outcome.workload.namespace)
        assert (decision.rule, decision.mode) == (outcome.rule, outcome.mode)


def test_refused_policies_raise_before_anything_is_built():
    try:
        Admission(policy_of("  rules:\n  - match: {labels: app=web}\n    sidecar: native\n"))
    except UsageError as error:
        assert error.exit_code == 2
    else:
        raise AssertionError("a labels rule was accepted")


EXPLAINED = POLICY.split("  - name: pipelines")[0] + """\
  - name: web
    match: {kinds: [Deployment], names: [web]}
    sidecar: default
"""


def test_explain_says_what_the_admission_policy_decides_for_each_workload(tmp_path, capsys):
    import json

    (tmp_path / "policy.yaml").write_text(EXPLAINED)
    stream = str(ROOT / "tests" / "data" / "admission-workloads.yaml")
    rows = {}
    for extra in ([], ["--admission"], ["--admission", "--override-annotated"]):
        assert main(["explain", "--policy", str(tmp_path / "policy.yaml"), "-o", "json", *extra, stream]) == 0
        rows[" ".join(extra)] = [(row["name"], row["rule"], row["sidecar"], row["action"]) for row in json.loads(capsys.readouterr().out)]
    assert rows[""] == [("web", "web", "default", "removed"), ("nightly", "batch", "native", "set"),
                        ("agent", None, "regular", "set"), ("db", None, "regular", "set")]
    # The Deployment's pods carry their template's annotation, and kube-system is left alone.
    assert rows["--admission"] == [("web", None, "keep", "annotated"), ("nightly", "batch", "native", "set"),
                                   ("agent", None, "keep", "exempt"), ("db", None, "regular", "set")]
    assert rows["--admission --override-annotated"][0] == ("web", "web", "default", "removed")


def test_explain_at_admission_refuses_what_a_pod_cannot_answer(tmp_path, capsys):
    (tmp_path / "policy.yaml").write_text(EXPLAINED + "  - match: {labels: app=web}\n    sidecar: native\n")
    assert main(["explain", "--admission", "--policy", str(tmp_path / "policy.yaml")]) == 2
    assert "cannot be read at admission" in capsys.readouterr().err


def test_the_example_policy_as_reviewers_read_it(snapshot, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["admission", "--policy", "examples/admission-policy.yaml"]) == 0
    snapshot.assert_match(capsys.readouterr().out, "admission-policy.yaml")


def test_the_documented_refusal(monkeypatch, capsys):
    """docs/admission.md shows this command and its one line."""
    monkeypatch.chdir(ROOT)
    assert main(["admission", "--policy", "examples/policy.yaml"]) == 2
    line = capsys.readouterr().err
    assert line in (ROOT / "docs" / "admission.md").read_text()


def test_names_and_globs_cannot_break_out_of_the_cel(tmp_path, capsys):
    """A rule's name goes into a CEL comment and its globs into CEL strings: neither can end them early."""
    import json
    import re

    hostile = POLICY_HEADER + """\
spec:
  rules:
  - name: "x\\n] || true // \\u2028\\"y"
    match: {names: ['a"b\\c*', "é[!\\"]"]}
    sidecar: native
"""
    _, (policy, _), _ = admission(tmp_path, capsys, policy=hostile)
    rule = next(variable["expression"] for variable in policy["spec"]["variables"] if variable["name"] == "rule1")
    comment, condition = rule.split("\n")
    assert comment.startswith("// rule 1 ") and comment.isascii()
    literal = re.fullmatch(r'variables\.name\.matches\((".*")\)', condition).group(1)
    regex = json.loads(literal)  # a CEL string literal here is a JSON one
    assert [name for name in ('a"b\\cX', 'a"b\\', "éx", 'é"', "ab") if re.search(regex, name)] == ['a"b\\cX', "éx"]


LINKERD = POLICY.replace("spec:\n", 'spec:\n  mesh: linkerd\n  linkerdVersion: "2.19"\n', 1)


def test_a_linkerd_policy_writes_the_key_its_release_reads(tmp_path, capsys):
    """Linkerd 2.19 reads the beta key, then the alpha one (core/linkerd.py); the GA key is 2.20's."""
    from postrender.core.linkerd import ALPHA_KEY, BETA_KEY, KEY

    _, (policy, _), _ = admission(tmp_path, capsys, policy=LINKERD)
    spec = policy["spec"]
    assert spec["matchConstraints"]["namespaceSelector"]["matchExpressions"][0]["values"] == ["kube-system", "linkerd"]
    condition = spec["matchConditions"][0]["expression"]
    assert BETA_KEY in condition and ALPHA_KEY in condition and f'"{KEY}"' not in condition
    patch = spec["mutations"][0]["jsonPatch"]["expression"]
    assert "config.beta.linkerd.io~1proxy-enable-native-sidecar\", value" in patch and "sidecar.istio.io" not in patch
    model = Admission(parse_policy(LINKERD, "policy.yaml"))
    job = owned("Job", "batch/v1", "migrate")
    assert model.decide({"metadata": {**job["metadata"], "annotations": {ALPHA_KEY: "false"}}}, "team").action == "annotated"
    pod = {"metadata": {**job["metadata"], "annotations": {KEY: "false"}}}  # a key 2.19 does not read
    decision = model.decide(pod, "team")
    assert decision[1:] == ("native", "set")  # the key it writes was not there; the GA key goes
    assert model.admitted(pod, decision)["metadata"]["annotations"] == {BETA_KEY: "true"}


def test_a_rule_longer_than_cel_takes_is_refused(tmp_path, capsys):
    """The API server's CEL parser takes expressions of up to 100,000 characters (pinned on the API
    server by tests/test_admission_cluster.py); a longer rule is refused here, naming it."""
    globs = ", ".join("'" + f"{index:04d}" + "y" * 240 + "'" for index in range(420))
    code, documents, err = admission(tmp_path, capsys, policy=POLICY + f"  - name: long\n    match: {{names: [{globs}]}}\n    sidecar: native\n")
    assert (code, documents) == (2, []) and "policy.yaml:12: long is" in err and "100000" in err


def test_a_policy_larger_than_etcd_stores_by_default_is_a_warning(tmp_path, capsys):
    selector = ",".join(f"v{index}>1" for index in range(10))  # a few characters, each a few hundred of CEL
    rules = f"  - match: {{podLabels: '{selector}'}}\n    sidecar: native\n" * 600
    code, documents, err = admission(tmp_path, capsys, policy=POLICY + rules)
    assert code == 0 and len(documents) == 2
    assert err.startswith("sidecar-policy: warning: the MutatingAdmissionPolicy is") and "--max-request-bytes" in err


def test_check_at_admission_says_why_a_pod_keeps_a_regular_sidecar(tmp_path, capsys, monkeypatch):
    import io
    import sys

    (tmp_path / "policy.yaml").write_text(POLICY)
    job = (b"apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: shop}\nspec:\n  template:\n"
           b"    metadata:\n      annotations: {sidecar.istio.io/nativeSidecar: 'false'}\n"
           b"    spec: {containers: [{name: a, image: x}]}\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(job)))
    assert main(["check", "--admission", "--policy", str(tmp_path / "policy.yaml")]) == 3
    assert "SP101 Job shop/migrate: istio-proxy ends up a regular sidecar (by the pod's own annotation" in capsys.readouterr().out
