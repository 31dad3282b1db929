"""Generated workloads for Istio's injector: every pod-bearing kind, odd names and values, per-pod settings.

A plain seeded generator rather than hypothesis: a batch of thousands goes through one injector
process, and a failure names its seed and document, which replays it exactly.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

NATIVE_SIDECAR = "sidecar.istio.io/nativeSidecar"

# Scalars that YAML readers resolve in surprising ways (go-yaml, PyYAML's YAML 1.1, or both): each
# must stay the string it is.
SURPRISING = (
    "yes", "No", "on", "off", "OFF", "017", "0x1F", "0b11", "+12", "1_000", "1:20", "~", "null", "Null",
    "true", "False", ".inf", "-.inf", ".NaN", "1.0", "-", "=", "<<", "2024-01-01", "2001-12-14t21:59:43.10-05:00",
    "", " ", "#not a comment", "a: b", "- x", "[1]", "{}", "@at", "`tick", "a\nb", "trailing ", "'single'",
    '"double"', "naïve", "|", ">",
)  # not LS/PS/NEL: a document holding one is refused when it must be edited (docs/robustness.md)
# Strings that only Kubernetes' reader (go-yaml) takes for a number or a bool when written plain;
# PyYAML reads them as strings, so a re-emitter that quoted by PyYAML's rules wrote them plain (issue 15).
GO_YAML_ONLY = ("1e6", "12e3", "y", "n", "Y", "0o17")
# Valid container names (DNS-1123 labels) that read as other types when unquoted.
ODD_NAMES = ("on", "off", "no", "yes", "true", "null", "0x1f", "123", "1-2", "a", "app-1", "x" * 63, "1e6", "y", "n")
SCALARS = SURPRISING + GO_YAML_ONLY
KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob")
API_VERSIONS = {"Pod": "v1", "ReplicationController": "v1", "Job": "batch/v1", "CronJob": "batch/v1"}


class WorkloadGenerator:
    """Workload documents (plain data) drawn from one seed."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.count = 0
        self.mesh_intercepts = True  # False: the mesh's interceptionMode is NONE
        self.proxy_override_hooks = ("postStart", "preStop")  # in the user's own istio-proxy entry
        # Istio 1.24 drops them (istio_injector.DROPS_INIT_CONTAINERS_WITHOUT_INTERCEPTION).
        self.init_containers_without_interception = True

    def documents(self, count: int) -> list[dict]:
        """`count` documents: workloads, a few `List`s of them, and Istio gateways."""
        documents = []
        while len(documents) < count:
            roll = self.rng.random()
            if roll < 0.05:
                documents.append({"apiVersion": "v1", "kind": "List", "items": [self.workload() for _ in range(self.rng.randint(1, 3))]})
            elif roll < 0.09:
                documents.append(self.gateway())
            else:
                documents.append(self.workload())
        return documents

    def workload(self, kind: str | None = None) -> dict:
        kind = kind or self.rng.choice(KINDS)
        self.count += 1
        name = f"w{self.count}-{kind.lower()}"
        metadata = self.pod_metadata(name)
        # kube-inject reads a CronJob's settings from spec.jobTemplate.metadata, not from its pod template.
        mode = None if kind == "CronJob" else (metadata.get("annotations") or {}).get("sidecar.istio.io/interceptionMode")
        intercepted = mode != "NONE" if mode else self.mesh_intercepts
        pod = {"metadata": metadata, "spec": self.pod_spec(init_containers=intercepted or self.init_containers_without_interception)}
        if (metadata.get("annotations") or {}).get("sidecar.istio.io/inject") == "false":
            for container in pod["spec"]["containers"]:  # nothing merges an image into the user's istio-proxy entry
                container.setdefault("image", "example.com/proxyv2:override")
        if kind == "Pod":
            return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **metadata}, "spec": pod["spec"]}
        body: dict[str, Any] = {"template": pod}
        if kind not in ("Job", "CronJob", "ReplicationController"):
            body["selector"] = {"matchLabels": {"app": name}}
        if kind == "StatefulSet":
            body["serviceName"] = name
        if kind in ("Job", "CronJob"):
            pod["spec"]["restartPolicy"] = self.rng.choice(["Never", "OnFailure"])
        if kind == "CronJob":
            body = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": body}}
        return {"apiVersion": API_VERSIONS.get(kind, "apps/v1"), "kind": kind, "metadata": {"name": name}, "spec": body}

    def gateway(self) -> dict:
        """An Istio gateway as its chart deploys it: the gateway injection template, istio-proxy the only container."""
        self.count += 1
        name = f"w{self.count}-gateway"
        metadata = {
            "labels": {"app": name, "istio": "ingressgateway", "sidecar.istio.io/inject": "true"},
            "annotations": {"inject.istio.io/templates": "gateway"},
        }
        spec = {"containers": [{"name": "istio-proxy", "image": "auto"}]}
        return {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": metadata, "spec": spec}},
        }

    def pod_metadata(self, name: str) -> dict:
        rng = self.rng
        annotations: dict[str, str] = {}
        optional = {
            "proxy.istio.io/config": lambda: f"holdApplicationUntilProxyStarts: {rng.choice(['true', 'false'])}",
            "sidecar.istio.io/interceptionMode": lambda: rng.choice(["NONE", "REDIRECT", "TPROXY"]),
            "sidecar.istio.io/proxyCPU": lambda: rng.choice(["100m", "1"]),
            "sidecar.istio.io/proxyMemory": lambda: "256Mi",
            "sidecar.istio.io/proxyImage": lambda: rng.choice(["example.com/proxyv2:custom", "proxyv2-custom"]),
            "traffic.sidecar.istio.io/excludeOutboundPorts": lambda: "5432,6379",
            "traffic.sidecar.istio.io/excludeOutboundIPRanges": lambda: "10.0.0.0/8",
            "status.sidecar.istio.io/port": lambda: rng.choice(["15020", "15030", "0"]),
            "sidecar.istio.io/rewriteAppHTTPProbers": lambda: rng.choice(["true", "false"]),
            "sidecar.istio.io/inject": lambda: rng.choice(["false", "true"]),
            "example.com/note": lambda: rng.choice(SCALARS),
        }
        for key in rng.sample(sorted(optional), rng.randint(0, 4)):
            annotations[key] = optional[key]()
        if annotations.get("status.sidecar.istio.io/port") == "0":
            # No status port: probes rewritten to it would name port 0, which the API server refuses.
            annotations["sidecar.istio.io/rewriteAppHTTPProbers"] = "false"
        metadata: dict[str, Any] = {"labels": {"app": name}}
        if rng.random() < 0.3:
            metadata["labels"]["version"] = rng.choice(["v1", "1.0", "true", "y"])
        if annotations:
            metadata["annotations"] = annotations
        return metadata

    def pod_spec(self, *, init_containers: bool = True) -> dict:
        rng = self.rng
        names = rng.sample(ODD_NAMES, rng.randint(1, 3))
        spec: dict[str, Any] = {"containers": [self.container(name) for name in names]}
        if rng.random() < 0.15:
            spec["containers"].insert(rng.randint(0, len(names)), self.proxy_override())
        inits = [self.container(f"init-{i}", init=True) for i in range(rng.choice([0, 0, 1, 2]) if init_containers else 0)]
        if inits and rng.random() < 0.3:
            inits[-1]["restartPolicy"] = "Always"  # the user's own native sidecar
            if rng.random() < 0.3:  # hooks: only a native sidecar may have them among init containers
                inits[-1]["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", rng.choice(SCALARS)]}}}
        if inits:
            spec["initContainers"] = inits
        if rng.random() < 0.3:
            spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": rng.choice([1000, 65532]), "fsGroup": 2000}
        if rng.random() < 0.2:
            spec["terminationGracePeriodSeconds"] = rng.choice([0, 30, 120])
        return spec

    def container(self, name: str, *, init: bool = False) -> dict:
        rng = self.rng
        container: dict[str, Any] = {"name": name, "image": rng.choice(["busybox", "example.com/app:1.0"])}
        if rng.random() < 0.5:
            container["args"] = [rng.choice(SCALARS) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.3:
            container["command"] = ["/bin/sh", "-c", rng.choice(SCALARS)]
        if rng.random() < 0.4:
            container["env"] = [{"name": f"V{i}", "value": rng.choice(SCALARS)} for i in range(rng.randint(1, 3))]
        if not init and rng.random() < 0.5:
            port = rng.choice([8080, 9090])
            container["ports"] = [{"containerPort": port}]
            if rng.random() < 0.6:
                container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 5}
            if rng.random() < 0.3:
                container["livenessProbe"] = {"tcpSocket": {"port": port}}
        if not init and rng.random() < 0.2:
            container["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", rng.choice(SCALARS)]}}}
        if rng.random() < 0.2:
            container["securityContext"] = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True}
        return container

    def proxy_override(self) -> dict:
        """The user's own istio-proxy entry, which the injector merges over its template."""
        rng = self.rng
        proxy: dict[str, Any] = {"name": "istio-proxy"}
        if rng.random() < 0.5:
            proxy["resources"] = {"limits": {"memory": "1Gi"}}
        if rng.random() < 0.6:
            hook = rng.choice(self.proxy_override_hooks)
            proxy["lifecycle"] = {hook: {"exec": {"command": ["sleep", "5"]}}}
        if rng.random() < 0.3:
            proxy["image"] = "example.com/proxyv2:override"
        return proxy


def pod_templates(document: dict) -> Iterator[dict]:
    """The pod templates (or Pods) of a generated document."""
    if document["kind"] == "List":
        for item in document["items"]:
            yield from pod_templates(item)
    elif document["kind"] == "Pod":
        yield document
    elif document["kind"] == "CronJob":
        yield document["spec"]["jobTemplate"]["spec"]["template"]
    else:
        yield document["spec"]["template"]


def in_form(documents: list[dict], form: str) -> list[dict]:
    """The documents with every pod asking Istio for `form` through the nativeSidecar annotation.

    A CronJob says it where kube-inject reads it (spec.jobTemplate.metadata), on its pod template
    (which kube-inject ignores: the mesh default decides), or in both places, by its name.
    """
    documents = copy.deepcopy(documents)
    value = "true" if form == "native" else "false"
    for document in documents:
        for holder in annotation_holders(document):
            holder.setdefault("metadata", {}).setdefault("annotations", {})[NATIVE_SIDECAR] = value
    return documents


CRONJOB_ANNOTATION_PLACES = ("job template", "pod template", "both")


def annotation_holders(document: dict) -> Iterator[dict]:
    """Where a document's pods ask for a form: each pod template, a CronJob's as above."""
    if document["kind"] == "List":
        for item in document["items"]:
            yield from annotation_holders(item)
    elif document["kind"] == "CronJob":
        job_template = document["spec"]["jobTemplate"]
        place = CRONJOB_ANNOTATION_PLACES[int(document["metadata"]["name"].split("-")[0][1:]) % 3]
        if place != "pod template":
            yield job_template
        if place != "job template":
            yield job_template["spec"]["template"]
    else:
        yield from pod_templates(document)


def as_stream(documents: list[dict]) -> bytes:
    """One JSON document per `---`: JSON is YAML whose strings no reader can take for another type."""
    return "".join(f"---\n{json.dumps(document, ensure_ascii=False)}\n" for document in documents).encode()
