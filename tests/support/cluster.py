"""A local Kubernetes control plane with Istio's sidecar injector as its webhook, on loopback only.

    cluster = start(state, istio="1.31", mesh_default="native")   # builds what it needs (cached)
    namespace = cluster.namespace()             # fresh, labelled istio-injection=enabled
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest)
    cluster.admitted_form(namespace)            # "native": where a new pod gets istio-proxy
    with cluster.webhook(mesh_default="regular"):   # Istio's injector restarted with another default
        ...
    cluster.stop()                              # every process it started; the state folder goes

Two processes: tests/harness/controlplane (etcd, kube-apiserver and kube-controller-manager of
Kubernetes 1.37) and `istioinject webhook` (Istio's injector of the chosen release, registered
with its chart's MutatingWebhookConfiguration). No kubelet or scheduler: pods are admitted and
stay Pending. The Node objects only carry status.nodeInfo.kubeletVersion, which Istio's
ENABLE_NATIVE_SIDECARS=auto reads (pkg/kube/inject/webhook.go DetectNativeSidecar).
`./dev cluster up|down` (tests/support/cluster_cli.py) and the tests' `cluster` fixture both
start it here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import background, gotools, istio_injector

# istiod's ENABLE_NATIVE_SIDECARS for each mesh default. `auto` (native where every kubelet is
# 1.33+) exists from Istio 1.27 (pilot/pkg/features/pilot.go); 1.24 reads a boolean
# (pilot/pkg/features/experimental.go) and would take `auto` as false.
MESH_DEFAULTS = {"native": "true", "regular": "false", "auto": "auto"}
WITHOUT_AUTO = frozenset({"1.24"})
DEFAULT_ISTIO = "1.31"
DEFAULT_KUBELETS = ("v1.33.4",)
START_TIMEOUT = 180.0  # seconds, per component: a cold start on a busy 2-core machine
KUBECTL_TIMEOUT = 120.0
PROXY = "istio-proxy"


def kubectl_command() -> str:
    """kubectl, or a skip (a failure under CI) that says why."""
    return gotools.required("kubectl", "the control-plane tests drive the API server with it")


def sidecar_form(pod: dict) -> str | None:
    """native (an init container with restartPolicy Always), regular (a container), or None."""
    spec = pod.get("spec") or {}
    for container in spec.get("initContainers") or []:
        if container.get("name") == PROXY:
            return "native" if container.get("restartPolicy") == "Always" else "init-container"
    if any(container.get("name") == PROXY for container in spec.get("containers") or []):
        return "regular"
    return None


def check_mesh_default(istio: str, mesh_default: str) -> None:
    if istio not in istio_injector.VERSIONS:
        raise ValueError(f"Istio {istio} is not one the tests build; choose one of {', '.join(istio_injector.VERSIONS)}")
    if mesh_default not in MESH_DEFAULTS:
        raise ValueError(f"mesh default {mesh_default!r}: choose one of {', '.join(MESH_DEFAULTS)}")
    if mesh_default == "auto" and istio in WITHOUT_AUTO:
        raise ValueError(f"Istio {istio} has no `auto` mesh default (ENABLE_NATIVE_SIDECARS is true or false there)")


class Cluster:
    """A running control plane and webhook whose processes are recorded in `state`."""

    def __init__(self, state: Path, tied: bool = False):
        self.state = state
        self.tied = tied  # the processes die with the thread that started them (test sessions)
        self.istio = DEFAULT_ISTIO
        self.mesh_default = "native"
        self.settings: tuple[str, ...] = ()
        self.default_form = ""  # what a pod without annotation got when the webhook started

    @property
    def kubeconfig(self) -> Path:
        return self.state / "controlplane" / "kubeconfig"

    @property
    def env(self) -> dict[str, str]:
        """The environment for kubectl, Helm or sidecar-policy to reach this cluster (kubectl's
        discovery cache in the state folder, not one more random port in ~/.kube/cache)."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.state / "kube-cache")}

    # -- starting and stopping ---------------------------------------------------------------
    def start_control_plane(self) -> None:
        binary = gotools.harness("controlplane")
        folder = self.state / "controlplane"
        process = background.spawn(self.state, "controlplane", [str(binary), "--dir", str(folder)], tied=self.tied)
        background.wait_until(self.kubeconfig.exists, START_TIMEOUT, "the control plane",
                              process, background.log_path(self.state, "controlplane"))

    def start_webhook(self, istio: str, mesh_default: str, settings: Sequence[str] = ()) -> None:
        """Istio `istio`'s injector with this mesh default and `istioctl install --set` settings."""
        check_mesh_default(istio, mesh_default)
        binary = istio_injector.binary(istio)
        folder = self.state / "webhook"
        ready = folder / "ready"
        ready.unlink(missing_ok=True)
        args = [str(binary), "webhook", "--kubeconfig", str(self.kubeconfig), "--dir", str(folder)]
        args += [arg for setting in settings for arg in ("--set", setting)]
        process = background.spawn(self.state, "webhook", args, {"ENABLE_NATIVE_SIDECARS": MESH_DEFAULTS[mesh_default]},
                                   tied=self.tied)
        background.wait_until(ready.exists, START_TIMEOUT, f"Istio {istio}'s injector webhook",
                              process, background.log_path(self.state, "webhook"))
        self.istio, self.mesh_default, self.settings = istio, mesh_default, tuple(settings)
        self.default_form = json.loads(ready.read_text())["form"]

    def restart_webhook(self, istio: str | None = None, mesh_default: str | None = None,
                        settings: Sequence[str] | None = None) -> None:
        """The injector restarted (what is not given stays): istiod reads its mesh default once."""
        istio, mesh_default = istio or self.istio, mesh_default or self.mesh_default
        check_mesh_default(istio, mesh_default)
        background.stop(self.state, "webhook")
        self.start_webhook(istio, mesh_default, self.settings if settings is None else settings)

    @contextmanager
    def webhook(self, istio: str | None = None, mesh_default: str | None = None,
                settings: Sequence[str] | None = None) -> Iterator[Cluster]:
        """The injector as given for the `with` block, then as it was (also after a failure)."""
        before = (self.istio, self.mesh_default, self.settings)
        self.restart_webhook(istio, mesh_default, settings)
        try:
            yield self
        finally:
            self.restart_webhook(*before)

    def stop(self) -> None:
        """Stop every process this cluster started (the webhook first) and remove its state."""
        for name in ("webhook", *sorted(set(background.recorded(self.state)) - {"webhook"})):
            background.stop(self.state, name)
        shutil.rmtree(self.state, ignore_errors=True)

    # -- using it ----------------------------------------------------------------------------
    def kubectl(self, *args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([kubectl_command(), *args], input=stdin, capture_output=True, env=self.env,
                                timeout=KUBECTL_TIMEOUT, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr.decode()[-3000:]}")
        return result

    def get(self, *args: str) -> Any:
        """`kubectl get ARGS -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def namespace(self, prefix: str = "test", injection: bool = True, labels: dict[str, str] | None = None) -> str:
        """A new namespace (istio-injection=enabled unless `injection` is False), ready for pods."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        all_labels = {**({"istio-injection": "enabled"} if injection else {}), **(labels or {})}
        manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": all_labels}}
        self.kubectl("create", "-f", "-", stdin=json.dumps(manifest).encode())
        # The ServiceAccount admission plugin refuses pods until the controller made `default`.
        self.kubectl("wait", "--for=create", "serviceaccount/default", "-n", name, "--timeout=60s")
        return name

    def set_kubelets(self, versions: Sequence[str]) -> None:
        """Replace the Node objects: one per kubelet version (status.nodeInfo.kubeletVersion)."""
        self.kubectl("delete", "nodes", "--all", "--wait=true")
        for index, version in enumerate(versions):
            name = f"node-{index}-{version.lstrip('v').replace('.', '-')}"
            node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
            self.kubectl("create", "-f", "-", stdin=json.dumps(node).encode())
            status = {"status": {"nodeInfo": {"kubeletVersion": version}}}
            self.kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps(status))

    def admitted_form(self, namespace: str, annotations: dict[str, str] | None = None,
                      labels: dict[str, str] | None = None) -> str | None:
        """Where a pod created now in `namespace` gets istio-proxy (a server-side dry run): see sidecar_form."""
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"generateName": "probe-", "annotations": annotations or {}, "labels": labels or {}},
               "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}
        created = self.kubectl("create", "--dry-run=server", "-n", namespace, "-o", "json", "-f", "-",
                               stdin=json.dumps(pod).encode())
        return sidecar_form(json.loads(created.stdout))


def start(state: Path, istio: str = DEFAULT_ISTIO, mesh_default: str = "native",
          kubelets: Sequence[str] = DEFAULT_KUBELETS, tied: bool = False) -> Cluster:
    """A cluster in `state` (a folder of its own), or StartError with the failing component's log."""
    check_mesh_default(istio, mesh_default)
    kubectl_command()
    istio_injector.binary(istio)  # both builds before anything starts: nothing runs while Go builds
    gotools.harness("controlplane")
    cluster = Cluster(state, tied)
    try:
        cluster.start_control_plane()
        cluster.set_kubelets(kubelets)
        cluster.start_webhook(istio, mesh_default)
    except BaseException:
        cluster.stop()
        raise
    return cluster
