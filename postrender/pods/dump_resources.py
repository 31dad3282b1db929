"""What a dump for `pods` lists: every kind a pod's owner chain can pass through, as kubectl names it.

kubectl refuses a whole `get` when one resource type is unknown to the server (`error: the server
doesn't have a resource type "rayclusters"`), and most clusters lack most operators' CRDs. So the
dump command asks discovery first (`kubectl api-resources -o name`) and lists only what the server
serves. The live reading (livecluster.py) does the same through `followed`.
"""

from __future__ import annotations

import shlex

from postrender.core.workloads import KindTable, api_group
from postrender.pods.owner_links import OWNER_KINDS

# (resource, API group, kind) of the kinds with pod templates whose objects own pods, or own what does.
# Kinds that make no pods of their own (WorkflowTemplate, TrainingRuntime, PodTemplate) are left out.
TEMPLATE_KINDS: tuple[tuple[str, str, str], ...] = (
    ("pods", "", "Pod"),
    ("replicationcontrollers", "", "ReplicationController"),
    ("replicasets", "apps", "ReplicaSet"),
    ("deployments", "apps", "Deployment"),
    ("statefulsets", "apps", "StatefulSet"),
    ("daemonsets", "apps", "DaemonSet"),
    ("jobs", "batch", "Job"),
    ("cronjobs", "batch", "CronJob"),
    ("rollouts", "argoproj.io", "Rollout"),
    ("jobsets", "jobset.x-k8s.io", "JobSet"),
    ("rayclusters", "ray.io", "RayCluster"),
    ("rayjobs", "ray.io", "RayJob"),
    ("rayservices", "ray.io", "RayService"),
    ("pytorchjobs", "kubeflow.org", "PyTorchJob"),
    ("tfjobs", "kubeflow.org", "TFJob"),
    ("mpijobs", "kubeflow.org", "MPIJob"),
    ("xgboostjobs", "kubeflow.org", "XGBoostJob"),
    ("paddlejobs", "kubeflow.org", "PaddleJob"),
    ("jaxjobs", "kubeflow.org", "JAXJob"),
    ("jobs", "batch.volcano.sh", "Job"),
    ("scaledjobs", "keda.sh", "ScaledJob"),
    ("services", "serving.knative.dev", "Service"),
    ("clonesets", "apps.kruise.io", "CloneSet"),
    ("statefulsets", "apps.kruise.io", "StatefulSet"),
    ("daemonsets", "apps.kruise.io", "DaemonSet"),
    ("broadcastjobs", "apps.kruise.io", "BroadcastJob"),
    ("advancedcronjobs", "apps.kruise.io", "AdvancedCronJob"),
    ("workflows", "argoproj.io", "Workflow"),
    ("cronworkflows", "argoproj.io", "CronWorkflow"),
    ("sparkapplications", "sparkoperator.k8s.io", "SparkApplication"),
    ("scheduledsparkapplications", "sparkoperator.k8s.io", "ScheduledSparkApplication"),
    ("flinkdeployments", "flink.apache.org", "FlinkDeployment"),
    ("autoscalingrunnersets", "actions.github.com", "AutoscalingRunnerSet"),
)
RESOURCES = TEMPLATE_KINDS + OWNER_KINDS
_FOLLOWED = frozenset((group, kind) for _, group, kind in RESOURCES)


def qualified(resource: str, group: str) -> str:
    """`deployments.apps`, `pods`: how `kubectl api-resources -o name` prints a resource."""
    return f"{resource}.{group}" if group else resource


def dump_command() -> str:
    """One shell line: the served resources among RESOURCES, listed as JSON."""
    names = " ".join(f"-e {shlex.quote(qualified(resource, group))}" for resource, group, _ in RESOURCES)
    return (f'kubectl get "$(kubectl api-resources --verbs=list -o name | grep -xF {names} | paste -sd, -)" '
            "-A -o json")


def followed(kind: str, api_version: str, kinds: KindTable) -> bool:
    """Whether the live reading lists this served kind: an owner chain passes through it, or the table
    (with a policy's workloadKinds) gives it pod templates."""
    return (api_group(api_version), kind) in _FOLLOWED or kinds.find(kind, api_version) is not None
