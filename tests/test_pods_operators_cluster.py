"""`pods` on a live control plane: an operator's workload, its pods admitted by Istio's own webhook.

No operator runs here: the test makes the pods as KubeRay's controller would (its labels,
controller/ray/common/pod.go labelPod, and a controller ownerReference to the RayCluster,
raycluster_controller.go), and re-creates a deleted one the same way, as KubeRay's reconcilePods
does. Everything else is real: the RayCluster is created against KubeRay's own CRD, Istio's injector
decides each pod's form from its annotation and the mesh default, the dump comes from the
documented command (discovery first), and `pods` reads it, and the live cluster itself.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

from postrender import cli
from postrender.pods.command import DUMP_COMMAND
from tests.support.crd_server import install_operator_crds

ANNOTATION = "sidecar.istio.io/nativeSidecar"


def _template(annotations: dict) -> dict:
    return {"metadata": {"annotations": annotations},
            "spec": {"containers": [{"name": "ray", "image": "rayproject/ray:2.46.0"}]}}


def ray_cluster(name: str) -> dict:
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": name},
            "spec": {"headGroupSpec": {"rayStartParams": {}, "template": _template({ANNOTATION: "false"})},
                     "workerGroupSpecs": [{"groupName": "cpu", "replicas": 1, "minReplicas": 1, "maxReplicas": 1,
                                           "rayStartParams": {}, "template": _template({})}]}}


def ray_pod(owner: dict, name: str, group: str) -> dict:
    """A pod as KubeRay makes it from the group's template: its annotations, labels and controller."""
    spec = owner["spec"]
    template = spec["headGroupSpec"]["template"] if group == "headgroup" else spec["workerGroupSpecs"][0]["template"]
    labels = {"ray.io/cluster": owner["metadata"]["name"], "ray.io/group": group,
              "ray.io/node-type": "head" if group == "headgroup" else "worker"}
    reference = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": owner["metadata"]["name"],
                 "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels, "annotations": template["metadata"]["annotations"],
                         "ownerReferences": [reference]}, "spec": template["spec"]}


def pods_rows(cluster, namespace: str, mesh_default: str, capsys, monkeypatch) -> list[dict]:
    dump = subprocess.run(["sh", "-c", DUMP_COMMAND], capture_output=True, env=cluster.env, timeout=120, check=True).stdout
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(dump)))
    assert cli.main(["pods", "--mesh-default", mesh_default, "-o", "json"]) == 0
    return [row for row in json.loads(capsys.readouterr().out) if row["namespace"] == namespace]


def test_a_ray_cluster_after_the_mesh_default_flips(cluster, capsys, monkeypatch):
    install_operator_crds(cluster, ("kuberay",))
    namespace = cluster.namespace("ray")
    created = cluster.kubectl("create", "-n", namespace, "-o", "json", "-f", "-",
                              stdin=json.dumps(ray_cluster("ray")).encode())
    owner = json.loads(created.stdout)
    for name, group in (("ray-head", "headgroup"), ("ray-worker-a", "cpu")):
        cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(ray_pod(owner, name, group)).encode())

    # Istio's webhook gave the head the regular form its template pins, the worker the native default.
    [row] = pods_rows(cluster, namespace, "native", capsys, monkeypatch)
    assert (row["kind"], row["pods"], row["actual"], row["desired"], row["restart"]) == ("RayCluster", 2, "mixed", "mixed", False)
    # Read live, `pods` lists the same kinds (discovery first) and says the same.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    live = ["pods", "--mesh-default", "native", "-o", "json", "-n", namespace, "--kubeconfig", str(cluster.kubeconfig)]
    assert cli.main(live) == 0
    assert json.loads(capsys.readouterr().out) == [row]

    with cluster.webhook(mesh_default="regular"):
        [row] = pods_rows(cluster, namespace, "regular", capsys, monkeypatch)
        assert (row["stale_pods"], row["command"]) == (["ray-worker-a"], f"kubectl -n {namespace} delete pod ray-worker-a")
        subprocess.run(row["command"].split(), env=cluster.env, check=True, capture_output=True, timeout=120)
        cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(ray_pod(owner, "ray-worker-b", "cpu")).encode())
        [row] = pods_rows(cluster, namespace, "regular", capsys, monkeypatch)
        assert (row["actual"], row["restart"]) == ("regular", False)
