"""Resolve a policy against the chart rendered once (`--rendered FILE`): decisions and conversions.

A kustomize target cannot express every rule, so the engine decides each workload of the
rendered chart once and its outcomes become exact patches (patches.translate). An istio-proxy
that `istioctl kube-inject` already put into the manifests must also move between `containers`
and `initContainers` when `convertInjected` is on: edits of lists by position, which an RFC 6902
patch says exactly. Each converted object gets one, made by jsonpatch from the object as
rendered and as the engine wrote it; these patches come before all others, so that they apply to
the objects they were computed on.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import NamedTuple

import yaml

from postrender.core.engine import Options, Outcome, Summary, run
from postrender.core.errors import UsageError
from postrender.core.policy import Policy, Workload
from postrender.core.stream import read_documents
from postrender.core.workloads import api_group
from postrender.flux.patch_text import Patch, marked_json6902
from postrender.flux.patches import exact_target


class Rendered(NamedTuple):
    decisions: list[Outcome]
    converted: list[Patch]  # JSON6902 patches of the objects whose istio-proxy the engine moved
    summary: Summary


def resolve(policy: Policy, path: str, options: Options) -> Rendered:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    decisions: list[Outcome] = []
    sink = io.BytesIO()
    summary = run(policy, io.BytesIO(data), sink, options, on_outcome=decisions.append)
    converted = [outcome for outcome in decisions if outcome.converted is not None]
    if not converted:
        return Rendered(decisions, [], summary)
    keys = Counter(_key(outcome.workload) for outcome in decisions)
    for outcome in converted:
        workload = outcome.workload
        if keys[_key(workload)] > 1:
            raise UsageError(f"the rendered chart has two {workload.kind} objects named {workload.name}; a kustomize "
                             "target cannot tell them apart, so their istio-proxy cannot be converted by a patch")
    wanted = {outcome.workload.document for outcome in converted}
    before = _documents(data, wanted)
    after = _documents(sink.getvalue(), wanted)
    patches = []
    for outcome in converted:
        workload = outcome.workload
        old = _object(before[workload.document], workload)
        new = _object(after[workload.document], workload)
        patches.append(_json6902(old, new, workload, path))
    return Rendered(decisions, patches, summary)


def _key(workload: Workload) -> tuple[str, str, str]:
    """What an exact target selects on: API group, kind, name."""
    return api_group(workload.api_version or ""), workload.kind, workload.name


def _documents(data: bytes, wanted: set[int]) -> dict[int, object]:
    return {document.index: yaml.load(document.raw, Loader=yaml.CSafeLoader)
            for document in read_documents(io.BytesIO(data)) if document.index in wanted}


def _object(document: object, workload: Workload) -> dict:
    """The workload's object: the document itself, or its item in a `kind: List` (kustomize splits lists)."""
    if isinstance(document, dict) and document.get("kind") == workload.kind:
        if (document.get("metadata") or {}).get("name") == workload.name:
            return document
    for item in (document.get("items") if isinstance(document, dict) else None) or []:
        if isinstance(item, dict) and item.get("kind") == workload.kind and (item.get("metadata") or {}).get("name") == workload.name:
            return item
    raise UsageError(f"{workload.kind} {workload.name}: cannot find it again in the rendered stream")


def _json6902(old: dict, new: dict, workload: Workload, path: str) -> Patch:
    import jsonpatch

    operations = jsonpatch.make_patch(old, new).patch
    origin = f"istio-proxy of {workload.kind} {workload.name} converted as in {path}"
    return Patch(exact_target(workload.api_version, workload.kind, workload.name), marked_json6902(origin, operations), origin)
