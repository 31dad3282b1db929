"""Deterministic rendered-manifest streams for the benchmark: Helm-style, mixed kinds, ~40% workloads.

Every stream is a prefix of the same sequence (one seeded generator, global counter in every name),
so the 1k stream is the first thousand documents of the 10k one and names never collide.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from pathlib import Path

SEED = 20261121

# Weights per 100 documents: 40 workloads, 60 of the rest (CRD-like documents are the large ones).
KIND_WEIGHTS: dict[str, int] = {
    "Deployment": 18, "StatefulSet": 5, "DaemonSet": 3, "Job": 5, "CronJob": 4, "Pod": 5,
    "Service": 16, "ConfigMap": 12, "ServiceAccount": 8, "Role": 4, "RoleBinding": 4,
    "ClusterRole": 3, "ClusterRoleBinding": 3, "Secret": 3, "PodDisruptionBudget": 3,
    "Ingress": 2, "CustomResourceDefinition": 2,
}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")

COMPONENTS = ("api", "web", "worker", "cache", "gateway", "auth", "search", "legacy-billing",
              "legacy-auth", "ledger", "mailer", "db-migrate", "scheduler", "exporter")
PARTS_OF = ("shop", "billing", "platform", "data")
TIERS = ("web", "api", "worker", "batch", "cache")
APPS_V1 = ("Deployment", "StatefulSet", "DaemonSet")


class Doc:
    """What every template of one document needs to know: its identity and a seeded RNG."""

    def __init__(self, rng: random.Random, index: int, kind: str):
        self.rng = rng
        self.kind = kind
        self.component = rng.choice(COMPONENTS)
        self.part_of = rng.choice(PARTS_OF)
        self.tier = rng.choice(TIERS)
        self.release = f"rel{index % 37}"
        self.chart = f"{self.part_of}-{self.component}"
        self.version = f"1.{index % 11}.{index % 7}"
        self.name = f"{self.component}-{index:06d}"
        self.namespace = rng.choice(("", "", "team-a", "team-b", "prod"))

    def header(self, api_version: str, template: str, annotations: list[str] | None = None) -> str:
        lines = [f"# Source: {self.chart}/templates/{template}.yaml", f"apiVersion: {api_version}",
                 f"kind: {self.kind}", "metadata:", f"  name: {self.name}"]
        if self.namespace:
            lines.append(f"  namespace: {self.namespace}")
        lines += ["  labels:", *indent(self.labels(full=True), 4)]
        if annotations:
            lines += ["  annotations:", *indent(annotations, 4)]
        return "\n".join(lines) + "\n"

    def labels(self, full: bool) -> list[str]:
        lines = [f"app.kubernetes.io/name: {self.component}", f"app.kubernetes.io/instance: {self.release}"]
        if full:
            lines = [f"helm.sh/chart: {self.chart}-{self.version}", *lines,
                     f'app.kubernetes.io/version: "{self.version}"', "app.kubernetes.io/managed-by: Helm",
                     f"app.kubernetes.io/part-of: {self.part_of}", f"tier: {self.tier}"]
        return lines


def indent(lines: list[str], width: int) -> list[str]:
    pad = " " * width
    return [pad + line if line else line for line in lines]


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def container(doc: Doc, name: str) -> list[str]:
    rng = doc.rng
    lines = [f"- name: {name}", f'  image: "registry.example.com/{doc.part_of}/{doc.component}:{doc.version}"',
             "  imagePullPolicy: IfNotPresent",
             f'  args: ["--port=8080", "--log-level={rng.choice(("info", "debug", "warn"))}"]',
             "  ports:", "    - name: http", "      containerPort: 8080", "      protocol: TCP", "  env:"]
    for number in range(rng.randint(3, 8)):
        lines += [f"    - name: {doc.component.upper().replace('-', '_')}_SETTING_{number}",
                  f'      value: "{rng.randint(0, 10**6)}"']
    lines += ["    - name: POD_NAMESPACE", "      valueFrom:", "        fieldRef:",
              "          fieldPath: metadata.namespace"]
    for probe in ("livenessProbe", "readinessProbe"):
        lines += [f"  {probe}:", "    httpGet:", "      path: /healthz", "      port: http",
                  f"    initialDelaySeconds: {rng.randint(1, 30)}", "    periodSeconds: 10"]
    lines += ["  resources:", "    limits:", f"      cpu: {rng.choice((250, 500, 1000))}m",
              f"      memory: {rng.choice((256, 512, 1024))}Mi", "    requests:", "      cpu: 100m",
              "      memory: 128Mi", "  securityContext:", "    allowPrivilegeEscalation: false",
              "    readOnlyRootFilesystem: true", "  volumeMounts:", "    - name: config",
              f"      mountPath: /etc/{doc.component}"]
    return lines


def pod_annotations(doc: Doc) -> list[str]:
    """Most charts annotate the pod template with a config checksum; a few already pin the sidecar mode."""
    roll = doc.rng.random()
    if roll >= 0.6:
        return []
    lines = [f"checksum/config: {checksum(doc.name)}"]
    if roll < 0.1:
        lines.append('sidecar.istio.io/nativeSidecar: "false"')
    return lines


def pod_spec(doc: Doc, restart_never: bool) -> list[str]:
    rng = doc.rng
    lines = ["spec:"]
    if restart_never:
        lines.append("  restartPolicy: Never")
    lines += [f"  serviceAccountName: {doc.name}", "  securityContext:", "    runAsNonRoot: true",
              "    fsGroup: 1000", "  containers:"]
    lines += indent(container(doc, doc.component), 4)
    if rng.random() < 0.2:
        lines += indent(container(doc, "metrics"), 4)
    lines += ["  volumes:", "    - name: config", "      configMap:", f"        name: {doc.name}-config"]
    return lines


def pod_template(doc: Doc, restart_never: bool) -> list[str]:
    """A pod template (`metadata:` + `spec:`), as a chart renders it."""
    lines = ["metadata:"]
    annotations = pod_annotations(doc)
    if annotations:
        lines += ["  annotations:", *indent(annotations, 4)]
    lines += ["  labels:", *indent(doc.labels(full=False), 4)]
    return lines + pod_spec(doc, restart_never)


def workload(doc: Doc) -> str:
    kind = doc.kind
    if kind == "Pod":
        # A bare pod: its own metadata carries the pod annotations.
        header = doc.header("v1", "pod", pod_annotations(doc))
        return header + "\n".join(pod_spec(doc, restart_never=True)) + "\n"
    if kind == "CronJob":
        body = ["spec:", f'  schedule: "{doc.rng.randint(0, 59)} * * * *"', "  concurrencyPolicy: Forbid",
                "  jobTemplate:", "    spec:", "      backoffLimit: 2", "      template:",
                *indent(pod_template(doc, restart_never=True), 8)]
        return doc.header("batch/v1", "cronjob") + "\n".join(body) + "\n"
    if kind == "Job":
        body = ["spec:", "  backoffLimit: 3", "  template:", *indent(pod_template(doc, restart_never=True), 4)]
        return doc.header("batch/v1", "job") + "\n".join(body) + "\n"
    body = ["spec:"]
    if kind != "DaemonSet":
        body.append(f"  replicas: {doc.rng.randint(1, 5)}")
    if kind == "StatefulSet":
        body.append(f"  serviceName: {doc.name}")
    body += ["  selector:", "    matchLabels:", *indent(doc.labels(full=False), 6), "  template:",
             *indent(pod_template(doc, restart_never=False), 4)]
    return doc.header("apps/v1", kind.lower()) + "\n".join(body) + "\n"


def service(doc: Doc) -> str:
    body = ["spec:", f"  type: {doc.rng.choice(('ClusterIP', 'ClusterIP', 'NodePort'))}", "  ports:",
            "    - port: 80", "      targetPort: http", "      protocol: TCP", "      name: http",
            "  selector:", *indent(doc.labels(full=False), 4)]
    return doc.header("v1", "service") + "\n".join(body) + "\n"


def config_map(doc: Doc) -> str:
    rng = doc.rng
    body = ["data:", f"  LOG_LEVEL: {rng.choice(('info', 'debug'))}", '  FEATURE_FLAGS: "a,b,c"', "  app.conf: |"]
    # An indented `---` inside a block scalar is content, not a document marker.
    for number in range(rng.randint(4, 20)):
        body.append(f"    option_{number} = {rng.randint(0, 999)}")
    body += ["    ---", "    [section]", "    enabled = true"]
    return doc.header("v1", "configmap") + "\n".join(body) + "\n"


def rbac(doc: Doc) -> str:
    kind = doc.kind
    if kind == "ServiceAccount":
        return doc.header("v1", "serviceaccount") + "automountServiceAccountToken: false\n"
    api = "rbac.authorization.k8s.io/v1"
    if kind.endswith("Binding"):
        role = kind.removesuffix("Binding")
        body = ["roleRef:", "  apiGroup: rbac.authorization.k8s.io", f"  kind: {role}", f"  name: {doc.name}",
                "subjects:", "  - kind: ServiceAccount", f"    name: {doc.name}", "    namespace: team-a"]
        return doc.header(api, kind.lower()) + "\n".join(body) + "\n"
    body = ["rules:"]
    for _ in range(doc.rng.randint(1, 4)):
        body += ["  - apiGroups:", '      - ""', "    resources:", "      - configmaps", "      - secrets",
                 "    verbs:", "      - get", "      - list", "      - watch"]
    return doc.header(api, kind.lower()) + "\n".join(body) + "\n"


def secret(doc: Doc) -> str:
    body = ["type: Opaque", "data:", f"  password: {checksum(doc.name)[:24]}=="]
    return doc.header("v1", "secret") + "\n".join(body) + "\n"


def pdb(doc: Doc) -> str:
    body = ["spec:", "  minAvailable: 1", "  selector:", "    matchLabels:", *indent(doc.labels(full=False), 6)]
    return doc.header("policy/v1", "pdb") + "\n".join(body) + "\n"


def ingress(doc: Doc) -> str:
    body = ["spec:", "  ingressClassName: nginx", "  rules:", f"    - host: {doc.name}.example.com", "      http:",
            "        paths:", "          - path: /", "            pathType: Prefix", "            backend:",
            "              service:", f"                name: {doc.name}", "                port:",
            "                  number: 80"]
    return doc.header("networking.k8s.io/v1", "ingress") + "\n".join(body) + "\n"


def schema_properties(rng: random.Random, depth: int, width: int) -> list[str]:
    lines = []
    for number in range(width):
        name = f"field{number}{rng.choice(('Name', 'Spec', 'Ref', 'Count', 'Policy'))}"
        lines += [f"{name}:", f"  description: {name} of the resource; see the operator docs for its meaning."]
        if depth and rng.random() < 0.45:
            lines += ["  type: object", "  properties:",
                      *indent(schema_properties(rng, depth - 1, rng.randint(2, 6)), 4)]
        else:
            lines.append(f"  type: {rng.choice(('string', 'integer', 'boolean'))}")
    return lines


def crd(doc: Doc) -> str:
    """A CRD-like document: a large nested openAPIV3Schema, the bulk of a real chart's bytes."""
    plural = f"{doc.component.replace('-', '')}{doc.name[-6:]}s"
    body = ["spec:", "  group: example.com", "  names:", f"    kind: Thing{doc.name[-6:]}", f"    plural: {plural}",
            "  scope: Namespaced", "  versions:", "    - name: v1", "      served: true", "      storage: true",
            "      schema:", "        openAPIV3Schema:", "          type: object", "          properties:",
            *indent(schema_properties(doc.rng, 3, doc.rng.randint(6, 14)), 12)]
    doc.name = f"{plural}.example.com"
    return doc.header("apiextensions.k8s.io/v1", "crd") + "\n".join(body) + "\n"


RENDERERS: dict[str, Callable[[Doc], str]] = {
    **{kind: workload for kind in WORKLOAD_KINDS},
    "Service": service, "ConfigMap": config_map, "Secret": secret, "PodDisruptionBudget": pdb,
    "Ingress": ingress, "CustomResourceDefinition": crd,
    **{kind: rbac for kind in ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")},
}


def documents(count: int, seed: int = SEED) -> Iterator[str]:
    rng = random.Random(seed)
    kinds = list(KIND_WEIGHTS)
    weights = list(KIND_WEIGHTS.values())
    for index in range(count):
        kind = rng.choices(kinds, weights)[0]
        yield RENDERERS[kind](Doc(rng, index, kind))


def write_stream(path: Path, count: int) -> None:
    """Write `count` documents, Helm-style (`---` then `# Source:`), unless the file is already there."""
    if path.exists():
        return
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="\n") as out:
        for text in documents(count):
            out.write("---\n")
            out.write(text)
    partial.rename(path)
