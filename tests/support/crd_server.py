"""The operators' own definitions on the local control plane, and which documents the API server accepts.

    install_operator_crds(cluster)        # every CRD of tests/support/upstream.py's releases, Established
    accepted(cluster, documents)          # the indexes of the documents a server-side dry run creates

Documents are sent as a stream, not a `List`: kubectl then sends each on its own and goes on after
a refusal. Each is renamed after its key first, so that what the server returns says which it
created; names decide nothing in these schemas, and a dry run stores nothing. kubectl's own
`--validate=strict` costs ~1.5 s per Argo Workflow on this machine (it checks each object against
the group's OpenAPI document client-side), so the server's field validation is left at Ignore, and
what it returns is compared with what was sent instead: a field the schema does not know is pruned
there, and the tests see it missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache

import yaml

from tests.support import upstream
from tests.support.cluster import Cluster

# Knative's Service owns a Configuration, which owns the Revisions: their CRDs beside the Service's.
KNATIVE_CHAIN = ("config/core/300-resources/configuration.yaml", "config/core/300-resources/revision.yaml")
BATCH = 200  # documents per kubectl call: each call stays well within the fixture's kubectl timeout


@cache
def operator_crds(projects: tuple[str, ...] = upstream.PROJECTS) -> tuple[dict, ...]:
    files = [path for project in projects for path in upstream.crd_files(project)]
    if "knative" in projects:
        knative = next(release for release in upstream.RELEASES if release.project == "knative")
        files += [upstream.folder(knative) / name for name in KNATIVE_CHAIN]
    return tuple(document for path in files for document in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader)
                 if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition")


def install_operator_crds(cluster: Cluster, projects: tuple[str, ...] = upstream.PROJECTS) -> None:
    """The projects' CRDs, created once per control plane (server-side apply would record managed
    fields of megabytes for Argo's full CRDs), then waited for until Established."""
    present = {item["metadata"]["name"] for item in cluster.get("crd")["items"]}
    missing = [crd for crd in operator_crds(projects) if crd["metadata"]["name"] not in present]
    if missing:
        stream = "".join("---\n" + json.dumps(crd) + "\n" for crd in missing).encode()
        cluster.kubectl("create", "-f", "-", stdin=stream)
    names = [f"crd/{crd['metadata']['name']}" for crd in operator_crds(projects)]
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=120s", *names)


def accepted(cluster: Cluster, documents: dict[int, dict]) -> dict[int, dict]:
    """The documents the API server creates in a server-side dry run (decoded, defaulted, admitted by
    the webhooks, validated against their schemas), by key, as the server returns them."""
    found: dict[int, dict] = {}
    keys = sorted(documents)
    for start in range(0, len(keys), BATCH):
        stream = []
        for index in keys[start:start + BATCH]:
            document = documents[index]
            renamed = {**document, "metadata": {**(document.get("metadata") or {}), "name": f"d{index}"}}
            renamed["metadata"].pop("generateName", None)
            stream.append("---\n" + json.dumps(renamed, ensure_ascii=False) + "\n")
        done = cluster.kubectl("create", "--dry-run=server", "--validate=false", "-o", "json", "-f", "-",
                               stdin="".join(stream).encode(), check=False)
        for created in _json_objects(done.stdout.decode()):
            found[int(created["metadata"]["name"][1:])] = created
    return found


def _json_objects(text: str) -> Iterator[dict]:
    """kubectl prints one JSON object after another."""
    decoder, position = json.JSONDecoder(), 0
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        created, position = decoder.raw_decode(text, position)
        yield created
