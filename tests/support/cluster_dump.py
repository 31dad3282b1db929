"""A deterministic cluster dump, as `kubectl get pods,replicasets,deployments,statefulsets,daemonsets,
jobs,cronjobs -A -o json` prints it, for `sidecar-policy pods`.

The story: the mesh ran Istio 1.26 (regular sidecars) and was upgraded to 1.27 (native by
default). Most pods still run the regular form; some workloads were restarted since. The named
workloads below cover every way a cluster gets mixed; `scale` adds plain Deployments (3 pods
each) so the same story comes in any size. `python -m tests.support.cluster_dump [scale]` prints it.
"""

from __future__ import annotations

import json
import sys

NATIVE, REGULAR, NONE, GATEWAY = "native", "regular", "none", "gateway"
FILLER_NAMESPACES = ("shop", "payments", "search", "catalog", "users")
STATUS = "sidecar.istio.io/status"
PROXY_IMAGE = "docker.io/istio/proxyv2:1.26.3"


def _uid(*parts: str) -> str:
    return "uid-" + "-".join(parts)


def _owner(kind: str, name: str, api: str = "apps/v1") -> list[dict]:
    return [{"apiVersion": api, "kind": kind, "name": name, "uid": _uid(kind, name),
             "controller": True, "blockOwnerDeletion": True}]


def _meta(namespace: str, name: str, labels: dict | None = None, owner: list[dict] | None = None,
          annotations: dict | None = None) -> dict:
    meta = {"name": name, "namespace": namespace, "uid": _uid(namespace, name),
            "resourceVersion": str(len(namespace) * 1000 + len(name)), "creationTimestamp": "2026-11-20T10:00:00Z",
            "labels": dict(labels or {})}
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner:
        meta["ownerReferences"] = owner
    return meta


def _app(name: str) -> dict:
    return {"name": name, "image": f"registry.example.com/{name}:1.4.2", "ports": [{"containerPort": 8080}],
            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME", "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}}


def _proxy(native: bool) -> dict:
    proxy = {"name": "istio-proxy", "image": PROXY_IMAGE,
             "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
             "ports": [{"containerPort": 15090, "name": "http-envoy-prom"}],
             "securityContext": {"runAsUser": 1337, "runAsGroup": 1337, "runAsNonRoot": True}}
    if native:
        proxy["restartPolicy"] = "Always"
    return proxy


def template(labels: dict, annotations: dict | None = None, container: str = "app") -> dict:
    meta: dict = {"labels": dict(labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"metadata": meta, "spec": {"containers": [_app(container)]}}


def pod(namespace: str, name: str, form: str, labels: dict, owner: list[dict] | None = None,
        annotations: dict | None = None, phase: str = "Running") -> dict:
    """A running pod as the API server returns it after Istio's injection in `form`."""
    annotations = dict(annotations or {})
    init = [{"name": "istio-init", "image": PROXY_IMAGE, "args": ["istio-iptables"]}]
    containers = [_app(labels.get("app", "app"))]
    if form == NATIVE:
        init.append(_proxy(native=True))
        annotations[STATUS] = json.dumps({"initContainers": ["istio-init", "istio-proxy"], "containers": None})
    elif form == REGULAR:
        containers.append(_proxy(native=False))
        annotations[STATUS] = json.dumps({"initContainers": ["istio-init"], "containers": ["istio-proxy"]})
    elif form == GATEWAY:
        init = []
        containers = [{"name": "istio-proxy", "image": PROXY_IMAGE, "args": ["proxy", "router", "--domain", "x"]}]
        annotations["inject.istio.io/templates"] = "gateway"
        annotations[STATUS] = json.dumps({"initContainers": None, "containers": ["istio-proxy"]})
    else:
        init = []
    spec: dict = {"containers": containers, "nodeName": f"node-{len(name) % 5}", "restartPolicy": "Always"}
    if init:
        spec["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(namespace, name, labels, owner, annotations),
            "spec": spec, "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True"}]}}


def deployment(namespace: str, name: str, labels: dict, annotations: dict | None = None, **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(namespace, name, labels),
            "spec": {"replicas": 3, "selector": {"matchLabels": labels}, **spec,
                     "template": template(labels, annotations, labels.get("app", "app"))}}


def replicaset(namespace: str, name: str, labels: dict, owner_kind: str = "Deployment", owner: str | None = None,
               annotations: dict | None = None) -> dict:
    api = "argoproj.io/v1alpha1" if owner_kind == "Rollout" else "apps/v1"
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": _meta(namespace, name, labels, _owner(owner_kind, owner, api) if owner else None),
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": template(labels, annotations, labels.get("app", "app"))}}


def _deployment_with_pods(items: list, namespace: str, name: str, forms: list[str],
                          annotations: dict | None = None, **spec) -> None:
    labels = {"app": name}
    items.append(deployment(namespace, name, labels, annotations, **spec))
    items.append(replicaset(namespace, f"{name}-7d9f", labels, owner=name, annotations=annotations))
    for number, form in enumerate(forms):
        items.append(pod(namespace, f"{name}-7d9f-{number:05d}", form, labels, _owner("ReplicaSet", f"{name}-7d9f"),
                         annotations))


def named_workloads() -> list[dict]:
    items: list[dict] = []
    # mid-rollout: the old ReplicaSet's pods are regular, the new one's native
    labels = {"app": "checkout"}
    items.append(deployment("shop", "checkout", labels))
    items.append(replicaset("shop", "checkout-old", labels, owner="checkout"))
    items.append(replicaset("shop", "checkout-new", labels, owner="checkout"))
    items += [pod("shop", f"checkout-old-{n}", REGULAR, labels, _owner("ReplicaSet", "checkout-old")) for n in "ab"]
    items += [pod("shop", f"checkout-new-{n}", NATIVE, labels, _owner("ReplicaSet", "checkout-new")) for n in "cd"]
    _deployment_with_pods(items, "shop", "cart", [REGULAR, REGULAR], paused=True)
    _deployment_with_pods(items, "shop", "pinned", [REGULAR] * 2, {"sidecar.istio.io/nativeSidecar": "false"})
    _deployment_with_pods(items, "shop", "restarted", [NATIVE] * 3)
    _deployment_with_pods(items, "shop", "no-mesh", [NONE] * 2, {"sidecar.istio.io/inject": "false"})
    # StatefulSets: OnDelete (a restart replaces nothing) and RollingUpdate
    for name, strategy in (("db", "OnDelete"), ("cache", "RollingUpdate")):
        labels = {"app": name}
        items.append({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta("data", name, labels),
                      "spec": {"replicas": 3, "serviceName": name, "selector": {"matchLabels": labels},
                               "updateStrategy": {"type": strategy}, "template": template(labels)}})
        items += [pod("data", f"{name}-{n}", REGULAR, labels, _owner("StatefulSet", name)) for n in range(3)]
    # DaemonSets: OnDelete and RollingUpdate
    for namespace, name, strategy in (("kube-system", "node-agent", "OnDelete"), ("logging", "fluent", "RollingUpdate")):
        labels = {"app": name}
        items.append({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta(namespace, name, labels),
                      "spec": {"selector": {"matchLabels": labels}, "updateStrategy": {"type": strategy},
                               "template": template(labels)},
                      "status": {"desiredNumberScheduled": 4, "numberReady": 4}})
        items += [pod(namespace, f"{name}-{n}", REGULAR, labels, _owner("DaemonSet", name)) for n in "wxyz"]
    # a CronJob's Jobs: one finished (its pod too), one running
    labels = {"app": "report"}
    items.append({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta("batch", "report", labels),
                  "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template(labels)}}}})
    for job, phase in (("report-29001", "Succeeded"), ("report-29002", "Running")):
        items.append({"apiVersion": "batch/v1", "kind": "Job",
                      "metadata": _meta("batch", job, labels, _owner("CronJob", "report", "batch/v1")),
                      "spec": {"template": template(labels)}})
        items.append(pod("batch", f"{job}-q7x", REGULAR, labels, _owner("Job", job, "batch/v1"), phase=phase))
    labels = {"app": "migrate"}
    items.append({"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta("batch", "migrate", labels),
                  "spec": {"template": template(labels)}})
    items.append(pod("batch", "migrate-k2p", REGULAR, labels, _owner("Job", "migrate", "batch/v1")))
    # bare pods, one injected, one not
    items.append(pod("legacy", "debug", REGULAR, {"app": "debug"}))
    items.append(pod("legacy", "plain", NONE, {"app": "plain"}))
    # Istio's gateway: istio-proxy is the pod's only container
    labels = {"app": "istio-ingressgateway"}
    items.append(deployment("istio-system", "istio-ingressgateway", labels,
                            {"inject.istio.io/templates": "gateway"}))
    items.append(replicaset("istio-system", "istio-ingressgateway-5c", labels, owner="istio-ingressgateway"))
    items += [pod("istio-system", f"istio-ingressgateway-5c-{n}", GATEWAY, labels,
                  _owner("ReplicaSet", "istio-ingressgateway-5c")) for n in "ab"]
    # an Argo Rollout
    labels = {"app": "canary"}
    items.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": _meta("shop", "canary", labels),
                  "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": template(labels)}})
    items.append(replicaset("shop", "canary-6b", labels, owner_kind="Rollout", owner="canary"))
    items += [pod("shop", f"canary-6b-{n}", REGULAR, labels, _owner("ReplicaSet", "canary-6b")) for n in "ab"]
    return items


def filler(scale: int) -> list[dict]:
    """Plain Deployments of 3 regular pods each (every fourth already restarted into native)."""
    items: list[dict] = []
    for number in range(100 * scale):
        namespace = FILLER_NAMESPACES[number % len(FILLER_NAMESPACES)]
        _deployment_with_pods(items, namespace, f"svc-{number:05d}", [NATIVE if number % 4 == 0 else REGULAR] * 3)
    return items


def cluster_dump(scale: int = 1) -> dict:
    """The dump as one `List`, pods first as kubectl prints them (its order is by resource type)."""
    items = named_workloads() + filler(scale)
    order = ("Pod", "ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Rollout")
    items.sort(key=lambda item: order.index(item["kind"]))  # stable: each kind keeps its order
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


if __name__ == "__main__":
    json.dump(cluster_dump(int(sys.argv[1]) if len(sys.argv) > 1 else 1), sys.stdout, indent=4)
    sys.stdout.write("\n")
