"""The API server's reading of a stream (support/server_reading.py) refuses what Kubernetes refuses.

What the corpus and oracle tests rely on: a refusal is reported, an object in a namespace of
its own is read there, custom resources are read against the CRD the stream carries, and one
whose CRD is nowhere is named instead of skipped.
"""

from __future__ import annotations

import json

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "trainings.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"kind": "Training", "plural": "trainings", "singular": "training"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "properties": {
                     "replicas": {"type": "integer", "minimum": 1}}}}}}}]},
}


def job(name: str, sidecar_restart_policy: str) -> dict:
    containers = [{"name": "main", "image": "busybox"}]
    init = [{"name": "istio-proxy", "image": "proxy", "restartPolicy": sidecar_restart_policy}]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "reading-jobs"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "initContainers": init, "containers": containers}}}}


def stream(*documents: dict) -> bytes:
    return "".join(f"---\n{json.dumps(document)}\n" for document in documents).encode()


def test_a_native_sidecar_is_accepted_and_an_invalid_restart_policy_is_refused(server_reader) -> None:
    assert server_reader.refusals(stream(job("native", "Always"))) == ""
    refused = server_reader.refusals(stream(job("invalid", "Sometimes")))
    assert "invalid" in refused and "restartPolicy" in refused


def test_custom_resources_are_read_against_the_crd_the_stream_carries(server_reader) -> None:
    def training(replicas: int) -> dict:
        return {"apiVersion": "example.com/v1", "kind": "Training", "metadata": {"name": f"t{replicas}", "namespace": "reading-crs"},
                "spec": {"replicas": replicas}}

    assert server_reader.refusals(stream(CRD, training(2))) == ""
    assert "spec.replicas" in server_reader.refusals(stream(CRD, training(0)))


def test_a_custom_resource_without_its_crd_is_named_not_skipped(server_reader) -> None:
    orphan = {"apiVersion": "nowhere.example.com/v1", "kind": "Ghost", "metadata": {"name": "g"}}
    assert server_reader.refusals(stream(orphan)) == \
        "no CustomResourceDefinition in the stream or the cluster for nowhere.example.com/Ghost"
