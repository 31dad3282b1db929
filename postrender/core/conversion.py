"""The engine's conversion stage: one document's data, changed where a decision moves istio-proxy.

Used only when the policy sets `convertInjected` and the document carries Istio's status
annotation. Every decision of the document is applied to its data (so a re-emitted document
keeps them all); the document is re-emitted only when a pod was actually restructured.
"""

from __future__ import annotations

from collections.abc import Sequence

from yaml.nodes import MappingNode, Node

from postrender.core import yamlnodes
from postrender.core.errors import InputError, Location
from postrender.core.istio import NATIVE, STATUS_ANNOTATION
from postrender.core.keyorder import set_key
from postrender.core.meshes import ISTIO_SWITCH, AnnotationSwitch
from postrender.core.typed import TYPE_CHECKING
from postrender.core.workloads import FoundWorkload

if TYPE_CHECKING:
    from typing import Any


def may_convert(body: str) -> bool:
    """Cheap test before loading: only Istio-injected pods carry this annotation."""
    return STATUS_ANNOTATION in body


class DocumentConversion:
    def __init__(
        self, root: Node, *, mesh_default: str, hold_application: bool, kube_version: tuple[int, int] | None,
        hold_always: bool = False, switch: AnnotationSwitch = ISTIO_SWITCH,
    ):
        from postrender.core import reemit  # only for documents that Istio injected: kept off start-up

        self.data, self._objects = reemit.construct(root)
        self.mesh_default = mesh_default
        self.hold_application = hold_application
        self.hold_always = hold_always
        self.kube_version = kube_version
        self.switch = switch
        self.changed = False

    def apply(self, found: FoundWorkload, places: Sequence[tuple[Node, tuple[str, ...]]], mode: str,
              location: Location) -> dict[str, Any] | None:
        """Apply `mode` to the data at the places the engine edits (the target first, then pod metadata
        merged into the same pods); the template when its proxy was converted."""
        from postrender.core import convert  # as reemit: only for documents that Istio injected

        for index, (owner, at) in enumerate(places):
            apply_decision(self._objects[id(owner)], mode, self.switch, at, only_where_said=index > 0)
        if found.template is None:
            return None  # pod metadata: no containers here to convert
        template: dict[str, Any] = self._objects[id(found.template)]
        target = convert.target_form(mode, self.mesh_default)
        outer = self._kube_inject_metadata(found)
        if target is None or convert.injected_form(template, outer) in (None, target):
            return None
        if target == NATIVE:
            try:
                convert.require_native_support(self.kube_version)
            except InputError as error:
                raise InputError(error.message, location) from None
        convert.convert_template(
            template, target, hold_application=self.hold_application, hold_always=self.hold_always, outer_metadata=outer
        )
        self.changed = True
        return template

    def template(self, found: FoundWorkload) -> dict[str, Any] | None:
        """The workload's pod template as data, with what this stage wrote into it (None: pod metadata)."""
        return None if found.template is None else self._objects[id(found.template)]

    def job_template(self, found: FoundWorkload) -> dict[str, Any] | None:
        """A kube-injected CronJob's spec.jobTemplate as data, with the decision written (else None)."""
        holder = kube_inject_holder(found)
        return None if holder is None else self._objects[id(holder)]

    def emit(self, body: str) -> str:
        from postrender.core import reemit

        return reemit.reemit(body, self.data)

    def _kube_inject_metadata(self, found: FoundWorkload) -> dict | None:
        """For a CronJob, `istioctl kube-inject` writes Istio's annotations on spec.jobTemplate.metadata."""
        path = found.steps
        if len(path) <= 2:
            return None
        holder: Any = self._objects[id(found.node)]
        for key in path[:-2]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        metadata = holder.get("metadata") if isinstance(holder, dict) else None
        return metadata if isinstance(metadata, dict) else None


def kube_inject_holder(found: FoundWorkload) -> MappingNode | None:
    """spec.jobTemplate of a CronJob whose Istio status `istioctl kube-inject` wrote on
    spec.jobTemplate.metadata, not on the pod template as the webhook does (istio/istio
    pkg/kube/inject/inject.go IntoObject, at 1.31.0: `metadata = &job.Spec.JobTemplate.ObjectMeta`),
    where it also reads the annotation that picks the form; None for anything else."""
    if found.kind != "CronJob" or found.template is None or len(found.steps) <= 2 or _has_status(found.template):
        return None
    holder = yamlnodes.get(found.node, *found.steps[:-2])
    return holder if isinstance(holder, MappingNode) and _has_status(holder) else None


def _has_status(node: Node) -> bool:
    annotations = yamlnodes.get(node, "metadata", "annotations")
    return isinstance(annotations, MappingNode) and yamlnodes.lookup(annotations, STATUS_ANNOTATION) is not None


def apply_decision(template: dict, mode: str, switch: AnnotationSwitch = ISTIO_SWITCH,
                   at: tuple[str, ...] = ("metadata", "annotations"), only_where_said: bool = False) -> None:
    """The same decision textedit writes into text, written into data: at a pod template's annotations,
    or at `at` below `template` (pod metadata, or a place not there yet). `only_where_said`: pod
    metadata merged into the same pods, changed only where it holds one of the switch's keys."""
    setting, removing = switch.setting(mode), switch.removing(mode)
    holder: dict = template
    annotations: Any = template
    for step in at[:-1]:
        holder = annotations
        annotations = holder.get(step)
        if not isinstance(annotations, dict):
            if not setting or only_where_said:
                return
            annotations = {}
            set_key(holder, step, annotations, before="spec" if step == "metadata" else None)
    holder, annotations = annotations, annotations.get(at[-1])
    said = isinstance(annotations, dict) and any(key in annotations for key in switch.all_keys)
    if only_where_said and not said:
        return
    if isinstance(annotations, dict) and any(key in annotations for key in removing):
        for key in removing:
            annotations.pop(key, None)
        if not annotations and not setting:  # as textedit does: `annotations:` goes, `metadata:` stays
            del holder[at[-1]]
    if not setting:
        return
    if not isinstance(annotations, dict):
        annotations = {}
        set_key(holder, at[-1], annotations)
    for key, value in setting:
        set_key(annotations, key, value)
