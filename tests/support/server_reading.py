"""The API server as the reader of record: a whole stream through `kubectl apply --dry-run=server`.

The server decodes, defaults, admits (webhooks included: a dry run calls those without side
effects) and validates every object as it would store it, and stores nothing. Two things a
dry run cannot do for itself are done first, for real:
- the namespaces the stream names are created (its own Namespace objects are only dry-run, and an
  object in a missing namespace is refused for that alone); objects without one go to `namespace`;
- the CustomResourceDefinitions it carries are installed when it holds resources of theirs, so
  those are read against their own schemas. A custom resource whose definition is neither in the
  stream nor in the cluster is reported as refused, by name: nothing is skipped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from tests.support.cluster import Cluster


def objects(documents: Iterable[Any]) -> list[dict]:
    """The objects of a stream's documents, the items of a List included."""
    found: list[dict] = []
    for document in documents:
        if isinstance(document, dict) and str(document.get("kind", "")).endswith("List") and "items" in document:
            found += objects(document["items"] or [])
        elif isinstance(document, dict):
            found.append(document)
    return found


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def prepare(cluster: Cluster, stream_objects: list[dict]) -> list[str]:
    """Create the namespaces the objects name and install the CRDs their custom resources need;
    the kinds the server still does not serve ("group/Kind")."""
    namespaces = {(item.get("metadata") or {}).get("namespace") for item in stream_objects} - {None, ""}
    existing = {item["metadata"]["name"] for item in cluster.get("namespaces")["items"]}
    for name in sorted(namespaces - existing):
        cluster.kubectl("create", "namespace", str(name))
    served = served_kinds(cluster)
    wanted = {(_group(str(item.get("apiVersion", ""))), str(item.get("kind"))) for item in stream_objects}
    missing = wanted - served
    crds = [item for item in stream_objects if item.get("kind") == "CustomResourceDefinition"
            and (item["spec"]["group"], item["spec"]["names"]["kind"]) in missing]
    if crds:
        # Server-side apply: a client-side apply would copy each CRD into an annotation, too long
        # for the largest (Argo CD's ApplicationSet CRD is 1.4 MB; annotations hold 256 KiB).
        listing = {"apiVersion": "v1", "kind": "List", "items": crds}
        cluster.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(listing).encode())
        for crd in crds:
            cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd['metadata']['name']}")
        served = served_kinds(cluster)
    return sorted(f"{group}/{kind}" for group, kind in wanted - served)


def served_kinds(cluster: Cluster) -> set[tuple[str, str]]:
    """(group, Kind) of every resource the API server serves now."""
    served = set()
    for line in cluster.kubectl("api-resources", "-o", "wide", "--no-headers").stdout.decode().splitlines():
        fields = line.split()
        # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND VERBS...: find NAMESPACED, the one true/false
        at = next(index for index, field in enumerate(fields) if field in ("true", "false"))
        served.add((_group(fields[at - 1]), fields[at + 1]))
    return served


def refusals(cluster: Cluster, stream: bytes, namespace: str) -> str:
    """"" when the API server accepts every object of `stream`, else what it (or kubectl) said."""
    documents = list(yaml.load_all(stream, Loader=yaml.CSafeLoader))
    unserved = prepare(cluster, objects(documents))
    if unserved:
        return f"no CustomResourceDefinition in the stream or the cluster for {', '.join(unserved)}"
    result = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-o", "name", "-f", "-", stdin=stream,
                             check=False)
    return "" if result.returncode == 0 else result.stderr.decode(errors="replace")[-6000:]
