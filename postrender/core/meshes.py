"""The meshes a policy can drive, as rows of data: every front end reads a mesh's facts here.

A policy names its mesh (`spec.mesh`); the row says which pod annotation carries the decision, which
container the mesh injects, and the facts the checks read. The facts themselves, with their upstream
sources, are core/istio.py's and core/linkerd.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from postrender.core import istio, linkerd

ISTIO, LINKERD = "istio", "linkerd"
NAMES = (ISTIO, LINKERD)
VALUES = {istio.NATIVE: "true", istio.REGULAR: "false"}  # both meshes read "true" and "false"


class AnnotationSwitch(NamedTuple):
    """The annotations that carry a decision on a pod template.

    `native` and `regular` write their value under every key of `keys` and remove `others`; `default`
    removes both, so that the mesh's own default applies.
    """

    keys: tuple[str, ...]
    others: tuple[str, ...] = ()
    read: tuple[str, ...] = ()  # the keys the mesh reads, the first present deciding (empty: `keys`)

    @property
    def all_keys(self) -> tuple[str, ...]:
        return self.keys + self.others

    def setting(self, mode: str) -> tuple[tuple[str, str], ...]:
        """(key, value) pairs a mode writes; none for `default` and `keep`."""
        value = VALUES.get(mode)
        return () if value is None else tuple((key, value) for key in self.keys)

    def removing(self, mode: str) -> tuple[str, ...]:
        """Keys a mode removes (`keep` touches nothing)."""
        if mode == "keep":
            return ()
        return self.others if mode in VALUES else self.all_keys

    def written(self, annotations: Mapping[Any, Any]) -> str | None:
        """The value under the key the mesh reads on a pod, as Kubernetes reads it (None: absent)."""
        for key in self.read or self.keys:
            if key in annotations:
                value = annotations[key]
                return ("true" if value else "false") if isinstance(value, bool) else str(value)
        return None


ISTIO_SWITCH = AnnotationSwitch((istio.ANNOTATION,))


def linkerd_switch(version: linkerd.Version | None) -> AnnotationSwitch:
    """A known release: the key it reads first, and the other keys removed (newer releases read the
    older keys after their own, so that key keeps working after an upgrade); not known: every key, so that
    every release from 2.15 on reads the decision (a fleet of clusters on several releases)."""
    if version is None:
        return AnnotationSwitch(linkerd.KEYS)
    read = linkerd.keys_read(version)
    return AnnotationSwitch(read[:1], tuple(other for other in linkerd.KEYS if other != read[0]), read)


class Mesh(NamedTuple):
    """One mesh's facts, as the checks and `pods` read them."""

    name: str
    title: str  # for messages
    proxy: str  # the injected proxy container
    injected_containers: frozenset[str]
    proxy_uid: int  # traffic of this UID bypasses the proxy
    exclude_outbound_annotations: tuple[str, ...]
    manual_lifecycle_words: tuple[str, ...]  # in a command: waits for or stops a regular proxy by hand
    # (annotations, labels, spec) -> why the mesh will not inject the pod, or ""
    injection_off_by: Callable[[Mapping[Any, Any], Mapping[Any, Any], Mapping[Any, Any]], str]
    namespace: str  # where the mesh's control plane runs by default (an admission policy leaves it alone)


def _istio_off_by(annotations: Mapping[Any, Any], labels: Mapping[Any, Any], spec: Mapping[Any, Any]) -> str:
    """pkg/kube/inject/inject.go injectRequired: the label is Istio's newer API and wins over the annotation."""
    if spec.get("hostNetwork") is True:
        return "hostNetwork: true"
    holder, where = (labels, "label") if istio.INJECT_ANNOTATION in labels else (annotations, "annotation")
    value = holder.get(istio.INJECT_ANNOTATION)
    if (value is False) or str(value) == "false":
        return f'the {where} {istio.INJECT_ANNOTATION}: "false"'
    return ""


def _linkerd_off_by(annotations: Mapping[Any, Any], labels: Mapping[Any, Any], spec: Mapping[Any, Any]) -> str:
    return linkerd.injection_off_by(annotations, spec)


MESHES = {
    ISTIO: Mesh(ISTIO, "Istio", istio.PROXY, istio.INJECTED_CONTAINERS, istio.PROXY_UID, istio.EXCLUDE_OUTBOUND_ANNOTATIONS,
                istio.MANUAL_LIFECYCLE_WORDS, _istio_off_by, istio.MESH_NAMESPACE),
    LINKERD: Mesh(LINKERD, "Linkerd", linkerd.PROXY, linkerd.INJECTED_CONTAINERS, linkerd.PROXY_UID,
                  linkerd.EXCLUDE_OUTBOUND_ANNOTATIONS, linkerd.MANUAL_LIFECYCLE_WORDS, _linkerd_off_by, linkerd.NAMESPACE),
}
