"""Resolve a policy against the chart rendered once (`--rendered FILE`): decisions, conversions, and
the objects whose pods take their metadata from several places or list items.

A kustomize target cannot express every rule, so the engine decides each workload of the
rendered chart once and its outcomes become exact patches (patches.translate). An istio-proxy
that `istioctl kube-inject` already put into the manifests must also move between `containers`
and `initContainers` when `convertInjected` is on: edits of lists by position, which an RFC 6902
patch says exactly. Each converted object gets one, made by jsonpatch from the object as
rendered and as the engine wrote it; these patches come before all others, so that they apply to
the objects they were computed on. Each object of a kind with several places or list items
(every_place.py) that the policy decides gets such a patch too, tests of its lists first.
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
from postrender.flux.every_place import membership_tests
from postrender.flux.patch_text import Patch, marked_json6902
from postrender.flux.patches import exact_target


class Rendered(NamedTuple):
    decisions: list[Outcome]
    converted: list[Patch]  # JSON6902 patches of the objects whose istio-proxy the engine moved
    summary: Summary
    placed: list[Patch] = []  # JSON6902 patches of the other objects with several places or list items


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
    converted_keys = {_key(outcome.workload) for outcome in converted}
    placed = _placed(policy, decisions, converted_keys)
    if not converted and not placed:
        return Rendered(decisions, [], summary)
    objects = _objects(decisions)
    for outcome in converted + placed:
        workload = outcome.workload
        if not workload.name:
            raise UsageError(f"the rendered chart has a {workload.kind} without metadata.name (generateName?); a "
                             "kustomize target selects objects by name, so it cannot be patched exactly")
        if objects[_key(workload)] > 1:
            raise UsageError(f"the rendered chart has two {workload.kind} objects named {workload.name}; a kustomize "
                             "target cannot tell them apart, so neither can be patched exactly")
    wanted = {outcome.workload.document for outcome in converted + placed}
    before = _documents(data, wanted)
    after = _documents(sink.getvalue(), wanted)
    patches: dict[str, list[Patch]] = {"converted": [], "placed": []}
    for which, outcomes in (("converted", converted), ("placed", placed)):
        for outcome in outcomes:
            workload = outcome.workload
            old = _object(before[workload.document], workload)
            new = _object(after[workload.document], workload)
            guards = membership_tests(old, _walked_paths(policy, workload)) if which == "placed" else []
            patches[which].append(_json6902(old, new, workload, path, guards))
    return Rendered(decisions, patches["converted"], summary, patches["placed"])


def _placed(policy: Policy, decisions: list[Outcome], converted: set[tuple[str, str, str]]) -> list[Outcome]:
    """One outcome per object of a kind with several places or list items that the policy decides
    (not keep) and that no conversion patch covers already."""
    chosen: dict[tuple[str, str, str], Outcome] = {}
    for outcome in decisions:
        workload = outcome.workload
        entry = policy.kinds.find(workload.kind, workload.api_version)
        if entry is None or entry.template_path is not None or outcome.mode == "keep" or _key(workload) in converted:
            continue
        chosen.setdefault(_key(workload), outcome)
    return list(chosen.values())


def _objects(decisions: list[Outcome]) -> Counter[tuple[str, str, str]]:
    """Objects per API group, kind and name: an object with several places has one outcome per place."""
    seen: dict[object, tuple[str, str, str]] = {}
    for outcome in decisions:
        workload = outcome.workload
        seen[(workload.document, _key(workload)) if workload.target else id(outcome)] = _key(workload)
    return Counter(seen.values())


def _walked_paths(policy: Policy, workload: Workload) -> list[tuple[str, ...]]:
    entry = policy.kinds.find(workload.kind, workload.api_version)
    targets = entry.targets if entry is not None else ()
    return [target.path for target in targets] + [path for target in targets for path in target.merged_with]


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


def _json6902(old: dict, new: dict, workload: Workload, path: str, guards: list[dict]) -> Patch:
    import jsonpatch

    operations = guards + jsonpatch.make_patch(old, new).patch
    if guards:
        origin = f"{workload.kind} {workload.name} as decided in {path} (its lists and mappings tested first)"
    else:
        origin = f"istio-proxy of {workload.kind} {workload.name} converted as in {path}"
    return Patch(exact_target(workload.api_version, workload.kind, workload.name), marked_json6902(origin, operations), origin)
