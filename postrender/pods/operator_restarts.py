"""What replaces the stale pods of an operator's workload: one row per kind, each with the operator code it follows.

Two kinds of answer. A long-running workload whose operator re-creates deleted pods from its live
spec gets a command line (`kubectl delete pod`, one at a time where the workload serves traffic).
A run-to-completion workload gets a sentence: its running pods finish in the form they started
with, and the next run (or a re-run) gets the desired one. Kinds without a row here are the
Kubernetes built-ins of restart_commands.py.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import NamedTuple

from postrender.pods import restart_commands
from postrender.pods.restart_commands import Target, kubectl


class Advice(NamedTuple):
    text: str
    runnable: bool  # a shell line to run (else a sentence)


class _Row(NamedTuple):
    build: Callable[[Target], str] | str  # a command from the target, or a sentence
    source: str  # the operator code the advice follows


_RERUN = ("runs to completion: its running pods finish in the form they started with; to switch now, delete "
          "the {kind} and apply it again")
_NEXT_RUNS = ("the {kind}'s next runs get the desired form; running ones finish in the form they started with "
              "(delete a running {run} to stop it early)")


def _delete_each_ready(resource: str) -> Callable[[Target], str]:
    """One pod at a time, waiting for status.readyReplicas to be back at spec.replicas (a workload that serves)."""
    def build(target: Target) -> str:
        replicas = target.spec.get("replicas")
        count = replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else None
        return restart_commands.delete_each(target, f"{resource}/{target.name}", "readyReplicas", count)
    return build


def _kruise_daemonset(target: Target) -> str:
    resource = f"daemonsets.apps.kruise.io/{target.name}"
    return restart_commands.delete_each(target, resource, "numberReady", target.scheduled)


def _knative(target: Target) -> str:
    if not target.deployments:  # the Revisions' Deployments are not in the dump
        return f"kubectl -n {shlex.quote(target.namespace)} rollout restart deployment/<revision>-deployment for each of its Revisions"
    return kubectl(target.namespace, "rollout", "restart", *[f"deployment/{name}" for name in target.deployments])


def _flink(target: Target) -> str:
    nonce = target.spec.get("restartNonce")
    following = nonce + 1 if isinstance(nonce, int) and not isinstance(nonce, bool) else 1
    patch = json.dumps({"spec": {"restartNonce": following}}, separators=(",", ":"))
    return kubectl(target.namespace, "patch", f"flinkdeployments.flink.apache.org/{target.name}", "--type", "merge",
                   "-p", patch)


_KUBERAY = "ray-operator v1.5.0 controllers/ray/raycluster_controller.go reconcilePods"
_KRUISE_IN_PLACE = ("kruise v1.8.0 pkg/util/inplaceupdate/inplace_update_defaults.go (a template's metadata is "
                    "updated in place, so a restartedAt stamp would not replace the pods)")
_KUBEFLOW_KINDS = ("PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob")

ROWS: dict[tuple[str, str], _Row] = {
    ("jobset.x-k8s.io", "JobSet"): _Row(
        _RERUN + " (spec.replicatedJobs cannot change while it runs)",
        "jobset v0.10.1 pkg/webhooks/jobset_webhook.go ValidateUpdate"),
    ("trainer.kubeflow.org", "TrainJob"): _Row(_RERUN, "trainer v2.0.0 pkg/runtime/framework/plugins/jobset/jobset.go"),
    **{("kubeflow.org", kind): _Row(_RERUN, "training-operator v1.9.3 pkg/controller.v1/common/pod.go")
       for kind in _KUBEFLOW_KINDS},
    ("batch.volcano.sh", "Job"): _Row(_RERUN, "volcano v1.12.1 pkg/controllers/job/job_controller_actions.go"),
    # KubeRay creates a missing head and workers from the RayCluster's spec; a RayService's active
    # cluster is a RayCluster too.
    ("ray.io", "RayCluster"): _Row(restart_commands.delete_pods, _KUBERAY),
    ("ray.io", "RayService"): _Row(restart_commands.delete_pods, _KUBERAY),
    # ...but not the head of a RayJob's cluster once it ran: the RayJob fails instead.
    ("ray.io", "RayJob"): _Row(_RERUN, _KUBERAY),
    ("keda.sh", "ScaledJob"): _Row(
        _NEXT_RUNS + "; with rollout.strategy immediate (the default) a change to the ScaledJob deletes its "
        "running Jobs", "keda v2.21.0 controllers/keda/scaledjob_controller.go deletePreviousVersionScaleJobs"),
    # The revision reconciler keeps a template's kubectl.kubernetes.io/restartedAt on the Revision's Deployment.
    ("serving.knative.dev", "Service"): _Row(_knative, "serving v0.51.0 pkg/reconciler/revision/cruds.go"),
    ("apps.kruise.io", "CloneSet"): _Row(_delete_each_ready("clonesets.apps.kruise.io"), _KRUISE_IN_PLACE),
    ("apps.kruise.io", "StatefulSet"): _Row(restart_commands.delete_by_ordinal, _KRUISE_IN_PLACE),
    ("apps.kruise.io", "DaemonSet"): _Row(_kruise_daemonset, _KRUISE_IN_PLACE),
    ("apps.kruise.io", "BroadcastJob"): _Row(_RERUN, "kruise v1.8.0 pkg/controller/broadcastjob"),
    ("apps.kruise.io", "AdvancedCronJob"): _Row(_NEXT_RUNS, "kruise v1.8.0 pkg/controller/advancedcronjob"),
    ("argoproj.io", "Workflow"): _Row(
        _RERUN + " (or `argo resubmit`)", "argo-workflows v3.7.18 workflow/controller/workflowpod.go"),
    ("argoproj.io", "CronWorkflow"): _Row(_NEXT_RUNS, "argo-workflows v3.7.18 workflow/cron/operator.go"),
    ("sparkoperator.k8s.io", "SparkApplication"): _Row(
        _RERUN + " (a change to its spec makes the operator re-run it)",
        "spark-operator v2.5.2 internal/controller/sparkapplication/event_filter.go"),
    ("sparkoperator.k8s.io", "ScheduledSparkApplication"): _Row(
        _NEXT_RUNS, "spark-operator v2.5.2 internal/controller/scheduledsparkapplication/controller.go"),
    ("flink.apache.org", "FlinkDeployment"): _Row(
        _flink, "flink-kubernetes-operator-api 1.10.0 AbstractFlinkSpec.restartNonce"),
    ("actions.github.com", "AutoscalingRunnerSet"): _Row(
        "each runner runs one job and exits, and its replacement gets the desired form; a stale listener: "
        "delete its pod, the controller re-creates it",
        "actions-runner-controller v0.27.6 controllers/actions.github.com/autoscalinglistener_controller.go"),
}

_RUNS = {"ScaledJob": "Job", "AdvancedCronJob": "Job", "CronWorkflow": "Workflow",
         "ScheduledSparkApplication": "SparkApplication"}


def advice(target: Target) -> Advice:
    """The operator's row for the workload, else the Kubernetes built-ins'."""
    row = ROWS.get((target.group, target.kind))
    if row is None:
        return Advice(restart_commands.command(target), not target.static and restart_commands.can_run(target.kind))
    if isinstance(row.build, str):
        return Advice(row.build.format(kind=target.kind, run=_RUNS.get(target.kind, "")), False)
    text = row.build(target)
    return Advice(text, text.startswith("kubectl ") and "<" not in text)
