"""A stand-in for the kubelet's pod status updates: an emulation, named so.

No kubelet runs on the tests' control plane (tests/support/cluster.py), so every pod would stay
Pending: a Deployment would never finish a rollout (it waits for the new pods to be available), a
StatefulSet's replacement never become Ready, Helm would wait for ever on a hook Job. The stand-in
writes, through the pods' status subresource, only what a kubelet reports once a pod's containers
run: phase Running with the Initialized, ContainersReady and Ready conditions True, or phase
Succeeded for a pod labelled `sidecar-policy.test/kubelet-standin: succeed`
(kubernetes/kubernetes v1.37.2 pkg/kubelet/kubelet_pods.go generateAPIPodStatus, and
pkg/kubelet/status/generate.go for the conditions). It never touches the pod's spec, so the
istio-proxy Istio's webhook injected is what the tests read.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any

LABEL = "sidecar-policy.test/kubelet-standin"
SUCCEED = "succeed"
RUNNING_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def running_status() -> dict[str, Any]:
    now = _now()
    return {"phase": "Running", "startTime": now,
            "conditions": [{"type": kind, "status": "True", "lastTransitionTime": now} for kind in RUNNING_CONDITIONS]}


def succeeded_status() -> dict[str, Any]:
    now = _now()
    ready = {"status": "False", "reason": "PodCompleted", "lastTransitionTime": now}
    return {"phase": "Succeeded", "startTime": now,
            "conditions": [{"type": "Initialized", "status": "True", "reason": "PodCompleted", "lastTransitionTime": now},
                           {"type": "ContainersReady", **ready}, {"type": "Ready", **ready},
                           {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]}


def set_status(cluster: Any, namespace: str, pod: str, status: dict[str, Any]) -> bool:
    """Patch one pod's status; False when the pod is gone already."""
    done = cluster.kubectl("patch", "pod", pod, "-n", namespace, "--subresource=status", "--type=merge",
                           "-p", json.dumps({"status": status}), check=False)
    if done.returncode != 0 and b"NotFound" not in done.stderr:
        raise AssertionError(f"cannot patch the status of pod {namespace}/{pod}: {done.stderr.decode()[-2000:]}")
    return done.returncode == 0


def finish(cluster: Any, namespace: str, pod: str) -> None:
    """A pod's containers exited 0, as its kubelet would report it (a Job's pod Succeeded)."""
    set_status(cluster, namespace, pod, succeeded_status())


class KubeletStandIn:
    """While in a `with` block, every pod of the namespace that is still Pending gets its status,
    every `interval` seconds, from a thread; a failure there fails the block."""

    def __init__(self, cluster: Any, namespace: str, interval: float = 0.5):
        self.cluster, self.namespace, self.interval = cluster, namespace, interval
        self.stopping = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name=f"kubelet-standin-{namespace}", daemon=True)

    def step(self) -> None:
        """One pass over the namespace's pods."""
        pods = self.cluster.get("pods", "-n", self.namespace)["items"]
        for pod in pods:
            metadata, status = pod["metadata"], pod.get("status") or {}
            if metadata.get("deletionTimestamp") or status.get("phase", "Pending") != "Pending":
                continue
            succeed = (metadata.get("labels") or {}).get(LABEL) == SUCCEED
            set_status(self.cluster, self.namespace, metadata["name"], succeeded_status() if succeed else running_status())

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except BaseException as error:  # noqa: BLE001  # handed to the test in __exit__
                self.failure = error
                return
            self.stopping.wait(self.interval)

    def __enter__(self) -> KubeletStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)
        if self.failure is not None and exc[0] is None:
            raise AssertionError(f"the kubelet stand-in failed in namespace {self.namespace}") from self.failure

