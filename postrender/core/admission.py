"""The policy at admission: which workload a pod shows itself as, which rules a pod can answer, and
what a MutatingAdmissionPolicy generated from the policy decides for it.

At admission there is no workload, only a Pod being created. It names its controller in
`ownerReferences` (`controller: true`), carries its own labels, and nothing else of its workload.
`sidecar-policy admission` compiles this model into CEL (postrender/admission/); `explain --admission`
and `pods --admission-policy` apply it here, in Python. tests/test_admission_cluster.py holds the CEL,
this model and the post-renderer equal on a real API server; docs/admission.md says it for users.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, NamedTuple

from postrender.core import istio, linkerd
from postrender.core.errors import UsageError
from postrender.core.policy import Policy, Rule, Workload
from postrender.core.workloads import BUILTIN_KINDS, api_group


class HashChain(NamedTuple):
    """A workload whose controller creates one ReplicaSet per pod template, named `<workload>-<hash>`,
    and labels its pods with the hash: a pod shows the workload by its owner's name less `-<hash>`."""

    kind: str
    group: str
    label: str  # the hash label on the ReplicaSet's pods
    owner_kind: str = "ReplicaSet"
    owner_group: str = "apps"


HASH_CHAINS = (
    # k8s.io/kubernetes pkg/controller/deployment/sync.go (v1.37.2) getNewReplicaSet, generateReplicaSetName
    # (a name longer than 242 characters is cut first); k8s.io/api apps/v1 DefaultDeploymentUniqueLabelKey.
    HashChain("Deployment", "apps", "pod-template-hash"),
    # argoproj/argo-rollouts rollout/sync.go createDesiredReplicaSet; pkg/apis/rollouts/v1alpha1/types.go
    # DefaultRolloutUniqueLabelKey.
    HashChain("Rollout", "argoproj.io", "rollouts-pod-template-hash"),
)
HASH = "5d8c7f9b64"  # a pod-template-hash as controller.ComputeHash spells one, for the pods explain imagines
MAX_NAME = 253  # a ReplicaSet's name is a DNS subdomain: the Deployment controller cuts what is longer

# A CronJob's pods are owned by the Job it creates, named `<cronjob>-<scheduled time in minutes>`
# (k8s.io/kubernetes pkg/controller/cronjob/cronjob_controllerv2.go getJobName, v1.37.2), and nothing on them names the
# CronJob: they are read as that Job's pods.
CRONJOB, JOB = "CronJob", "Job"

# The kind table's kinds whose pods name the workload itself as their controller, with the code that
# sets that owner reference. Deployment and Rollout are read through HASH_CHAINS, a bare Pod as itself;
# a rule may name any kind the table does not know (the pods' controller's kind, whatever it is). The
# table's other kinds create their pods through other objects (a CronJob through Jobs, a JobSet through
# Jobs, a Knative Service through Deployments, …) or have not been checked: a rule cannot name them.
_K8S = "k8s.io/kubernetes v1.37.2 pkg/controller/{} (CreatePods with a controller reference)"
_KUBEFLOW_PODS = ("github.com/kubeflow/training-operator v1.9.3 pkg/controller.v1/common/pod.go with job_controller.go "
                  "GenOwnerReference; MPIJob: pkg/controller.v1/mpi/mpijob_controller.go newLauncher, newWorker")
_KRUISE_PODS = "github.com/openkruise/kruise v1.8.0 pkg/controller/{}"
OWN_PODS = {
    ("ReplicationController", ""): _K8S.format("replication"),
    ("ReplicaSet", "apps"): _K8S.format("replicaset"),
    ("ReplicaSet", "extensions"): _K8S.format("replicaset"),
    ("StatefulSet", "apps"): _K8S.format("statefulset"),
    ("DaemonSet", "apps"): _K8S.format("daemon"),
    ("DaemonSet", "extensions"): _K8S.format("daemon"),
    ("Job", "batch"): _K8S.format("job"),
    **{(kind, "kubeflow.org"): _KUBEFLOW_PODS for kind in ("PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob")},
    ("RayCluster", "ray.io"): "github.com/ray-project/kuberay/ray-operator v1.5.0 controllers/ray/raycluster_controller.go",
    ("Job", "batch.volcano.sh"): "volcano-sh/volcano pkg/controllers/job/job_controller_util.go createJobPod",
    ("CloneSet", "apps.kruise.io"): _KRUISE_PODS.format("cloneset/core/cloneset_core.go"),
    ("StatefulSet", "apps.kruise.io"): _KRUISE_PODS.format("statefulset/stateful_set_utils.go"),
    ("DaemonSet", "apps.kruise.io"): _KRUISE_PODS.format("daemonset/daemonset_controller.go"),
    ("BroadcastJob", "apps.kruise.io"): _KRUISE_PODS.format("broadcastjob/broadcastjob_utils.go"),
    ("Workflow", "argoproj.io"): "argoproj/argo-workflows workflow/controller/workflowpod.go createWorkflowPod",
}


class Reading(NamedTuple):
    """The workload a pod shows itself as: its controller, or what a hash chain leads to."""

    kind: str
    group: str
    name: str

    @property
    def key(self) -> str:
        """`group/Kind`: an API group never holds a `/`, so the first one splits the two."""
        return f"{self.group}/{self.kind}"


def controller_reference(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The owner reference with `controller: true` (the API server allows one), if it names a kind."""
    metadata = pod.get("metadata") or {}
    for reference in metadata.get("ownerReferences") or ():
        if isinstance(reference, Mapping) and reference.get("controller") is True:
            return reference if reference.get("kind") else None
    return None


def read_pod(pod: Mapping[str, Any]) -> Reading:
    """What the generated CEL's `kind`, `group` and `name` variables say about this pod."""
    metadata = pod.get("metadata") or {}
    owner = controller_reference(pod)
    if owner is None:
        return Reading("Pod", "", str(metadata.get("name") or metadata.get("generateName") or ""))
    kind, group, name = str(owner["kind"]), api_group(str(owner.get("apiVersion") or "")), str(owner.get("name") or "")
    labels = metadata.get("labels") or {}
    for chain in HASH_CHAINS:
        value = labels.get(chain.label)
        if (kind, group) == (chain.owner_kind, chain.owner_group) and isinstance(value, str) and name.endswith("-" + value):
            return Reading(chain.kind, chain.group, name[: len(name) - len(value) - 1])
    return Reading(kind, group, name)


def pod_of(workload: Workload, template: Mapping[str, Any], minutes: int) -> dict[str, Any]:
    """The pod a workload's controller creates now from this template, as far as admission sees it:
    its metadata, with the owner reference and hash label the controllers add."""
    metadata = {**(template.get("metadata") or {}), "labels": dict(workload.pod_labels)}
    group = api_group(workload.api_version or "")
    chain = next((c for c in HASH_CHAINS if (c.kind, c.group) == (workload.kind, group)), None)
    owner: dict[str, Any] | None = {"apiVersion": workload.api_version or "v1", "kind": workload.kind, "name": workload.name}
    if workload.kind == "Pod" and group == "":
        owner = None
        metadata["name"] = workload.name
    elif chain is not None:
        metadata["labels"][chain.label] = HASH
        owner = {"apiVersion": f"{chain.owner_group}/v1", "kind": chain.owner_kind,
                 "name": f"{workload.name[: MAX_NAME - 1 - len(HASH)]}-{HASH}"}
    elif workload.kind == CRONJOB:
        owner = {"apiVersion": "batch/v1", "kind": JOB, "name": f"{workload.name}-{minutes}"}
    if owner is not None:
        metadata["ownerReferences"] = [{**owner, "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


class KindTest(NamedTuple):
    """A rule's `kinds` at admission: a kind of the kind table only in its API groups (as the
    post-renderer finds workloads), any other kind in every group."""

    keys: frozenset[str]  # Reading.key values
    any_group: frozenset[str]

    def matches(self, reading: Reading) -> bool:
        return reading.key in self.keys or reading.kind in self.any_group


def kind_test(policy: Policy, kinds: frozenset[str]) -> KindTest:
    entries = BUILTIN_KINDS + policy.workload_kinds
    keys: set[str] = set()
    any_group: set[str] = set()
    for kind in kinds:
        groups = [entry.groups for entry in entries if entry.kind == kind]
        if not groups or any(group is None for group in groups):
            any_group.add(kind)
        else:
            keys.update(f"{group}/{kind}" for found in groups for group in found or ())
    return KindTest(frozenset(keys), frozenset(any_group))


def unreadable(policy: Policy, rule: Rule) -> str | None:
    """Why a pod at admission cannot answer this rule as the post-renderer would, or None."""
    match = rule.match
    if match.labels is not None and match.labels.requirements:
        return ("match.labels selects on the workload's own labels, which a pod does not carry at admission "
                "(podLabels selects on the pod's)")
    if match.kinds is not None and CRONJOB in match.kinds:
        if JOB not in match.kinds:
            return (f"kinds {CRONJOB}: a CronJob's pods are owned by the Job it creates (named <cronjob>-<minutes>) "
                    f"and nothing on them names the CronJob; list {JOB} too (every Job's pods) or select them by podLabels")
        if match.names is not None:
            return (f"names with kinds {CRONJOB}: a CronJob's pods are owned by a Job named <cronjob>-<minutes>, "
                    "so a name cannot tell them; give the Jobs their own rule (names: [<cronjob>-*]) or use podLabels")
    hidden = sorted(kind for kind in match.kinds or () if kind != CRONJOB and not pods_show(policy, kind))
    if hidden:
        return (f"kinds {', '.join(hidden)}: a pod names only its own controller, and sidecar-policy does not know "
                f"these kinds to own their pods; name the kind that does (a JobSet's pods are its Jobs', say), or use podLabels")
    return None


def pods_show(policy: Policy, kind: str) -> bool:
    """Whether a pod at admission can show that it belongs to a workload of this kind, in every API group
    the kind table gives it (a kind the table does not know: the pods' controller, as written)."""
    built_in = {(entry.kind, group) for entry in BUILTIN_KINDS for group in entry.groups or ()}
    own = {entry.kind for entry in policy.workload_kinds}
    keys = {(name, group) for name, group in built_in if name == kind}
    read_through = {chain.kind for chain in HASH_CHAINS} | {"Pod"}  # a hash chain, or the pod itself
    return kind in own or kind in read_through or all(key in OWN_PODS for key in keys)


class Settings(NamedTuple):
    mesh_namespace: str | None = None  # left alone like kube-system unless a rule names it (None: the mesh's own)
    override_annotated: bool = False  # decide pods that carry the annotation too (else their own value wins)


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """The options that change what the admission policy decides (every command that models it takes them)."""
    parser.add_argument("--mesh-namespace", metavar="NS", default=None,
                        help=f"the mesh's own namespace, left alone like {istio.SYSTEM_NAMESPACE} unless a rule names it "
                             f"(default: {istio.MESH_NAMESPACE} for Istio, {linkerd.NAMESPACE} for Linkerd)")
    parser.add_argument("--override-annotated", action="store_true",
                        help="also decide pods that already carry the mesh's annotation (by default their own value wins)")


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(args.mesh_namespace, args.override_annotated)


class Decision(NamedTuple):
    rule: Rule | None  # None: the fallback, or nothing decided (see action)
    mode: str  # native | regular | default | keep
    action: str  # set | replaced | removed | unchanged | kept, or annotated | exempt (the policy skipped the pod)


class Admission:
    """A policy as the generated MutatingAdmissionPolicy applies it. Raises UsageError, naming each
    rule, when a rule cannot be read at admission."""

    def __init__(self, policy: Policy, settings: Settings | None = None):
        refused = [(rule, problem) for rule in policy.rules for problem in [unreadable(policy, rule)] if problem]
        if refused:
            raise UsageError("; ".join(f"{policy.origin}:{rule.line}: {rule.label} cannot be read at admission: {problem}"
                                       for rule, problem in refused))
        self.policy = policy
        self.settings = settings = settings or Settings()
        self.switch = policy.switch
        self.read_keys = self.switch.read or self.switch.keys  # a pod with one of these carries a decision already
        self.exempt = tuple(dict.fromkeys((istio.SYSTEM_NAMESPACE, settings.mesh_namespace or policy.mesh_facts.namespace)))
        self.kind_tests = {rule.index: kind_test(policy, rule.match.kinds) for rule in policy.rules
                           if rule.match.kinds is not None}
        self.named = {rule.index: frozenset(named_namespaces(rule)) & frozenset(self.exempt) for rule in policy.rules}
        self.exempt_named = frozenset().union(*self.named.values())  # exempt namespaces some rule names

    def skipped(self) -> tuple[str, ...]:
        """The exempt namespaces no rule names: the policy is never called there."""
        return tuple(ns for ns in self.exempt if ns not in self.exempt_named)

    def may_decide(self, rule: Rule | None, namespace: str) -> bool:
        """Whether a rule (None: the fallback) may act in this namespace."""
        if namespace not in self.exempt_named:
            return True
        return rule is not None and namespace in self.named[rule.index]

    def decide(self, pod: Mapping[str, Any], namespace: str) -> Decision:
        metadata = pod.get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        if namespace in self.skipped():
            return Decision(None, "keep", "exempt")
        if any(key in annotations for key in self.read_keys) and not self.settings.override_annotated:
            return Decision(None, "keep", "annotated")
        reading = read_pod(pod)
        workload = Workload(reading.kind, None, reading.name, namespace, {}, metadata.get("labels") or {}, 0, "", 0)
        for rule in self.policy.rules:
            test = self.kind_tests.get(rule.index)
            if (self.may_decide(rule, namespace) and (test is None or test.matches(reading))
                    and rule.match._replace(kinds=None).matches(workload)):
                return Decision(rule, rule.sidecar, self._action(rule.sidecar, annotations))
        if not self.may_decide(None, namespace):
            return Decision(None, "keep", "exempt")
        return Decision(None, self.policy.fallback, self._action(self.policy.fallback, annotations))

    def _action(self, mode: str, annotations: Mapping[str, Any]) -> str:
        """What the JSON Patch does to these annotations, in the engine's words."""
        if mode == "keep":
            return "kept"
        setting, removing = self.switch.setting(mode), self.switch.removing(mode)
        changed = any(annotations.get(key) != value for key, value in setting) or any(key in annotations for key in removing)
        if not changed:
            return "unchanged"
        if not setting:
            return "removed"
        return "replaced" if any(key in annotations for key, _ in setting) else "set"

    def admitted(self, template: dict, decision: Decision) -> dict:
        """The pod template with this decision applied, as plain data (a copy)."""
        import copy

        from postrender.core.conversion import apply_decision

        result = copy.deepcopy(template)
        if decision.action not in ("annotated", "exempt"):
            apply_decision(result, decision.mode, self.switch)
        return result


def named_namespaces(rule: Rule) -> list[str]:
    """The namespaces a rule spells out (a pattern without glob characters names one namespace)."""
    patterns = (rule.source.get("match") or {}).get("namespaces") or ()
    return [pattern for pattern in patterns if isinstance(pattern, str) and not set(pattern) & set("*?[")]
