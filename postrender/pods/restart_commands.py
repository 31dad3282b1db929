"""What replaces a workload's stale pods: a command line to run, or a sentence where nothing can.

Facts behind the table:
- `kubectl rollout restart` serves Deployments, DaemonSets and StatefulSets only, and refuses a
  paused Deployment (kubernetes/kubectl pkg/polymorphichelpers/objectrestarter.go).
- A restart only stamps the pod template; with `updateStrategy: OnDelete` the StatefulSet and
  DaemonSet controllers replace a pod only once it is deleted (kubernetes/kubernetes
  pkg/controller/statefulset/stateful_set_control.go, pkg/controller/daemon/daemon_controller.go), so we
  delete the stale pods one at a time: a StatefulSet from its highest ordinal down, as its own
  rolling update goes. A StatefulSet's replacement keeps the pod's name; `kubectl wait
  --for=create` waits for it to exist (kubectl 1.31+, kubernetes/kubectl pkg/cmd/wait/create.go).
- Argo Rollouts restarts through its kubectl plugin (`kubectl argo rollouts restart`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any, NamedTuple

WAIT = "--timeout=10m"
_ORDINAL = re.compile(r"-(\d+)$")


class Target(NamedTuple):
    """The top-level workload whose pods are stale, and what the dump says about how it updates."""

    namespace: str
    kind: str
    name: str
    on_delete: bool  # StatefulSet / DaemonSet with updateStrategy OnDelete
    paused: bool  # a paused Deployment
    stale_pods: tuple[str, ...]  # names of the pods whose form differs from the desired one
    scheduled: int | None  # a DaemonSet's status.desiredNumberScheduled
    static: bool = False  # a static pod (its controller is a Node): the kubelet runs it from a file
    group: str = ""  # the workload's API group
    spec: Mapping[str, Any] = {}  # the workload's spec, as the dump has it
    deployments: tuple[str, ...] = ()  # the Deployments the stale pods run under (an operator's, as Knative's)


def kubectl(namespace: str, *words: str) -> str:
    return shlex.join(["kubectl", "-n", namespace, *words] if namespace else ["kubectl", *words])


def _rollout_restart(target: Target) -> str:
    return kubectl(target.namespace, "rollout", "restart", f"{target.kind.lower()}/{target.name}")


def _deployment(target: Target) -> str:
    restart = _rollout_restart(target)
    if not target.paused:
        return restart
    resume = kubectl(target.namespace, "rollout", "resume", f"deployment/{target.name}")
    return f"{resume} && {restart}"  # kubectl refuses to restart a paused Deployment


def _ordinal(pod: str) -> int:
    match = _ORDINAL.search(pod)
    return int(match.group(1)) if match else -1


def _statefulset(target: Target) -> str:
    return delete_by_ordinal(target) if target.on_delete else _rollout_restart(target)


def delete_by_ordinal(target: Target) -> str:
    """The stale pods deleted from the highest ordinal down, each replacement waited for."""
    steps = []
    for pod in sorted(target.stale_pods, key=_ordinal, reverse=True):
        # The controller re-creates the pod under the same name: wait for it to exist, then to be ready.
        steps += [kubectl(target.namespace, "delete", "pod", pod),
                  kubectl(target.namespace, "wait", "--for=create", f"pod/{pod}", WAIT),
                  kubectl(target.namespace, "wait", "--for=condition=Ready", f"pod/{pod}", WAIT)]
    return " && ".join(steps)


def _daemonset(target: Target) -> str:
    if not target.on_delete:
        return _rollout_restart(target)
    return delete_each(target, f"daemonset/{target.name}", "numberReady", target.scheduled)


def delete_each(target: Target, resource: str, ready_field: str, count: int | None) -> str:
    """The stale pods deleted one at a time; each replacement gets a new name, so each deletion waits for
    the workload's count of ready pods (`status.<ready_field>`) to be back at `count`, when it is known."""
    steps = []
    for pod in sorted(target.stale_pods):
        steps.append(kubectl(target.namespace, "delete", "pod", pod))
        if count is not None:
            steps.append(kubectl(target.namespace, "wait", f"--for=jsonpath={{.status.{ready_field}}}={count}",
                                 resource, WAIT))
    return " && ".join(steps)


def _rollout(target: Target) -> str:
    return shlex.join(["kubectl", "argo", "rollouts", "restart", target.name, "-n", target.namespace])


def delete_pods(target: Target) -> str:
    return kubectl(target.namespace, "delete", "pod", *sorted(target.stale_pods))


_COMMANDS = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "Rollout": _rollout,
    "ReplicaSet": delete_pods,  # a ReplicaSet of its own re-creates deleted pods from its template
}

_SENTENCES = {
    "CronJob": "cannot be rolled: the CronJob's next Jobs get the desired form; running Jobs keep theirs until "
               "they finish (delete a running Job to stop it early)",
    "Job": "cannot be rolled: its pods keep their form until they finish; delete and re-create the Job to "
           "switch now",
    "Pod": "a bare Pod cannot be rolled: delete it and create it again from its manifest",
}
_STATIC = "a static pod: the kubelet runs it from a manifest file on its node; re-create it there"


def command(target: Target) -> str:
    if target.static:
        return _STATIC
    build = _COMMANDS.get(target.kind)
    if build is not None:
        return build(target)
    return _SENTENCES.get(target.kind, f"restart the {target.kind}'s pods through its controller")


def can_run(kind: str) -> bool:
    """Whether the command is a shell line (else a sentence)."""
    return kind in _COMMANDS
