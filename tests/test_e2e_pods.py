"""`sidecar-policy pods` reading a real API server (tests/support/cluster.py), itself and as the
kubectl plugin run by the real kubectl: kubectl's flags, the kinds it lists, an API that does not answer.

Pods stay Pending here (no kubelet runs); `pods` counts a Pending pod as running, as it will run.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from tests.support.e2e import describe, kubectl_1_29, plugin_env, pod_forms, pods, run_pods, until

pytestmark = pytest.mark.slow  # minutes: controllers and a webhook at work

NATIVE = "sidecar.istio.io/nativeSidecar"
IMAGE = "registry.k8s.io/pause:3.10"


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = cluster.namespace("e2e-pods")
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def template(app: str, annotations: dict[str, str] | None = None) -> dict:
    return {"metadata": {"labels": {"app": app}, "annotations": annotations or {}},
            "spec": {"containers": [{"name": app, "image": IMAGE}]}}


def create(cluster: Cluster, namespace: str, *objects: dict) -> list[dict]:
    """The objects as the API server stored them."""
    return [json.loads(cluster.kubectl("create", "-n", namespace, "-o", "json", "-f", "-",
                                       stdin=json.dumps(obj).encode()).stdout) for obj in objects]


def deployment(name: str, annotations: dict[str, str] | None = None) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template(name, annotations)}}


def admitted(cluster: Cluster, namespace: str, expected: dict[str, int]) -> None:
    until(lambda: {name: len(forms) for name, forms in pod_forms(cluster, namespace).items()} == expected,
          f"pods {expected} to be admitted", describe(cluster, namespace))


@pytest.mark.parametrize("kubectl", ["machine", "1.29"])
def test_kubectl_runs_pods_as_its_plugin_with_kubectls_flags(cluster: Cluster, namespace: str, tmp_path: Path,
                                                              kubectl: str) -> None:
    """The machine's kubectl and kubectl 1.29 (the oldest a cluster with native sidecars pairs with)."""
    env = plugin_env(cluster, kubectl_1_29() if kubectl == "1.29" else None)
    create(cluster, namespace, deployment("web"), deployment("pinned", {NATIVE: "false"}))
    admitted(cluster, namespace, {"web": 1, "pinned": 1})
    direct = pods(cluster, "-n", namespace, env=env)
    assert {(row["name"], row["actual"]) for row in direct} == {("web", "native"), ("pinned", "regular")}
    assert pods(cluster, "-n", namespace, plugin=True, env=env) == direct

    # --kubeconfig and --context reach kubectl: a context whose namespace is this one, in a file of its own.
    config = tmp_path / "config"
    config.write_bytes(cluster.kubeconfig.read_bytes())
    view = json.loads(cluster.kubectl("config", "view", "--minify", "-o", "json", "--kubeconfig", str(config)).stdout)
    context = view["contexts"][0]["context"]
    cluster.kubectl("config", "set-context", "in-test", f"--cluster={context['cluster']}", f"--user={context['user']}",
                    f"--namespace={namespace}", "--kubeconfig", str(config))
    elsewhere = {**env, "KUBECONFIG": str(tmp_path / "no-such-file")}
    assert pods(cluster, "--kubeconfig", str(config), "--context", "in-test", plugin=True, env=elsewhere) == direct
    # Neither -n nor -A: the context's namespace, as `kubectl get` reads it.
    assert namespace not in {row["namespace"] for row in pods(cluster, plugin=True, env=env)}
    everywhere = pods(cluster, "-A", plugin=True, env=env)
    assert [row for row in everywhere if row["namespace"] == namespace] == direct


ROLLOUT_CRD = {  # Argo Rollouts' kind as discovery lists it; the schema is not what this test is about
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "rollouts.argoproj.io"},
    "spec": {"group": "argoproj.io", "scope": "Namespaced",
             "names": {"kind": "Rollout", "plural": "rollouts", "singular": "rollout", "listKind": "RolloutList"},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


@pytest.fixture
def rollout_kind(cluster: Cluster) -> Iterator[None]:
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(ROLLOUT_CRD).encode())
    try:
        cluster.kubectl("wait", "--for=condition=Established", "crd/rollouts.argoproj.io", "--timeout=60s")
        yield
    finally:
        cluster.kubectl("delete", "crd", "rollouts.argoproj.io", "--wait=false", check=False)


def test_the_kinds_it_lists_come_from_the_server_crds_included(cluster: Cluster, namespace: str, rollout_kind: None) -> None:
    """A Rollout whose template now says regular, over a ReplicaSet whose pods run native: only a
    `pods` that listed rollouts.argoproj.io knows the template new pods come from (without it, the
    ReplicaSet's own template would stand in and nothing would need a restart)."""
    (rollout,) = create(cluster, namespace, {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                                             "metadata": {"name": "canary"},
                                             "spec": {"replicas": 1, "template": template("canary", {NATIVE: "false"})}})
    owner = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "canary",
             "uid": rollout["metadata"]["uid"], "controller": True}
    create(cluster, namespace, {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                "metadata": {"name": "canary-1", "ownerReferences": [owner]},
                                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "canary"}},
                                         "template": template("canary")}})
    admitted(cluster, namespace, {"canary": 1})
    (row,) = pods(cluster, "-n", namespace)
    assert (row["kind"], row["actual"], row["desired"]) == ("Rollout", "native", "regular")
    assert row["command"] == f"kubectl argo rollouts restart canary -n {namespace}"


def test_an_api_group_that_does_not_answer_is_a_warning_not_the_end(cluster: Cluster, namespace: str) -> None:
    """An aggregated API whose server is gone (a metrics-server down): kubectl up to 1.30 exits 1 from
    `api-resources` after listing the rest, later ones list the rest and exit 0. Either way every kind
    pods reads is there, and pods reads it."""
    old = plugin_env(cluster, kubectl_1_29())
    create(cluster, namespace, deployment("web"))
    admitted(cluster, namespace, {"web": 1})
    service = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
               "metadata": {"name": "v1.unanswered.sidecar-policy.test"},
               "spec": {"group": "unanswered.sidecar-policy.test", "version": "v1", "groupPriorityMinimum": 100,
                        "versionPriority": 100, "insecureSkipTLSVerify": True,
                        "service": {"namespace": namespace, "name": "nobody", "port": 443}}}
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(service).encode())
    try:
        until(lambda: subprocess.run(["kubectl", "api-resources"], env=old, capture_output=True, timeout=60).returncode,
              "kubectl 1.29 to find the APIService unavailable", describe(cluster, namespace), timeout=60)
        with_old, with_machines = run_pods(cluster, "-n", namespace, env=old), run_pods(cluster, "-n", namespace)
    finally:  # the namespace and garbage collectors need the whole API: never leave it broken
        cluster.kubectl("delete", "apiservice", service["metadata"]["name"], check=False)
    for done in (with_old, with_machines):
        assert [(row["name"], row["actual"]) for row in json.loads(done.stdout)] == [("web", "native")]
    assert "sidecar-policy: warning: `kubectl api-resources" in with_old.stderr
