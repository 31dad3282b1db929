"""The engine's conversion stage: one document's data, changed where a decision moves istio-proxy.

Used only when the policy sets `convertInjected` and the document carries Istio's status
annotation. Every decision of the document is applied to its data (so a re-emitted document
keeps them all); the document is re-emitted only when a pod was actually restructured.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node

from postrender.core import convert
from postrender.core.errors import InputError, Location
from postrender.core.istio import NATIVE, STATUS_ANNOTATION
from postrender.core.meshes import ISTIO_SWITCH, AnnotationSwitch
from postrender.core.workloads import FoundWorkload


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

    def apply(self, found: FoundWorkload, mode: str, location: Location) -> dict[str, Any] | None:
        """Apply `mode` to the workload's template data; the template when its proxy was converted."""
        template: dict[str, Any] = self._objects[id(found.template)]
        apply_decision(template, mode, self.switch)
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

    def emit(self, body: str) -> str:
        from postrender.core import reemit

        return reemit.reemit(body, self.data)

    def _kube_inject_metadata(self, found: FoundWorkload) -> dict | None:
        """For a CronJob, `istioctl kube-inject` writes Istio's annotations on spec.jobTemplate.metadata."""
        path = found.template_kind.template_path
        if len(path) <= 2:
            return None
        holder: Any = self._objects[id(found.node)]
        for key in path[:-2]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        metadata = holder.get("metadata") if isinstance(holder, dict) else None
        return metadata if isinstance(metadata, dict) else None


def apply_decision(template: dict, mode: str, switch: AnnotationSwitch = ISTIO_SWITCH) -> None:
    """The same decision textedit writes into text, written into a template's data."""
    setting, removing = switch.setting(mode), switch.removing(mode)
    metadata = template.get("metadata")
    if not isinstance(metadata, dict):
        if not setting:
            return
        metadata = {}
        convert.set_key(template, "metadata", metadata, before="spec")
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict) and any(key in annotations for key in removing):
        for key in removing:
            annotations.pop(key, None)
        if not annotations and not setting:  # as textedit does: `annotations:` goes, `metadata:` stays
            del metadata["annotations"]
    if not setting:
        return
    if not isinstance(annotations, dict):
        annotations = {}
        convert.set_key(metadata, "annotations", annotations)
    for key, value in setting:
        convert.set_key(annotations, key, value)
