"""Which running pods run another istio-proxy form than a pod created now would: one Row per top-level workload.

Pods are grouped under the workload at the top of their owner chain (Pod → ReplicaSet → Deployment,
Pod → Job → JobSet, Pod → RayCluster → RayJob: owner_links.py). A pod created now comes from that
workload's live template (or, with a policy, from the object as the engine leaves it); where the
workload has several, from the place that names the pod (pod_places.py). A pod whose owners are not
in the dump is judged by the nearest template that is, and a bare pod by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from postrender.core.errors import InputError, Location
from postrender.core.meshes import ISTIO, MESHES, Mesh
from postrender.core.workloads import KindTable
from postrender.pods import operator_restarts, owner_links, pod_places, restart_commands, sidecar_forms
from postrender.pods.clusterdump import DumpObject
from postrender.pods.owner_links import Key, key_of
from postrender.pods.sidecar_forms import (
    GATEWAY,
    NATIVE,
    NOT_INJECTED,
    REGULAR,
    MeshDefault,
)

INJECTED, APART = "injected", "apart"
MIXED = "mixed"  # pods of one workload in both forms, or (desired) whose places would make both
UNKNOWN = "unknown"  # the places that could have made a pod would make both forms (a kind whose pods do not say)
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
MAX_OWNER_DEPTH = 16  # Knative's chains are five deep; a cycle in the dump must not loop
_KUBERNETES_KINDS = frozenset({"Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"})
_KUBERNETES_GROUPS = frozenset({"", "apps", "batch", "extensions"})
Preview = Callable[[list[DumpObject]], "list[dict | None]"]
Admit = Callable[[DumpObject, dict], dict]  # a pod template as an admission policy leaves a pod made from it


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
    group: str = ""  # the workload's API group
    runnable: bool = False  # the command is a shell line (else a sentence)

    @property
    def apart(self) -> bool:
        return self.actual in (NOT_INJECTED, GATEWAY)

    @property
    def shown_kind(self) -> str:
        """`Job.batch.volcano.sh` where an operator's kind has the name of a Kubernetes one, as kubectl names it."""
        if self.kind in _KUBERNETES_KINDS and self.group not in _KUBERNETES_GROUPS:
            return f"{self.kind}.{self.group}"
        return self.kind


class _Group:
    """The running pods of one top-level workload, each with the object its new pods come from."""

    def __init__(self, top: DumpObject | None, location: Location):
        self.top = top
        self.location = location
        self.pods: list[_Pod] = []


class _Pod(NamedTuple):
    name: str
    form: str  # the running form
    holder: DumpObject  # the object whose template (place) a pod made now comes from
    view: pod_places.PodView  # what the pod says about its place
    deployments: tuple[str, ...]  # the Deployments (apps) it runs under, nearest first


class ClusterIndex:
    """The dump's objects by key, and the pods that still run."""

    def __init__(self, objects: Iterable[DumpObject]):
        self.owners: dict[Key, DumpObject] = {}
        self.pods: list[DumpObject] = []
        for obj in objects:
            if obj.kind == "Pod" and _is_running(obj):
                self.pods.append(obj)
            self.owners[key_of(obj)] = obj  # a pod owns others too: Spark's driver its executors
        # An ownerReference records the API version its owner had then: `extensions` for an old Deployment.
        self._by_name: dict[tuple[str, str, str], list[DumpObject]] = {}
        for (namespace, _, kind, name), obj in self.owners.items():
            self._by_name.setdefault((namespace, kind, name), []).append(obj)

    def get(self, key: Key) -> DumpObject | None:
        found = self.owners.get(key)
        if found is None:
            same = self._by_name.get((key[0], key[2], key[3]), [])
            found = same[0] if len(same) == 1 else None
        return found

    def owner_chain(self, pod: DumpObject) -> list[tuple[Key, DumpObject | None]]:
        """The owners above a pod, nearest first; the last may be absent from the dump."""
        chain: list[tuple[Key, DumpObject | None]] = []
        current: DumpObject | None = pod
        while current is not None and len(chain) < MAX_OWNER_DEPTH:
            owner = owner_links.controller_key(current)
            if owner is None or owner[2] == "Node":  # a static pod's mirror: the kubelet runs it alone
                break
            if any(seen == owner for seen, _ in chain):
                break
            current = self.get(owner)
            chain.append((owner, current))
        return chain


def _is_running(pod: DumpObject) -> bool:
    status = pod.data.get("status")
    phase = status.get("phase") if isinstance(status, dict) else None
    return not (isinstance(phase, str) and phase in FINISHED_PHASES) and not pod.metadata.get("deletionTimestamp")


def group_pods(index: ClusterIndex, kinds: KindTable, mesh: Mesh = MESHES[ISTIO]) -> dict[Key, _Group]:
    groups: dict[Key, _Group] = {}
    holders = _Holders(kinds, index)
    for pod in index.pods:
        chain = index.owner_chain(pod)
        top_key, top = chain[-1] if chain else (key_of(pod), pod)
        group = groups.get(top_key)
        if group is None:
            group = groups[top_key] = _Group(top, (top or pod).location)
        owners = [obj for _, obj in chain if obj is not None]
        view = pod_places.PodView.of(pod.data, chain[0][0][2] if chain else "", [obj.data for obj in owners])
        holder = next((found for obj in reversed(owners) if (found := holders.find(obj, view))), pod)
        deployments = tuple(key[3] for key, _ in chain if key[1:3] == ("apps", "Deployment"))
        group.pods.append(_Pod(pod.name, sidecar_forms.running_form(_checked_pod(pod), mesh), holder, view, deployments))
    return groups


def template_of(obj: DumpObject, kinds: KindTable) -> dict | None:
    """The pod template an object holds when its kind has one at a fixed place (the object itself for a
    Pod); None when it holds none, or several (pod_places finds a pod's own)."""
    entry = kinds.find(obj.kind, obj.data.get("apiVersion"))
    if entry is None or entry.template_path is None:
        return None
    data: Any = obj.data
    for key in entry.template_path:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else None


class _Holders:
    """The object whose template the pod's replacements come from: obj, when a place of it names the
    pod, or the Deployment an Argo Rollout's workloadRef names; None when there is none in the dump.
    Kept per object where the kind has one fixed template (the answer is the same for all its pods)."""

    def __init__(self, kinds: KindTable, index: ClusterIndex):
        self.kinds = kinds
        self.index = index
        self.fixed: dict[int, DumpObject | None] = {}

    def find(self, obj: DumpObject, view: pod_places.PodView) -> DumpObject | None:
        if id(obj) in self.fixed:
            return self.fixed[id(obj)]
        spec = obj.data.get("spec")
        reference = spec.get("workloadRef") if obj.kind == "Rollout" and isinstance(spec, dict) else None
        target: DumpObject | None = obj
        if isinstance(reference, dict):
            target = self.index.get((obj.namespace, "apps", str(reference.get("kind")), str(reference.get("name"))))
        entry = self.kinds.find(target.kind, target.data.get("apiVersion")) if target is not None else None
        if target is None or entry is None or entry.template_path is not None:
            found = target if target is not None and entry is not None and template_of(target, self.kinds) is not None else None
            self.fixed[id(obj)] = found
            return found
        return target if pod_places.desired_templates(target.data, entry, view) else None


def _checked_pod(pod: DumpObject) -> dict:
    """The pod's data, refused with its location where a field the forms read has the wrong type."""
    problem = sidecar_forms.shape_problem(pod.data)
    if problem:
        raise InputError(f"Pod {pod.namespace}/{pod.name}: {problem}", pod.location)
    return pod.data


def rows(index: ClusterIndex, kinds: KindTable, default: MeshDefault, preview: Preview | None = None,
         admit: Admit | None = None) -> list[Row]:
    """One Row per top-level workload with running pods, sorted by namespace, kind and name.

    A pod made now comes from its holder's place that names it; `preview` gives the holders as new pods
    would read them (the live objects by default; the policy's preview passes them as the engine leaves
    them); `admit`, what an admission policy makes of a pod from each template."""
    groups = groups_sorted(group_pods(index, kinds, default.mesh))
    injected = {key: [pod for pod in group.pods if pod.form in (NATIVE, REGULAR)] for key, group in groups}
    holders = list({id(pod.holder): pod.holder for key, _ in groups for pod in injected[key]}.values())
    previewed = preview(holders) if preview is not None else [holder.data for holder in holders]
    judge = _Judge(kinds, default, {id(holder): data for holder, data in zip(holders, previewed)}, admit)
    result = []
    for key, group in groups:
        namespace, api_group, kind, name = key
        pods = injected[key]
        if not pods:
            apart = GATEWAY if any(pod.form == GATEWAY for pod in group.pods) else NOT_INJECTED
            result.append(Row(namespace, kind, name, len(group.pods), apart, None, False, None, (), group.location,
                              api_group))
            continue
        desired = {pod.name: judge.desired(pod) for pod in pods}
        stale_pods = [pod for pod in pods if desired[pod.name] not in (pod.form, UNKNOWN)]
        stale = tuple(sorted(pod.name for pod in stale_pods))
        advice = None
        if stale:
            deployments = tuple(dict.fromkeys(name for pod in stale_pods for name in pod.deployments[-1:]))
            advice = operator_restarts.advice(_target(key, group.top, stale, deployments))
        result.append(Row(namespace, kind, name, len(pods), _one(pod.form for pod in pods), _one(desired.values()),
                          bool(stale), advice.text if advice else None, stale, group.location, api_group,
                          advice is not None and advice.runnable))
    return result


def _one(forms: Iterable[str]) -> str:
    distinct = set(forms)
    return distinct.pop() if len(distinct) == 1 else MIXED


class _Judge:
    """The form a pod made now gets, from its holder's place (computed once per holder where the kind
    has one fixed place)."""

    def __init__(self, kinds: KindTable, default: MeshDefault, data_of: dict[int, Any], admit: Admit | None):
        self.kinds = kinds
        self.default = default
        self.data_of = data_of
        self.admit = admit
        self.fixed: dict[int, str] = {}

    def desired(self, pod: _Pod) -> str:
        holder = pod.holder
        if id(holder) in self.fixed:
            return self.fixed[id(holder)]
        data = self.data_of.get(id(holder)) or holder.data
        entry = self.kinds.find(holder.kind, holder.data.get("apiVersion"))
        if entry is None or entry.template_path is not None:
            if id(holder) not in self.fixed:
                template = _fixed_template(data, entry.template_path or () if entry else ())
                self.fixed[id(holder)] = self._form(template, holder)
            return self.fixed[id(holder)]
        forms = {self._form(template, holder) for template in pod_places.desired_templates(data, entry, pod.view)}
        return forms.pop() if len(forms) == 1 else UNKNOWN

    def _form(self, template: dict, holder: DumpObject) -> str:
        checked = _checked_template(template, holder)
        return sidecar_forms.template_form(self.admit(holder, checked) if self.admit else checked, self.default)


def _fixed_template(data: Any, path: tuple[str, ...]) -> dict:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def groups_sorted(groups: dict[Key, _Group]) -> list[tuple[Key, _Group]]:
    return sorted(groups.items(), key=lambda item: (item[0][0], item[0][2], item[0][3], item[0][1]))


def _checked_template(template: dict, source: DumpObject) -> dict:
    problem = sidecar_forms.shape_problem(template)
    if problem:
        raise InputError(f"{source.kind} {source.namespace}/{source.name}: the pod template's {problem}",
                         source.location)
    return template


def _target(key: Key, top: DumpObject | None, stale: tuple[str, ...], deployments: tuple[str, ...]) -> restart_commands.Target:
    namespace, api_group, kind, name = key
    spec = top.data.get("spec") if top is not None else None
    spec = spec if isinstance(spec, dict) else {}
    strategy = spec.get("updateStrategy")
    status = top.data.get("status") if top is not None else None
    scheduled = status.get("desiredNumberScheduled") if isinstance(status, dict) else None
    static = kind == "Pod" and top is not None and ((owner_links.controller_key(top) or ("", "", ""))[2] == "Node")
    return restart_commands.Target(
        namespace, kind, name,
        static=static,
        on_delete=isinstance(strategy, dict) and strategy.get("type") == "OnDelete",
        paused=spec.get("paused") is True,
        stale_pods=stale,
        scheduled=scheduled if isinstance(scheduled, int) and not isinstance(scheduled, bool) else None,
        group=api_group,
        spec=spec,
        deployments=deployments,
    )
