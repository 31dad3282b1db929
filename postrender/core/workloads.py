"""Which kinds carry a pod template, and where: a table, so a new kind is a line of data."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from yaml.nodes import MappingNode, Node, SequenceNode

from postrender.core import yamlnodes


class TemplateKind(NamedTuple):
    """A kind whose objects hold a pod template at `template_path` (() = the object is the pod)."""

    kind: str
    groups: frozenset[str] | None  # API groups that define it; None = any group
    template_path: tuple[str, ...]

    def serves(self, api_version: str | None) -> bool:
        if self.groups is None or api_version is None:
            return True
        return api_group(api_version) in self.groups


def _kind(kind: str, groups: Iterable[str], path: str) -> TemplateKind:
    return TemplateKind(kind, frozenset(groups), tuple(path.split(".")) if path else ())


BUILTIN_KINDS: tuple[TemplateKind, ...] = (
    _kind("Pod", [""], ""),
    _kind("PodTemplate", [""], "template"),
    _kind("ReplicationController", [""], "spec.template"),
    _kind("Deployment", ["apps", "extensions"], "spec.template"),
    _kind("StatefulSet", ["apps"], "spec.template"),
    _kind("DaemonSet", ["apps", "extensions"], "spec.template"),
    _kind("ReplicaSet", ["apps", "extensions"], "spec.template"),
    _kind("Job", ["batch"], "spec.template"),
    _kind("CronJob", ["batch"], "spec.jobTemplate.spec.template"),
    _kind("Rollout", ["argoproj.io"], "spec.template"),  # Argo Rollouts
)

# (API group, kind) -> the field that, when it holds a mapping, makes the object borrow its pod
# template from another object. Argo Rollouts: a Rollout with spec.workloadRef takes the template of
# the Deployment it names, and its own must stay empty (no labels, no annotations: argoproj/argo-rollouts
# pkg/apis/rollouts/v1alpha1/types.go EmptyTemplate, rollout/templateref.go Resolve). Such an
# object is not a workload to edit, whatever its own spec.template holds.
BORROWED_TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("argoproj.io", "Rollout"): ("spec", "workloadRef"),
}


def api_group(api_version: str) -> str:
    """`apps/v1` -> `apps`; `v1` -> `` (the core group)."""
    return api_version.rpartition("/")[0]


def is_list_kind(kind: str) -> bool:
    return kind == "List" or kind.endswith("List")


class KindTable:
    """Looks kinds up by name, then by API group where two groups share a name."""

    def __init__(self, kinds: Iterable[TemplateKind]):
        self._by_name: dict[str, list[TemplateKind]] = {}
        for entry in kinds:
            # Entries from the policy come last and win over a built-in of the same group.
            self._by_name.setdefault(entry.kind, []).insert(0, entry)

    def names(self) -> frozenset[str]:
        return frozenset(self._by_name)

    def may_hold_workloads(self, kind: str) -> bool:
        return kind in self._by_name or is_list_kind(kind)

    def find(self, kind: str, api_version: str | None) -> TemplateKind | None:
        for entry in self._by_name.get(kind, ()):
            if entry.serves(api_version):
                return entry
        return None


def _borrows_template(root: MappingNode, kind: str, api_version: str | None) -> bool:
    """An object without apiVersion is taken by its kind, as the kind table takes it."""
    for (group, borrowing_kind), reference in BORROWED_TEMPLATES.items():
        if kind == borrowing_kind and (api_version is None or api_group(api_version) == group):
            return isinstance(yamlnodes.get(root, *reference), MappingNode)
    return False


class FoundWorkload(NamedTuple):
    """A workload object in a composed document, with its pod template node (None if it has none)."""

    node: MappingNode
    kind: str
    api_version: str | None
    template: MappingNode | None
    template_kind: TemplateKind


def find_workloads(root: Node | None, table: KindTable, list_kind: tuple[str, str | None] = ("", None)) -> Iterator[FoundWorkload]:
    """Workloads in a document: the document itself, or the items of a `kind: List` or typed list.

    An item with neither kind nor apiVersion is read as the list's own kind without `List` and its
    apiVersion (`list_kind`), as kubectl reads a typed list (k8s.io/apimachinery
    pkg/apis/meta/v1/unstructured/helpers.go decodeToList): `items` of a DeploymentList are Deployments.
    """
    if not isinstance(root, MappingNode):
        return
    kind = yamlnodes.scalar_text(yamlnodes.get(root, "kind"))
    api_version = yamlnodes.scalar_text(yamlnodes.get(root, "apiVersion"))
    if not kind and not api_version:
        kind, api_version = list_kind
    if not kind:
        return
    entry = table.find(kind, api_version)
    if entry is not None:
        template = yamlnodes.get(root, *entry.template_path) if entry.template_path else root
        if _borrows_template(root, kind, api_version):
            template = None
        yield FoundWorkload(root, kind, api_version, template if isinstance(template, MappingNode) else None, entry)
    elif is_list_kind(kind):
        items = yamlnodes.get(root, "items")
        if isinstance(items, SequenceNode):
            for item in items.value:
                yield from find_workloads(item, table, (kind.removesuffix("List"), api_version))
