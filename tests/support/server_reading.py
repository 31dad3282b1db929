"""The API server as the reader of record: every object of a stream created with `--dry-run=server`.

    reader = ServerReader(cluster, kube_yaml)     # the `server_reader` session fixture
    reader.refusals(stream)                        # "" when the API server accepts every object

The stream is read as kubectl reads a file (tests/harness/kubeyaml), and each object is sent to
the API server as a server-side dry-run create: decoded, defaulted, admitted (webhooks included:
a dry run calls those without side effects) and validated as it would be stored, and not stored.
That is `kubectl apply --dry-run=server`'s path for a new object, less two things that would test
the fixture instead of the output: the last-applied annotation client-side apply adds (too long
for Argo CD's 1.4 MB ApplicationSet CRD: annotations hold 256 KiB), and merging into an object the
cluster already has (Istio's own istio-sidecar-injector webhook is the fixture's). An object that
exists already is accepted when the server says AlreadyExists: it validates and admits before it
looks (k8s.io/apiserver pkg/registry/generic/registry/store.go, Store.create).

Two things a dry run cannot do for itself are done first, for real: the namespaces the stream
names are created (an object in a missing namespace is refused for that alone), and the
CustomResourceDefinitions it carries are installed when it holds resources of theirs, so those
are read against their own schemas. A custom resource whose definition is neither in the stream
nor in the cluster is reported by name: nothing is skipped. Objects accepted once are not sent
again (the same JSON is the same reading), so a corpus file's unchanged documents cost one pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from tests.support.cluster import Cluster
from tests.support.kubeyaml import KubeYAML

_ALREADY_EXISTS = re.compile(r"^Error from server \(AlreadyExists\): ")


def objects(documents: Iterable[Any]) -> list[dict]:
    """The objects of a stream's documents, the items of a List included (kubectl flattens them too)."""
    found: list[dict] = []
    for document in documents:
        if isinstance(document, dict) and str(document.get("kind", "")).endswith("List") and "items" in document:
            found += objects(document["items"] or [])
        elif isinstance(document, dict):
            found.append(document)
    return found


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def served_kinds(cluster: Cluster) -> set[tuple[str, str]]:
    """(group, Kind) of every resource the API server serves now."""
    served = set()
    for line in cluster.kubectl("api-resources", "-o", "wide", "--no-headers").stdout.decode().splitlines():
        fields = line.split()  # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND VERBS...
        at = next(index for index, field in enumerate(fields) if field in ("true", "false"))
        served.add((_group(fields[at - 1]), fields[at + 1]))
    return served


class ServerReader:
    def __init__(self, cluster: Cluster, kube_yaml: KubeYAML):
        self.cluster = cluster
        self.kube_yaml = kube_yaml
        self.accepted: set[str] = set()
        self.namespaces: set[str] = set()  # known to exist (namespaces are never deleted here)
        self.served: set[tuple[str, str]] = set()  # (group, Kind), asked again only when one is missing

    def prepare(self, stream_objects: list[dict]) -> list[str]:
        """Create the namespaces the objects name and install the CRDs their custom resources need;
        the kinds the server still does not serve, as group/Kind."""
        cluster = self.cluster
        wanted = {(item.get("metadata") or {}).get("namespace") for item in stream_objects} - {None, ""} - self.namespaces
        if wanted:
            self.namespaces |= {item["metadata"]["name"] for item in cluster.get("namespaces")["items"]}
            for name in sorted(wanted - self.namespaces):
                cluster.kubectl("create", "namespace", str(name))
            self.namespaces |= wanted
        kinds = {(_group(str(item.get("apiVersion", ""))), str(item.get("kind"))) for item in stream_objects}
        if kinds - self.served:
            self.served = served_kinds(cluster)
        crds = [item for item in stream_objects if item.get("kind") == "CustomResourceDefinition"
                and (item["spec"]["group"], item["spec"]["names"]["kind"]) in kinds - self.served]
        if crds:
            listing = {"apiVersion": "v1", "kind": "List", "items": crds}
            cluster.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(listing).encode())
            for crd in crds:
                cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd['metadata']['name']}")
            self.served = served_kinds(cluster)
        return sorted(f"{group}/{kind}" for group, kind in kinds - self.served)

    def refusals(self, stream: bytes) -> str:
        """"" when the API server accepts every object of `stream`, else what it said of the others."""
        new = {}
        for item in objects(self.kube_yaml.read_stream(stream)):
            key = json.dumps(item, sort_keys=True)
            if key not in self.accepted:
                new[key] = item
        if not new:
            return ""
        unserved = self.prepare(list(new.values()))
        if unserved:
            return f"no CustomResourceDefinition in the stream or the cluster for {', '.join(unserved)}"
        listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(new.values())}).encode()
        result = self.cluster.kubectl("create", "--dry-run=server", "-o", "name", "-f", "-", stdin=listing, check=False)
        said = result.stderr.decode(errors="replace")
        errors = [line for line in said.splitlines() if line.startswith(("Error", "error"))]
        if result.returncode != 0 and (not errors or not all(map(_ALREADY_EXISTS.match, errors))):
            return said[-6000:]
        self.accepted.update(new)
        return ""
