"""Which form of the mesh's proxy a running pod has, and which one the mesh would inject into a pod created now.

The mesh facts (defaults by version, how the annotation is read) are core/istio.py's and
core/linkerd.py's; this module applies them to a pod or pod template of a cluster dump, and turns
the command line into a MeshDefault.
"""

from __future__ import annotations

import re

from postrender.core import convert, istio, linkerd
from postrender.core.errors import UsageError
from postrender.core.meshes import ISTIO, LINKERD, MESHES, Mesh
from postrender.reports.findings import Pod

NATIVE, REGULAR = istio.NATIVE, istio.REGULAR
NOT_INJECTED, GATEWAY = "none", "gateway"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$")


class MeshDefault:
    """What the mesh injects into a pod without the annotation, and how it reads the annotation."""

    def __init__(self, form: str, reading: str = istio.READS_ANY_BUT_FALSE, mesh: Mesh = MESHES[ISTIO],
                 linkerd_version: linkerd.Version | None = None):
        self.form = form  # native | regular
        self.reading = reading  # one of core.istio's READS_*
        self.mesh = mesh
        self.linkerd_version = linkerd_version

    def form_for(self, annotations: dict) -> str:
        """The form the injector picks for a pod with these annotations."""
        if self.mesh.name == LINKERD:
            return linkerd.injected_form(annotations, self.form, self.linkerd_version)
        value = Pod.text(annotations, istio.ANNOTATION) if istio.ANNOTATION in annotations else None
        return istio.injected_form(value, self.form, self.reading)


def parse_version(text: str, option: str) -> tuple[int, int]:
    match = _VERSION.match(text.strip())
    if not match:
        raise UsageError(f"{option} must look like 1.27 or 1.27.3, not {text!r}")
    return int(match.group(1)), int(match.group(2))


def mesh_default(form: str | None, istio_version: str | None, kube_version: tuple[int, int] | None,
                 mesh: str = ISTIO, linkerd_version: str | None = None) -> MeshDefault:
    """From --mesh-default, else from --istio-version (and --kube-version for Istio's `auto`) or --linkerd-version."""
    if mesh == LINKERD:
        return _linkerd_default(form, istio_version, linkerd_version)
    version = parse_version(istio_version, "--istio-version") if istio_version else None
    reading = istio.annotation_reading(version)
    if form is not None:
        return MeshDefault(form, reading)
    if version is None:
        raise UsageError("say what the mesh injects into pods without the annotation: --mesh-default "
                         "native|regular, or --istio-version X.Y to derive it")
    return MeshDefault(istio.default_form(version, kube_version), reading)


def _linkerd_default(form: str | None, istio_version: str | None, linkerd_version: str | None) -> MeshDefault:
    if istio_version:
        raise UsageError("--istio-version is Istio's: for Linkerd pass --linkerd-version")
    try:
        version = linkerd.parse_version(linkerd_version) if linkerd_version else None
    except linkerd.VersionError as error:
        raise UsageError(f"--linkerd-version: {error}") from None
    if form is None and version is None:
        raise UsageError("say what Linkerd injects into pods without the annotation: --mesh-default "
                         "native|regular, or --linkerd-version X.Y to derive it")
    return MeshDefault(form or linkerd.default_form(version), mesh=MESHES[LINKERD], linkerd_version=version)


def shape_problem(pod: dict) -> str:
    """What in a pod (or pod template) the form tests cannot read, or "": they read these fields as
    the API server types them, so a wrong type is bad input, not a pod without a sidecar."""
    metadata = pod.get("metadata") or {}
    if not isinstance(metadata, dict):
        return "metadata is not a mapping"
    for key in ("annotations", "labels"):
        if not isinstance(metadata.get(key) or {}, dict):
            return f"metadata.{key} is not a mapping"
    spec = pod.get("spec")
    if not isinstance(spec or {}, dict):
        return "spec is not a mapping"
    for key in ("containers", "initContainers"):
        containers = (spec or {}).get(key) or []
        if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
            return f"spec.{key} is not a list of containers"
        for container in containers:
            if not isinstance(container.get("args") or [], list):
                return f"spec.{key}: the args of {container.get('name')!r} are not a list"
    status = istio.injection_status(metadata.get("annotations") or {}) or {}
    for key in ("containers", "initContainers"):
        if not isinstance(status.get(key) or [], list):
            return f"the {istio.STATUS_ANNOTATION} annotation's {key} is not a list"
    return ""


def running_form(pod: dict, mesh: Mesh = MESHES[ISTIO]) -> str:
    """native | regular for a pod the mesh injected; gateway; none when it has no injected sidecar."""
    if mesh.name == LINKERD:
        return linkerd.running_form(pod.get("spec") or {}) or NOT_INJECTED
    if Pod(pod).is_gateway(mesh):
        return GATEWAY
    return convert.injected_form(pod) or NOT_INJECTED


def template_form(template: dict, default: MeshDefault) -> str:
    """The form of a pod created now from this template: native | regular, or none when the mesh skips it."""
    view = Pod(template)
    if view.is_gateway(default.mesh):
        return GATEWAY
    if view.injection_off_by(default.mesh):
        return NOT_INJECTED
    return default.form_for(view.annotations)
