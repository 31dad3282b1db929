"""Who owns an object of a cluster dump, as a table: controller ownerReferences, and the operators' other links.

Kubernetes' controllers set a `controller: true` ownerReference on what they make, and so do most
operators (JobSet on its Jobs, KubeRay on its pods, Spark's driver on its executors). Where an
operator links an object to the one it was made from otherwise, a row here says how, with the
operator's code it follows:

- a plain ownerReference (no `controller`) to a kind in FOLLOWED_WITHOUT_CONTROLLER is followed when
  the object has no controller;
- LABELLED_OWNERS: the owner is named by the object's labels (across namespaces, where an
  ownerReference cannot point).

OWNER_KINDS lists the kinds owner chains pass through that hold no pod template themselves, so
that a dump (or the live reading) lists them too.
"""

from __future__ import annotations

from typing import NamedTuple

from postrender.core.errors import InputError
from postrender.core.workloads import api_group
from postrender.pods.clusterdump import DumpObject

Key = tuple[str, str, str, str]  # (namespace, API group, kind, name)

# (API group, kind): the operator makes the object's owner reference without `controller: true`.
FOLLOWED_WITHOUT_CONTROLLER: dict[tuple[str, str], str] = {
    # internal/controller/scheduledsparkapplication/controller.go: each run's SparkApplication
    ("sparkoperator.k8s.io", "ScheduledSparkApplication"): "github.com/kubeflow/spark-operator/v2 v2.5.2",
    # flink-kubernetes-operator AbstractFlinkResourceReconciler.setOwnerReference: the JobManager
    # Deployment's reference, "controller" "false" (release-1.10.0)
    ("flink.apache.org", "FlinkDeployment"): "apache/flink-kubernetes-operator release-1.10.0",
}


class LabelledOwner(NamedTuple):
    group: str
    kind: str
    name_label: str
    namespace_label: str


# controllers/actions.github.com/resourcebuilder.go newAutoScalingListener (v0.27.6): the listener
# lives in the controller's namespace and names its AutoscalingRunnerSet by these labels.
LABELLED_OWNERS: dict[tuple[str, str], LabelledOwner] = {
    ("actions.github.com", "AutoscalingListener"): LabelledOwner(
        "actions.github.com", "AutoscalingRunnerSet", "actions.github.com/scale-set-name",
        "actions.github.com/scale-set-namespace"),
}

# (resource, API group, kind) of the kinds on owner chains that hold no pod template: Kubeflow's
# TrainJob, Knative's Service -> Configuration -> Revision -> Deployment, ARC's runner set -> runners.
OWNER_KINDS: tuple[tuple[str, str, str], ...] = (
    ("trainjobs", "trainer.kubeflow.org", "TrainJob"),  # TrainJob -> JobSet: no pod template of its own
    ("configurations", "serving.knative.dev", "Configuration"),
    ("revisions", "serving.knative.dev", "Revision"),
    ("ephemeralrunnersets", "actions.github.com", "EphemeralRunnerSet"),
    ("ephemeralrunners", "actions.github.com", "EphemeralRunner"),
    ("autoscalinglisteners", "actions.github.com", "AutoscalingListener"),
)


def key_of(obj: DumpObject) -> Key:
    return obj.namespace, api_group(str(obj.data.get("apiVersion") or "")), obj.kind, obj.name


def _references(obj: DumpObject) -> list:
    references = obj.metadata.get("ownerReferences")
    if references is None:
        return []
    if not isinstance(references, list):
        raise InputError(f"{obj.kind} {obj.name}: metadata.ownerReferences is not a list", obj.location)
    return [reference for reference in references if isinstance(reference, dict)]


def _key(obj: DumpObject, reference: dict) -> Key:
    group = api_group(str(reference.get("apiVersion") or ""))
    return obj.namespace, group, str(reference.get("kind") or ""), str(reference.get("name") or "")


def controller_key(obj: DumpObject) -> Key | None:
    """The owner Kubernetes follows (the `controller: true` reference), else the operator's link."""
    references = _references(obj)
    for reference in references:
        if reference.get("controller") is True:
            return _key(obj, reference)
    for reference in references:
        if reference.get("kind") in _FOLLOWED_KINDS:
            key = _key(obj, reference)
            if (key[1], key[2]) in FOLLOWED_WITHOUT_CONTROLLER:
                return key
    link = LABELLED_OWNERS.get(key_of(obj)[1:3]) if obj.kind in _LABELLED_KINDS else None
    labels = obj.metadata.get("labels") or {}
    if link is not None and isinstance(labels, dict) and labels.get(link.name_label):
        namespace = str(labels.get(link.namespace_label) or obj.namespace)
        return namespace, link.group, link.kind, str(labels[link.name_label])
    return None


_FOLLOWED_KINDS = frozenset(kind for _, kind in FOLLOWED_WITHOUT_CONTROLLER)
_LABELLED_KINDS = frozenset(kind for _, kind in LABELLED_OWNERS)
