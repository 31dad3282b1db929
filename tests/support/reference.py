"""A plain reference of what post-rendering must do to parsed data: find the workloads, decide
with the generated rules' own meaning, and set or remove the annotation in Python.

It shares no code with the engine: its kind table, glob and selector semantics are written
here again from the issue's text and Kubernetes' documentation.
"""

from __future__ import annotations

import copy
from fnmatch import fnmatchcase

from tests.support.strategies import ANNOTATION, CUSTOM_KIND, WORKLOAD_KINDS

VALUES = {"native": "true", "regular": "false"}


def requirement_holds(labels: dict, key: str, operator: str, values: list[str]) -> bool:
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    if operator == "In":
        return key in labels and labels[key] in values
    return key not in labels or labels[key] not in values  # NotIn also matches a missing key


def rule_matches(meaning: dict, facts: dict) -> bool:
    if "kinds" in meaning and facts["kind"] not in meaning["kinds"]:
        return False
    for field, fact in (("names", "name"), ("namespaces", "namespace")):
        if field in meaning and not any(fnmatchcase(facts[fact], glob) for glob in meaning[field]):
            return False
    for field, fact in (("labels", "labels"), ("podLabels", "pod_labels")):
        if field in meaning and not all(requirement_holds(facts[fact], *req) for req in meaning[field]):
            return False
    return True


def decide(rules: list[dict], fallback: str, facts: dict) -> str:
    for rule in rules:
        if rule_matches(rule["_reference"], facts):
            return rule["sidecar"]
    return fallback


# API groups that define each kind (Kubernetes' API reference; extensions/v1beta1 is the old home).
GROUPS = {"Pod": {""}, "PodTemplate": {""}, "ReplicationController": {""}, "Deployment": {"apps", "extensions"},
          "DaemonSet": {"apps", "extensions"}, "ReplicaSet": {"apps", "extensions"}, "StatefulSet": {"apps"},
          "Job": {"batch"}, "CronJob": {"batch"}, "Rollout": {"argoproj.io"}, CUSTOM_KIND[0]: {CUSTOM_KIND[1].rpartition("/")[0]}}


def template_path(obj: dict, custom_kind: bool) -> tuple[str, ...] | None:
    """Where the kind keeps its pod template; an object without apiVersion is taken by its kind."""
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if kind not in WORKLOAD_KINDS and not (custom_kind and kind == CUSTOM_KIND[0]):
        return None
    if api_version is not None and str(api_version).rpartition("/")[0] not in GROUPS[kind]:
        return None
    return CUSTOM_KIND[2] if kind == CUSTOM_KIND[0] else WORKLOAD_KINDS[kind][1]


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def pod_template(obj: dict, custom_kind: bool, kind_of: dict | None = None) -> dict | None:
    """The object's pod template, None when it is no workload. `kind_of` gives kind and apiVersion
    when they are not the object's own (as Kubernetes' decoder reads a typed list's items)."""
    kind_of = kind_of or obj
    path = template_path(kind_of, custom_kind)
    if path is None:
        return None
    if kind_of["kind"] == "Rollout" and isinstance(_mapping(obj.get("spec")).get("workloadRef"), dict):
        return None  # it borrows the template of the workload it names, and its own must stay empty
    template = obj
    for step in path:
        template = _mapping(template).get(step)
    return template if isinstance(template, dict) else None


def workloads(obj, custom_kind: bool, list_kind: dict | None = None):
    """(object, its pod template) for the object, or for each item of a List.

    An item with neither kind nor apiVersion is read as the list's kind without `List`, with the
    list's apiVersion (k8s.io/apimachinery unstructured/helpers.go decodeToList; test_kubernetes_reads
    holds this to Kubernetes' own decoder); it is yielded as a copy that says so.
    """
    if not isinstance(obj, dict):
        return
    inferred = list_kind is not None and not obj.get("kind") and not obj.get("apiVersion")
    kind_of = {**obj, **list_kind} if inferred and list_kind is not None else obj
    if not isinstance(kind_of.get("kind"), str):
        return
    template = pod_template(obj, custom_kind, kind_of)
    if template is not None:
        yield kind_of, template
    elif template_path(kind_of, custom_kind) is None and kind_of["kind"].endswith("List") and isinstance(obj.get("items"), list):
        item_kind = {"kind": kind_of["kind"].removesuffix("List"), "apiVersion": kind_of.get("apiVersion")}
        for item in obj["items"]:
            yield from workloads(item, custom_kind, item_kind)


def facts_of(obj: dict, template: dict, namespace: str) -> dict:
    metadata = _mapping(obj.get("metadata"))
    return {
        "kind": obj["kind"],
        "api_version": obj.get("apiVersion"),
        "name": metadata.get("name") or "",
        "namespace": metadata.get("namespace") or namespace,
        "labels": _mapping(metadata.get("labels")),
        "pod_labels": _mapping(_mapping(template.get("metadata")).get("labels")),
    }


def apply_mode(template: dict, mode: str) -> None:
    if mode in VALUES:
        if not isinstance(template.get("metadata"), dict):
            template["metadata"] = {}
        metadata = template["metadata"]
        if not isinstance(metadata.get("annotations"), dict):
            metadata["annotations"] = {}
        metadata["annotations"][ANNOTATION] = VALUES[mode]
    elif mode == "default":
        metadata = _mapping(template.get("metadata"))
        annotations = _mapping(metadata.get("annotations"))
        if ANNOTATION in annotations:
            del annotations[ANNOTATION]
            if not annotations:  # the edit removes `annotations:` when it leaves it empty; `metadata:` stays
                del metadata["annotations"]


def normalise(data):
    """`metadata: {}` and an empty `metadata:` (null) say the same; compare them as one."""
    if isinstance(data, dict):
        return {key: {} if key == "metadata" and value is None else normalise(value) for key, value in data.items()}
    if isinstance(data, list):
        return [normalise(item) for item in data]
    return data


def expected(data, rules: list[dict], fallback: str, custom_kind: bool, namespace: str, read_by_kubernetes=None):
    """The data of a document after post-rendering, plus the facts and mode of each workload.

    `read_by_kubernetes` is the same document as Kubernetes' reader reads it: the labels are taken
    from there, as Kubernetes stores them (a plain `y` key is "true" to it, a string to PyYAML).
    """
    result = copy.deepcopy(data)  # keeps shared (aliased) objects shared, as the text does
    decisions = []
    kubernetes = list(workloads(read_by_kubernetes, custom_kind)) if read_by_kubernetes is not None else None
    for index, (obj, template) in enumerate(list(workloads(result, custom_kind))):
        facts = facts_of(obj, template, namespace)
        if kubernetes is not None:
            read = facts_of(*kubernetes[index], namespace)
            facts.update(labels=read["labels"], pod_labels=read["pod_labels"])
        mode = decide(rules, fallback, facts)
        decisions.append((facts, mode))
        apply_mode(template, mode)
    return result, decisions
