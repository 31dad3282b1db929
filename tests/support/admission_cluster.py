"""Helpers for the admission policy on the tests' control plane (tests/support/cluster.py).

The generated MutatingAdmissionPolicy applies to every pod of the cluster; tests that run many at once
restrict each binding to the pods that carry a label of their own (`matchResources.objectSelector`),
which leaves the policy itself as generated. `applied` waits until the API server's admission plugin
uses what was applied: it applies a sentinel policy last and waits for that one to act (the plugin
reads policies and bindings from informers, in the order they were written).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from postrender.core.istio import ANNOTATION

SCENARIO_LABEL = "sidecar-policy.test/scenario"
READY_ANNOTATION = "sidecar-policy.test/ready"
READY_TIMEOUT = 90.0  # seconds; the plugin picks changes up within about a second
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


def only_for(objects: list[dict], scenario: str) -> list[dict]:
    """The objects with the binding limited to pods labelled with this scenario."""
    limited = json.loads(json.dumps(objects))
    for document in limited:
        if document["kind"].endswith("Binding"):
            document["spec"]["matchResources"] = {"objectSelector": {"matchLabels": {SCENARIO_LABEL: scenario}}}
    return limited


def _sentinel(api_version: str, token: str) -> list[dict]:
    name = f"sentinel-{token}"
    policy = {
        "apiVersion": api_version, "kind": "MutatingAdmissionPolicy", "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail", "reinvocationPolicy": "Never",
            "matchConstraints": {"resourceRules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]},
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": (
                f'[JSONPatch{{op: "add", path: "/metadata/annotations", value: {{"{READY_ANNOTATION}": "{token}"}}}}]')}}],
        },
    }
    return [policy, *only_for([{"apiVersion": api_version, "kind": "MutatingAdmissionPolicyBinding",
                                "metadata": {"name": name}, "spec": {"policyName": name}}], f"sentinel-{token}")]


def pod(namespace: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": namespace, **metadata},
            "spec": {"containers": [{"name": "app", "image": PAUSE_IMAGE}]}}


def dry_run(cluster: Any, pods: list[dict]) -> list[dict]:
    """Each pod as the API server admits it (`kubectl create --dry-run=server`: admission runs, nothing
    is stored), in order. A pod the server refuses fails the test with the server's message."""
    if not pods:
        return []
    listed = {"apiVersion": "v1", "kind": "List", "items": pods}
    created = cluster.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", stdin=json.dumps(listed).encode())
    return _json_stream(created.stdout.decode())


def _json_stream(text: str) -> list[Any]:
    """kubectl prints one JSON object per object created, one after the other (not a List)."""
    decoder, position, found = json.JSONDecoder(), 0, []
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return found
        value, position = decoder.raw_decode(text, position)
        found.append(value)


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {READY_TIMEOUT:.0f} s")
        time.sleep(0.3)


@contextmanager
def applied(cluster: Any, objects: list[dict], api_version: str = "admissionregistration.k8s.io/v1",
            changed: dict | None = None) -> Iterator[None]:
    """The objects applied and in use for the `with` block, deleted after it (also after a failure).
    `changed`, a pod the objects annotate: after the block, wait until they no longer do, so that a
    policy bound to every pod is gone before the next test creates one."""
    token = uuid.uuid4().hex[:10]
    sentinel = _sentinel(api_version, token)
    everything = {"apiVersion": "v1", "kind": "List", "items": [*objects, *sentinel]}
    try:
        # Server-side: client-side apply keeps a copy in an annotation, which a large policy outgrows (256 KiB).
        if objects:
            cluster.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps({**everything, "items": objects}).encode())
        cluster.kubectl("apply", "-f", "-", stdin=json.dumps({**everything, "items": sentinel}).encode())
        probe = pod("default", {"generateName": "probe-", "labels": {SCENARIO_LABEL: f"sentinel-{token}"}})
        _wait(lambda: (dry_run(cluster, [probe])[0]["metadata"].get("annotations") or {}).get(READY_ANNOTATION) == token,
              "the API server did not use the applied admission policies")
        yield
    finally:
        cluster.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", stdin=json.dumps(everything).encode(),
                        check=False)
        if changed is not None:
            _wait(lambda: annotation(dry_run(cluster, [changed])[0]) is None,
                  "the API server kept using deleted admission policies")


def annotation(admitted: dict) -> str | None:
    return (admitted["metadata"].get("annotations") or {}).get(ANNOTATION)
