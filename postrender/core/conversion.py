"""The engine's conversion stage: one document's data, changed where a decision moves istio-proxy.

Used only when the policy sets `convertInjected` and the document carries Istio's status
annotation. Every decision of the document is applied to its data (so a re-emitted document
keeps them all); the document is re-emitted only when a pod was actually restructured.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node

from postrender.core import convert, yamlnodes
from postrender.core.errors import InputError, Location
from postrender.core.istio import ANNOTATION, ANNOTATION_VALUES, NATIVE, STATUS_ANNOTATION
from postrender.core.workloads import FoundWorkload


def may_convert(body: str) -> bool:
    """Cheap test before loading: only Istio-injected pods carry this annotation."""
    return STATUS_ANNOTATION in body


class DocumentConversion:
    def __init__(
        self, root: Node, *, mesh_default: str, hold_application: bool, kube_version: tuple[int, int] | None,
        hold_always: bool = False,
    ):
        from postrender.core import reemit  # only for documents that Istio injected: kept off start-up

        self.data, self._objects = reemit.construct(root)
        self.mesh_default = mesh_default
        self.hold_application = hold_application
        self.hold_always = hold_always
        self.kube_version = kube_version
        self.changed = False

    def decision_holders(self, found: FoundWorkload) -> list[MappingNode]:
        """Where the decision is written: the pod template. For a CronJob that `istioctl kube-inject`
        injected, wherever it already is (spec.jobTemplate.metadata, where kube-inject reads it and
        wrote its status, istio/istio pkg/kube/inject/inject.go IntoObject at 1.31.0; the pod
        template; or both, which then agree), else beside that status (docs/conversion.md)."""
        assert found.template is not None
        holder = kube_inject_holder(found)
        if holder is None:
            return [found.template]
        carrying = [node for node in (holder, found.template) if yamlnodes.get(node, "metadata", "annotations", ANNOTATION)]
        return carrying or [holder]

    def job_template(self, found: FoundWorkload) -> dict[str, Any] | None:
        """A kube-injected CronJob's spec.jobTemplate as data, with the decision written (else None)."""
        holder = kube_inject_holder(found)
        return None if holder is None else self._objects[id(holder)]

    def template(self, found: FoundWorkload) -> dict[str, Any]:
        """The workload's pod template as data, with what this stage wrote into it."""
        return self._objects[id(found.template)]  # type: ignore[no-any-return]

    def apply(self, found: FoundWorkload, mode: str, location: Location) -> dict[str, Any] | None:
        """Apply `mode` to the workload's decision holders' data; the template when its proxy was converted."""
        template: dict[str, Any] = self._objects[id(found.template)]
        for node in self.decision_holders(found):
            apply_decision(self._objects[id(node)], mode)
        target = convert.target_form(mode, self.mesh_default)
        job_template = self.job_template(found)
        outer = job_template.get("metadata") if job_template is not None else None
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

    def emit(self, body: str) -> str:
        from postrender.core import reemit

        return reemit.reemit(body, self.data)



def kube_inject_holder(found: FoundWorkload) -> MappingNode | None:
    """spec.jobTemplate of a CronJob whose Istio status annotation `istioctl kube-inject` wrote on
    spec.jobTemplate.metadata (not on the pod template, as the webhook does); None otherwise."""
    path = found.template_kind.template_path
    if len(path) <= 2 or found.template is None or _has_status(found.template):
        return None
    holder = yamlnodes.get(found.node, *path[:-2])
    return holder if isinstance(holder, MappingNode) and _has_status(holder) else None


def _has_status(node: Node) -> bool:
    annotations = yamlnodes.get(node, "metadata", "annotations")
    return isinstance(annotations, MappingNode) and yamlnodes.lookup(annotations, STATUS_ANNOTATION) is not None


def apply_decision(template: dict, mode: str) -> None:
    """The same decision textedit writes into text, written into a template's data."""
    if mode == "keep":
        return
    metadata = template.get("metadata")
    if not isinstance(metadata, dict):
        if mode not in ANNOTATION_VALUES:
            return
        metadata = {}
        convert.set_key(template, "metadata", metadata, before="spec")
    annotations = metadata.get("annotations")
    if mode not in ANNOTATION_VALUES:
        if isinstance(annotations, dict) and ANNOTATION in annotations:
            del annotations[ANNOTATION]
            if not annotations:  # as textedit does: `annotations:` goes, `metadata:` stays
                del metadata["annotations"]
        return
    if not isinstance(annotations, dict):
        annotations = {}
        convert.set_key(metadata, "annotations", annotations)
    convert.set_key(annotations, ANNOTATION, ANNOTATION_VALUES[mode])
