"""Which running pods run another istio-proxy form than a pod created now would: one Row per top-level workload.

Pods are grouped under the workload at the top of their controller `ownerReferences` (Pod →
ReplicaSet → Deployment, Pod → Job → CronJob, ...). A pod created now comes from that workload's
live template (or, with a policy, from the template as the engine leaves it), so that template
gives the desired form; a pod whose owners are not in the dump is judged by the nearest template
that is, and a bare pod by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from postrender.core.errors import InputError, Location
from postrender.core.meshes import ISTIO, MESHES, Mesh
from postrender.core.workloads import KindTable
from postrender.pods import restart_commands, sidecar_forms
from postrender.pods.clusterdump import DumpObject
from postrender.pods.sidecar_forms import (
    GATEWAY,
    NATIVE,
    NOT_INJECTED,
    REGULAR,
    MeshDefault,
)

INJECTED, APART = "injected", "apart"
MIXED = "mixed"
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
MAX_OWNER_DEPTH = 16  # real chains are two deep; a cycle in the dump must not loop
Key = tuple[str, str, str]  # (namespace, kind, name)
Templates = Callable[[list[DumpObject]], "list[dict | None]"]


class Row(NamedTuple):
    namespace: str
    kind: str
    name: str
    pods: int
    actual: str  # native | regular | mixed, or none | gateway for the workloads reported apart
    desired: str | None  # native | regular | none (Istio would not inject a new pod); None when apart
    restart: bool
    command: str | None
    stale_pods: tuple[str, ...]
    location: Location

    @property
    def apart(self) -> bool:
        return self.actual in (NOT_INJECTED, GATEWAY)


class _Group:
    """The running pods of one top-level workload, and the object whose template new pods come from."""

    def __init__(self, top: DumpObject | None, template_source: DumpObject, location: Location):
        self.top = top
        self.template_source = template_source
        self.location = location
        self.pods: list[tuple[str, str]] = []  # (name, running form)


def controller_of(obj: DumpObject) -> tuple[str, str] | None:
    """(kind, name) of the owner reference with `controller: true`: the one Kubernetes follows."""
    references = obj.metadata.get("ownerReferences")
    if references is None:
        return None
    if not isinstance(references, list):
        raise InputError(f"{obj.kind} {obj.name}: metadata.ownerReferences is not a list", obj.location)
    for reference in references:
        if isinstance(reference, dict) and reference.get("controller") is True:
            return str(reference.get("kind") or ""), str(reference.get("name") or "")
    return None


class ClusterIndex:
    """The dump's workloads by key, and the pods that still run."""

    def __init__(self, objects: Iterable[DumpObject]):
        self.owners: dict[Key, DumpObject] = {}
        self.pods: list[DumpObject] = []
        for obj in objects:
            if obj.kind == "Pod":
                if _is_running(obj):
                    self.pods.append(obj)
            else:
                self.owners[(obj.namespace, obj.kind, obj.name)] = obj

    def owner_chain(self, pod: DumpObject) -> list[tuple[Key, DumpObject | None]]:
        """The controllers above a pod, nearest first; the last may be absent from the dump."""
        chain: list[tuple[Key, DumpObject | None]] = []
        current: DumpObject | None = pod
        while current is not None and len(chain) < MAX_OWNER_DEPTH:
            owner = controller_of(current)
            if owner is None or owner[0] == "Node":  # a static pod's mirror: the kubelet runs it alone
                break
            key = (pod.namespace, *owner)
            if any(seen == key for seen, _ in chain):
                break
            current = self.owners.get(key)
            chain.append((key, current))
        return chain


def _is_running(pod: DumpObject) -> bool:
    status = pod.data.get("status")
    phase = status.get("phase") if isinstance(status, dict) else None
    return not (isinstance(phase, str) and phase in FINISHED_PHASES) and not pod.metadata.get("deletionTimestamp")


def group_pods(index: ClusterIndex, kinds: KindTable, mesh: Mesh = MESHES[ISTIO]) -> dict[Key, _Group]:
    groups: dict[Key, _Group] = {}
    for pod in index.pods:
        chain = index.owner_chain(pod)
        top_key, top = chain[-1] if chain else ((pod.namespace, "Pod", pod.name), pod)
        group = groups.get(top_key)
        if group is None:
            holders = (_template_holder(obj, kinds, index) for _, obj in reversed(chain) if obj is not None)
            source = next((holder for holder in holders if holder is not None), pod)
            group = groups[top_key] = _Group(top, source, (top or pod).location)
        group.pods.append((pod.name, sidecar_forms.running_form(_checked_pod(pod), mesh)))
    return groups


def template_of(obj: DumpObject, kinds: KindTable) -> dict | None:
    """The pod template an object holds (the object itself for a Pod), None when it holds none."""
    entry = kinds.find(obj.kind, obj.data.get("apiVersion"))
    if entry is None or entry.template_path is None:  # kinds with several pod templates: not yet followed here
        return None
    data: Any = obj.data
    for key in entry.template_path:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else None


def _template_holder(obj: DumpObject, kinds: KindTable, index: ClusterIndex) -> DumpObject | None:
    """The object whose template obj's new pods come from: itself, or the Deployment an Argo Rollout's
    workloadRef names; None when there is none in the dump."""
    if template_of(obj, kinds) is not None:
        return obj
    spec = obj.data.get("spec")
    reference = spec.get("workloadRef") if obj.kind == "Rollout" and isinstance(spec, dict) else None
    if not isinstance(reference, dict):
        return None
    target = index.owners.get((obj.namespace, str(reference.get("kind")), str(reference.get("name"))))
    return target if target is not None and template_of(target, kinds) is not None else None


def _checked_pod(pod: DumpObject) -> dict:
    """The pod's data, refused with its location where a field the forms read has the wrong type."""
    problem = sidecar_forms.shape_problem(pod.data)
    if problem:
        raise InputError(f"Pod {pod.namespace}/{pod.name}: {problem}", pod.location)
    return pod.data


def rows(index: ClusterIndex, kinds: KindTable, default: MeshDefault, templates: Templates | None = None) -> list[Row]:
    """One Row per top-level workload with running pods, sorted by namespace, kind and name.

    `templates` gives the pod templates new pods would come from, for a list of template holders
    (the live ones by default; the policy's preview passes the engine's)."""
    groups = groups_sorted(group_pods(index, kinds, default.mesh))
    injected = {key: [(pod, form) for pod, form in group.pods if form in (NATIVE, REGULAR)] for key, group in groups}
    holders = [group.template_source for key, group in groups if injected[key]]
    found = (templates or (lambda objs: [template_of(obj, kinds) for obj in objs]))(holders)
    desired_of = {id(holder): template for holder, template in zip(holders, found)}
    result = []
    for key, group in groups:
        namespace, kind, name = key
        pods = injected[key]
        if not pods:
            apart = GATEWAY if any(form == GATEWAY for _, form in group.pods) else NOT_INJECTED
            result.append(Row(namespace, kind, name, len(group.pods), apart, None, False, None, (), group.location))
            continue
        source = group.template_source
        template = desired_of[id(source)] or template_of(source, kinds) or {}
        desired = sidecar_forms.template_form(_checked_template(template, source), default)
        stale = tuple(sorted(pod for pod, form in pods if form != desired))
        forms = {form for _, form in pods}
        actual = forms.pop() if len(forms) == 1 else MIXED
        command = restart_commands.command(_target(namespace, kind, name, group.top, stale)) if stale else None
        result.append(Row(namespace, kind, name, len(pods), actual, desired, bool(stale), command, stale,
                          group.location))
    return result


def groups_sorted(groups: dict[Key, _Group]) -> list[tuple[Key, _Group]]:
    return sorted(groups.items(), key=lambda item: item[0])


def _checked_template(template: dict, source: DumpObject) -> dict:
    problem = sidecar_forms.shape_problem(template)
    if problem:
        raise InputError(f"{source.kind} {source.namespace}/{source.name}: the pod template's {problem}",
                         source.location)
    return template


def _target(namespace: str, kind: str, name: str, top: DumpObject | None, stale: tuple[str, ...]) -> restart_commands.Target:
    spec = top.data.get("spec") if top is not None else None
    spec = spec if isinstance(spec, dict) else {}
    strategy = spec.get("updateStrategy")
    status = top.data.get("status") if top is not None else None
    scheduled = status.get("desiredNumberScheduled") if isinstance(status, dict) else None
    static = kind == "Pod" and top is not None and (controller_of(top) or ("",))[0] == "Node"
    return restart_commands.Target(
        namespace, kind, name,
        static=static,
        on_delete=isinstance(strategy, dict) and strategy.get("type") == "OnDelete",
        paused=spec.get("paused") is True,
        stale_pods=stale,
        scheduled=scheduled if isinstance(scheduled, int) and not isinstance(scheduled, bool) else None,
    )
