"""The local control plane and Istio's own injector as its webhook (tests/support/cluster.py).

A pod created in a namespace labelled istio-injection=enabled gets istio-proxy where its
sidecar.istio.io/nativeSidecar annotation, else the mesh default, puts it: native is an init
container with restartPolicy Always, regular a container. Pods the controllers create (from a
Deployment, a Job) go through the same webhook.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import time
from pathlib import Path

import pytest

from tests.support import background
from tests.support.cluster import Cluster, sidecar_form

ANNOTATION = "sidecar.istio.io/nativeSidecar"
POD_WAIT = 60.0  # seconds for a controller to create a pod


def pod(name: str, annotations: dict[str, str] | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}


def created_form(cluster: Cluster, namespace: str, manifest: dict) -> str | None:
    created = cluster.kubectl("create", "-n", namespace, "-o", "json", "-f", "-", stdin=json.dumps(manifest).encode())
    return sidecar_form(json.loads(created.stdout))


def controller_pod(cluster: Cluster, namespace: str, selector: str) -> dict:
    """The first pod matching `selector`, once a controller has created it (bounded wait)."""
    deadline = time.monotonic() + POD_WAIT
    while time.monotonic() < deadline:
        pods = cluster.get("pods", "-n", namespace, "-l", selector)["items"]
        if pods:
            return pods[0]
        time.sleep(0.2)
    raise AssertionError(f"no pod for {selector} in {namespace} after {POD_WAIT:.0f} s")


@pytest.mark.parametrize(("istio", "mesh_default"), [("1.31", "native"), ("1.31", "regular"), ("1.24", "regular")])
def test_a_pod_gets_the_form_its_annotation_or_the_mesh_default_decides(cluster: Cluster, istio: str, mesh_default: str) -> None:
    with cluster.webhook(istio=istio, mesh_default=mesh_default):
        assert cluster.default_form == mesh_default
        namespace = cluster.namespace()
        assert created_form(cluster, namespace, pod("no-annotation")) == mesh_default
        assert created_form(cluster, namespace, pod("native", {ANNOTATION: "true"})) == "native"
        assert created_form(cluster, namespace, pod("regular", {ANNOTATION: "false"})) == "regular"


def test_pods_made_by_controllers_are_injected_and_unlabelled_namespaces_are_not(cluster: Cluster) -> None:
    namespace = cluster.namespace()
    template = {"metadata": {"labels": {"app": "web"}, "annotations": {ANNOTATION: "false"}},
                "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": template}}
    job_template = {"metadata": {"labels": {"app": "batch"}, "annotations": {ANNOTATION: "true"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}]}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch"}, "spec": {"template": job_template}}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [deployment, job]}).encode())

    assert sidecar_form(controller_pod(cluster, namespace, "app=web")) == "regular"
    assert sidecar_form(controller_pod(cluster, namespace, "app=batch")) == "native"
    assert cluster.admitted_form(cluster.namespace(injection=False)) is None


def form_once_nodes_are_seen(cluster: Cluster, namespace: str, expected: str) -> str | None:
    """The webhook reads Nodes through an informer: allow it a moment to see a change (bounded)."""
    deadline = time.monotonic() + 10
    form = cluster.admitted_form(namespace)
    while form != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        form = cluster.admitted_form(namespace)
    return form


def test_auto_is_native_only_while_every_kubelet_is_1_33_or_newer(cluster: Cluster) -> None:
    """Istio 1.31's ENABLE_NATIVE_SIDECARS=auto (pkg/kube/inject/webhook.go DetectNativeSidecar)."""
    with cluster.webhook(istio="1.31", mesh_default="auto"):
        namespace = cluster.namespace()
        try:
            cluster.set_kubelets(["v1.33.4", "v1.34.1"])
            assert form_once_nodes_are_seen(cluster, namespace, "native") == "native"
            cluster.set_kubelets(["v1.33.4", "v1.32.9"])
            assert form_once_nodes_are_seen(cluster, namespace, "regular") == "regular"
            assert cluster.admitted_form(namespace, {ANNOTATION: "true"}) == "native"
        finally:
            cluster.set_kubelets(["v1.33.4"])


def test_mutating_admission_policy_is_served_in_every_version_the_generator_may_target(cluster: Cluster) -> None:
    """v1 by default in Kubernetes 1.37; v1beta1 and v1alpha1 switched on (tests/harness/controlplane/apiserver.go)."""
    for version in ("v1", "v1beta1", "v1alpha1"):
        discovery = json.loads(cluster.kubectl("get", "--raw", f"/apis/admissionregistration.k8s.io/{version}").stdout)
        names = {resource["name"] for resource in discovery["resources"]}
        assert {"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"} <= names, version


def listening_addresses(pid: int) -> set[str]:
    """The local addresses of the TCP sockets process `pid` listens on (/proc/PID/fd, /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    addresses = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address = fields[1].rpartition(":")[0]
                packed = bytes.fromhex(address)
                # /proc prints each 32-bit word in host (little-endian) order
                words = b"".join(packed[i:i + 4][::-1] for i in range(0, len(packed), 4))
                addresses.add(str(ipaddress.ip_address(words)))
    return addresses


def test_every_component_listens_on_loopback_only(cluster: Cluster) -> None:
    components = background.recorded(cluster.state)
    assert set(components) == {"controlplane", "webhook"}
    for name, pid in components.items():
        addresses = listening_addresses(pid)
        assert addresses, f"{name} listens nowhere?"
        assert all(ipaddress.ip_address(address).is_loopback for address in addresses), (name, addresses)


def test_a_failed_start_shows_the_end_of_the_components_log(cluster: Cluster) -> None:
    with pytest.raises(background.StartError) as failed:
        cluster.restart_webhook(settings=["profile=no-such-profile"])
    cluster.restart_webhook(settings=())
    message = str(failed.value)
    assert "the process exited with 1" in message and "webhook.log" in message
    assert "no-such-profile" in message.rpartition("webhook.log")[2]  # the component's own words, from its log
    assert cluster.admitted_form(cluster.namespace()) == "native"
