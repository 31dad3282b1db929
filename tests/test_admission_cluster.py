"""The admission policy on a real API server: Kubernetes 1.37's kube-apiserver and kube-controller-manager
with Istio's injector as its mutating webhook (tests/support/cluster.py).

The generated objects are accepted in every API version the server serves them in; pods created as
operators and controllers create them get the decided annotation and istio-proxy in that form, the
others are left alone; over generated policies and workloads, the API server's decision is the
post-renderer's (and the Python model's, which explain and pods use); a large policy stays within
the API server's CEL cost limits.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.admission.objects import api_for, policy_objects
from postrender.core import linkerd
from postrender.core.admission import Admission, Settings
from postrender.core.engine import Options
from postrender.core.istio import ANNOTATION
from postrender.core.options import parse_kube_version
from postrender.core.policy import parse_policy
from tests.support.admission_cluster import SCENARIO_LABEL, annotation, applied, dry_run, only_for, pod
from tests.support.cluster import sidecar_form
from tests.support.helpers import POLICY_HEADER, post_render, run_cli
from tests.support.strategies import CUSTOM_KIND, NAMESPACES, admission_policies, workload

V1 = "admissionregistration.k8s.io/v1"
SUPPORTED = {"1.36": V1, "1.34": "admissionregistration.k8s.io/v1beta1"}  # a release per API version written
WAIT = 90.0  # seconds for a controller to create a pod, on a busy machine


def objects_for(text: str, name: str, kube_version: str | None = None, failure_policy: str = "Fail",
                override: bool = False) -> list[dict]:
    """The generated objects, in-process (the command itself runs in test_operators_pods...)."""
    model = Admission(parse_policy(text, "policy.yaml"), Settings(override_annotated=override))
    return policy_objects(model, api_for(parse_kube_version(kube_version)), name, failure_policy)


def serves_policies(cluster, api_version: str) -> bool:
    found = cluster.kubectl("get", "--raw", f"/apis/{api_version}", check=False)
    return found.returncode == 0 and any(
        resource["name"] == "mutatingadmissionpolicies" for resource in json.loads(found.stdout)["resources"])


RUNNERS = POLICY_HEADER + "spec:\n  rules:\n  - match: {names: [runner-*]}\n    sidecar: native\n"


def test_the_api_server_takes_the_objects_in_every_version_it_serves(cluster):
    """Each API version the command writes that this server serves: created for real, and in use."""
    tested = []
    for kube_version, api_version in SUPPORTED.items():
        if not serves_policies(cluster, api_version):
            continue
        scenario = f"versions-{uuid.uuid4().hex[:8]}"
        objects = objects_for(RUNNERS, scenario, kube_version)
        assert {document["apiVersion"] for document in objects} == {api_version}
        with applied(cluster, only_for(objects, scenario), api_version):
            runner = pod("default", {"generateName": "runner-", "labels": {SCENARIO_LABEL: scenario}})
            assert annotation(dry_run(cluster, [runner])[0]) == "true"
        tested.append(api_version)
    assert V1 in tested, "the control plane serves no admissionregistration.k8s.io/v1 MutatingAdmissionPolicy"


OPERATORS = POLICY_HEADER + """\
spec:
  fallback: keep
  rules:
  - name: workflow-steps
    match: {kinds: [Workflow]}
    sidecar: native
  - name: spark-drivers
    match: {podLabels: spark-role=driver}
    sidecar: native
  - name: web-stays-regular
    match: {kinds: [Deployment], names: [web]}
    sidecar: regular
  - name: runners
    match: {names: [runner-*]}
    sidecar: native
  - name: batch
    match: {kinds: [Job, CronJob]}
    sidecar: native
"""
WORKFLOW_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "workflows.argoproj.io"},
    "spec": {"group": "argoproj.io", "scope": "Namespaced",
             "names": {"kind": "Workflow", "plural": "workflows", "singular": "workflow", "listKind": "WorkflowList"},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}


def _create(cluster, document: dict) -> dict:
    return json.loads(cluster.kubectl("create", "-o", "json", "-f", "-", stdin=json.dumps(document).encode()).stdout)


def _pods_of(cluster, namespace: str, selector: str) -> list[dict]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = cluster.get("pods", "-n", namespace, "-l", selector)["items"]
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no pod with {selector} in {namespace} within {WAIT:.0f} s: is the controller manager running?")


def _workload(kind: str, api_version: str, name: str, namespace: str, spec: dict) -> dict:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _template(app: str, restart: str = "Never") -> dict:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}], "restartPolicy": restart}}


def _deployment(app: str) -> dict:
    return {"selector": {"matchLabels": {"app": app}}, "template": _template(app, "Always")}


def ensure_namespace(cluster, name: str) -> None:
    """A namespace that may exist already, ready for pods (the ServiceAccount admission plugin waits for `default`)."""
    cluster.kubectl("create", "namespace", name, check=False)
    cluster.kubectl("wait", "--for=create", "serviceaccount/default", "-n", name, "--timeout=60s")


def test_operators_pods_get_the_decision_and_istio_proxy_in_its_form(cluster, tmp_path):
    """The generated objects as the command prints them, applied as they are: pods of a custom kind, bare pods
    with generateName, a Deployment's, a Job's and a CronJob's pods through their controllers."""
    (tmp_path / "policy.yaml").write_text(OPERATORS)
    generated = run_cli(["admission", "--policy", str(tmp_path / "policy.yaml"), "--kube-version", "1.37"])
    assert generated.returncode == 0, generated.stderr
    objects = [document for document in yaml.safe_load_all(generated.stdout) if document]
    namespace = cluster.namespace("operators")
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(WORKFLOW_CRD).encode())
    cluster.kubectl("wait", "--for=condition=Established", "crd/workflows.argoproj.io", "--timeout=60s")
    workflow = _create(cluster, _workload("Workflow", "argoproj.io/v1alpha1", "etl", namespace, {}))
    step_owner = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "etl",
                  "uid": workflow["metadata"]["uid"], "controller": True}
    runner = pod(namespace, {"generateName": "runner-"})
    with applied(cluster, objects, changed=runner):
        created = {name: _create(cluster, pod(namespace, metadata)) for name, metadata in {
            "step": {"generateName": "etl-", "ownerReferences": [step_owner], "labels": {"workflows.argoproj.io/workflow": "etl"}},
            "driver": {"generateName": "spark-pi-", "labels": {"spark-role": "driver"}},
            "runner": {"generateName": "runner-"},
            "pinned-runner": {"generateName": "runner-", "annotations": {ANNOTATION: "false"}},
            "plain": {"name": "plain", "labels": {"spark-role": "executor"}},
        }.items()}
        for kind, api_version, name, spec in (
            ("Deployment", "apps/v1", "web", _deployment("web")),
            ("Deployment", "apps/v1", "other", _deployment("other")),
            ("Job", "batch/v1", "migrate", {"template": _template("migrate")}),
            ("CronJob", "batch/v1", "nightly", {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": _template("nightly")}}}),
        ):
            _create(cluster, _workload(kind, api_version, name, namespace, spec))
        cluster.kubectl("create", "job", "nightly-by-hand", "--from=cronjob/nightly", "-n", namespace)
        for app in ("web", "other", "migrate", "nightly"):
            created[app] = _pods_of(cluster, namespace, f"app={app}")[0]
        in_kube_system = dry_run(cluster, [pod("kube-system", {"generateName": "runner-"})])[0]
    default = cluster.default_form
    expected = {"step": ("true", "native"), "driver": ("true", "native"), "runner": ("true", "native"),
                "pinned-runner": ("false", "regular"), "plain": (None, default), "web": ("false", "regular"),
                "other": (None, default), "migrate": ("true", "native"), "nightly": ("true", "native")}
    assert {name: (annotation(found), sidecar_form(found)) for name, found in created.items()} == expected
    assert annotation(in_kube_system) is None


def test_a_native_decision_beats_a_regular_mesh_default(cluster):
    """The annotation is on the pod when Istio's injector reads it: the policy runs before the webhook."""
    namespace = cluster.namespace("order")
    scenario = f"order-{uuid.uuid4().hex[:8]}"
    with cluster.webhook(mesh_default="regular"), applied(cluster, only_for(objects_for(RUNNERS, scenario), scenario)):
        runner, plain = dry_run(cluster, [pod(namespace, {"generateName": name, "labels": {SCENARIO_LABEL: scenario}})
                                          for name in ("runner-", "plain-")])
    assert (annotation(runner), sidecar_form(runner)) == ("true", "native")
    assert (annotation(plain), sidecar_form(plain)) == (None, "regular")


# --- the API server's decision is the post-renderer's ------------------------------------------------------

HASH = "6b7c9d8f5"  # what a controller writes as the template hash; any value of that shape
# How each controller names and labels the pods it creates, written here apart from core/admission.py: a
# Deployment's and an Argo Rollout's go through a ReplicaSet named <workload>-<hash>.
THROUGH_REPLICASET = {("apps/v1", "Deployment"): "pod-template-hash", ("argoproj.io/v1alpha1", "Rollout"): "rollouts-pod-template-hash"}
SAME_FIELDS_KINDS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController",
                               "Job", "Rollout", CUSTOM_KIND[0]})  # CronJob's pods show their Job; PodTemplate has none


def _text(value: object) -> str:
    """An annotation or label value as the API takes it (the generated manifests hold YAML booleans too)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def controller_pod(outcome, scenario: str) -> dict | None:
    """The pod the workload's controller creates, as it reaches admission; None where admission sees other
    fields than the post-renderer (a CronJob's Job, a bare pod without a name)."""
    workload = outcome.workload
    template = outcome.input_template()
    metadata = template.get("metadata") or {}
    labels = {str(key): _text(value) for key, value in (metadata.get("labels") or {}).items()}
    annotations = {str(key): _text(value) for key, value in (metadata.get("annotations") or {}).items()}
    if workload.kind not in SAME_FIELDS_KINDS or (workload.kind == "Pod" and not workload.name):
        return None
    result: dict = {"labels": {**labels, SCENARIO_LABEL: scenario}, "annotations": annotations}
    if workload.kind == "Pod":
        result["name"] = workload.name
    else:
        hash_label = THROUGH_REPLICASET.get((workload.api_version, workload.kind))
        owner = {"apiVersion": workload.api_version, "kind": workload.kind, "name": workload.name}
        if hash_label:
            owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{workload.name}-{HASH}"}
            result["labels"][hash_label] = HASH
        result["ownerReferences"] = [{**owner, "uid": str(uuid.uuid4()), "controller": True}]
        result["generateName"] = owner["name"] + "-"
    return pod(workload.namespace, result)


MESH_KEYS = (ANNOTATION, *linkerd.KEYS)
LINKERD_RELEASES = (None, "2.18", "2.19", "2.20")


def mesh_annotations(metadata: dict | None) -> dict[str, str]:
    """Every mesh's decision keys on a pod or template, as the API takes their values."""
    annotations = (metadata or {}).get("annotations") or {}
    return {key: _text(annotations[key]) for key in MESH_KEYS if key in annotations}


def _expected(outcome, model: Admission) -> dict[str, str]:
    """The post-renderer's annotations; where the pod arrives with a decision and nothing overrides it, its own."""
    before = mesh_annotations(outcome.input_template().get("metadata"))
    if any(key in before for key in model.read_keys) and not model.settings.override_annotated:
        return before
    return mesh_annotations(outcome.template.get("metadata"))


def _renamed(data: object, key: str) -> object:
    """The generated documents with Istio's key renamed to a Linkerd one (the strategies write Istio's)."""
    if isinstance(data, dict):
        return {(key if name == ANNOTATION else name): _renamed(value, key) for name, value in data.items()}
    if isinstance(data, list):
        return [_renamed(item, key) for item in data]
    return data


@st.composite
def scenarios(draw):
    """(policy text, workload documents, namespace for those without one, --override-annotated); a third of
    the policies drive Linkerd, at a release or at none (every key)."""
    text, _, _, custom_kind = draw(admission_policies())
    documents = draw(st.lists(workload(custom_kind), min_size=3, max_size=10))
    if draw(st.integers(0, 2)) == 0:
        policy = yaml.safe_load(text)
        release = draw(st.sampled_from(LINKERD_RELEASES))
        policy["spec"] = {"mesh": "linkerd", **({"linkerdVersion": release} if release else {}), **policy["spec"]}
        text = yaml.safe_dump(policy, sort_keys=False)
        documents = _renamed(documents, draw(st.sampled_from(linkerd.KEYS)))
    return text, documents, draw(st.sampled_from(NAMESPACES)), draw(st.booleans())


EXAMPLES = int(os.environ.get("SIDECAR_POLICY_CLUSTER_EXAMPLES", "8"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(scenarios(), min_size=12, max_size=12))
def test_the_api_server_decides_as_the_post_renderer(cluster, batch):
    """Twelve generated policies at a time, each bound to its own pods, every workload's pod created once
    (a server-side dry run); the post-renderer and the Python model decide the same workloads offline."""
    for namespace in NAMESPACES:
        ensure_namespace(cluster, namespace)
    objects, pods, expected = [], [], []
    for position, (text, documents, namespace, override) in enumerate(batch):
        scenario = f"p{position}-{uuid.uuid4().hex[:8]}"
        policy = parse_policy(text, "policy.yaml")
        objects += only_for(objects_for(text, scenario, override=override), scenario)
        model = Admission(policy, Settings(override_annotated=override))
        _, outcomes = post_render(yaml.safe_dump_all(documents).encode(), policy, Options(namespace=namespace))
        for outcome in outcomes:
            created = controller_pod(outcome, scenario)
            if created is None:
                continue
            decision = model.decide(created, outcome.workload.namespace)
            pods.append(created)
            modelled = mesh_annotations(model.admitted(created, decision)["metadata"])
            expected.append((text, outcome.workload, _expected(outcome, model), modelled, decision))
    with applied(cluster, objects):
        admitted = dry_run(cluster, pods)
    mismatches = []
    for (text, subject, wanted, modelled, decision), found in zip(expected, admitted):
        got = mesh_annotations(found["metadata"])
        if got != wanted or modelled != wanted:
            mismatches.append(f"{subject.kind} {subject.namespace}/{subject.name}: API server {got!r}, "
                              f"post-renderer {wanted!r}, model {modelled!r} ({decision.action})\n{text}")
    assert not mismatches, "\n".join(mismatches[:5])


# --- cost -----------------------------------------------------------------------------------------------

LARGE_POLICY_RULES = 500  # about 0.5 MB of CEL; docs/admission.md has 1,400, measured by hand


def large_policy(rules: int) -> str:
    """Rules a test pod gets furthest into before each fails: the kind, names, namespace and all but the last
    selector requirement match; only the last rule matches."""
    lines = [POLICY_HEADER + "spec:\n  fallback: regular\n  rules:"]
    for index in range(rules - 1):
        lines.append(f"  - name: rule-{index}\n    match:\n      kinds: [Deployment, Kind{index}, Workflow]\n"
                     f"      names: ['svc-{index}-*', 'w?b-[a-z]*', 'web*']\n      namespaces: ['team-{index}', 'team-*']\n"
                     f"      podLabels: 'app in (web,api),tier notin (db),version>3,!legacy,rule={index}'\n"
                     f"    sidecar: {'default' if index % 2 else 'native'}")
    lines.append("  - name: last\n    match: {kinds: [Deployment], podLabels: 'app=web'}\n    sidecar: native")
    return "\n".join(lines) + "\n"


def test_a_large_policy_stays_within_the_cel_cost_limits(cluster):
    """failurePolicy Fail, so a CEL evaluation the API server cuts short would refuse the pod."""
    scenario = f"large-{uuid.uuid4().hex[:8]}"
    objects = objects_for(large_policy(LARGE_POLICY_RULES), scenario)
    labels = {"app": "web", "tier": "front", "version": "12", "rule": "none", SCENARIO_LABEL: scenario}
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"web-frontend-{HASH}", "uid": str(uuid.uuid4()), "controller": True}
    ensure_namespace(cluster, "team-a")
    with applied(cluster, only_for(objects, scenario)):
        started = time.monotonic()
        last, fallback = dry_run(cluster, [
            pod("team-a", {"generateName": "web-frontend-", "ownerReferences": [owner], "labels": {**labels, "pod-template-hash": HASH}}),
            pod("team-a", {"name": "web", "labels": labels})])
        elapsed = time.monotonic() - started
    assert (annotation(last), annotation(fallback)) == ("true", "false"), elapsed


def _rule_of_length(length: int) -> str:
    """A one-rule policy whose rule's CEL expression is exactly `length` characters: globs of letters, each
    245-letter one adding 250 characters to the regular expression (`|(?:…)`), the last one the rest."""
    from postrender.admission import cel

    def policy(globs: list[str]) -> str:
        return POLICY_HEADER + "spec:\n  rules:\n  - match:\n      names: [" + ", ".join(globs) + "]\n    sidecar: native\n"

    def size(text: str) -> int:
        model = Admission(parse_policy(text, "policy.yaml"))
        return len(cel.rule_expression(model, model.policy.rules[0]))

    full, rest = divmod(length - size(policy(["x"])), 250)
    return policy(["y" * 245] * full + ["x" * (rest + 1)])


def test_the_longest_rule_the_command_writes_is_the_longest_the_api_server_takes(cluster, monkeypatch):
    """The limit the command refuses a rule at (core/admission cel.MAX_CODE_POINTS) is the API server's."""
    from postrender.admission import cel

    limit = cel.MAX_CODE_POINTS
    monkeypatch.setattr(cel, "MAX_CODE_POINTS", 10 * limit)
    for length, accepted in ((limit, True), (limit + 1, False)):
        objects = objects_for(_rule_of_length(length), f"longest-{length}")
        assert len(next(v["expression"] for v in objects[0]["spec"]["variables"] if v["name"] == "rule1")) == length
        applied_ = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", check=False,
                                   stdin=json.dumps(objects[0]).encode())
        assert (applied_.returncode == 0) == accepted, applied_.stderr.decode()[-500:]
