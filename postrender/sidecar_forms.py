"""Which form of istio-proxy a pod runs, and which one Istio would inject into a pod created now.

Facts from istio/istio (tags 1.26.0 and 1.27.0):
- ENABLE_NATIVE_SIDECARS defaulted to false up to 1.26 (pilot/pkg/features/experimental.go) and
  to `auto` from 1.27 (pilot/pkg/features/pilot.go; release note native-sidecar-default.yaml).
- `auto` injects native only when the kubelet is 1.33 or later (pkg/kube/inject/webhook.go,
  DetectNativeSidecar: every node, or the pod's node when it is already scheduled).
- The compatibility profiles for 1.26 and older set ENABLE_NATIVE_SIDECARS back to "false"
  (manifests/helm-profiles/compatibility-version-1.26.yaml, "1.27 behavioral changes").
- The injection template reads the pod's sidecar.istio.io/nativeSidecar annotation: from 1.27 any
  non-empty value but "false" means native, empty or absent means the mesh default; in 1.24 to
  1.26 only "true" meant native and any other value that was set meant regular; before 1.24 it
  was not read at all (manifests/charts/istio-control/istio-discovery/files/injection-template.yaml,
  `$nativeSidecar`, at tags 1.23.0, 1.24.0 and 1.27.0).
"""

from __future__ import annotations

import json
import re

from postrender import convert
from postrender.conversion import ANNOTATION
from postrender.errors import UsageError
from postrender.findings import Pod

NATIVE, REGULAR = convert.NATIVE, convert.REGULAR
NOT_INJECTED, GATEWAY = "none", "gateway"
NATIVE_DEFAULT_SINCE = (1, 27)  # Istio: ENABLE_NATIVE_SIDECARS=auto by default
ANNOTATION_SINCE = (1, 24)  # Istio reads sidecar.istio.io/nativeSidecar
# How the injection template reads the annotation.
CURRENT, ONLY_TRUE, IGNORED = "current", "only-true", "ignored"
AUTO_NATIVE_KUBELET = (1, 33)  # Istio's `auto`: kubelets at or above this get native
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$")


class MeshDefault:
    """What Istio injects into a pod without the annotation, and how it reads the annotation."""

    def __init__(self, form: str, reading: str = CURRENT):
        self.form = form  # native | regular
        self.reading = reading  # CURRENT (Istio 1.27+), ONLY_TRUE (1.24 to 1.26), IGNORED (before 1.24)

    def form_for(self, annotations: dict) -> str:
        """The form the injection template picks for a pod with these annotations."""
        value = Pod.text(annotations, ANNOTATION)
        if self.reading == IGNORED:
            return self.form
        if self.reading == ONLY_TRUE:
            if ANNOTATION not in annotations:
                return self.form
            return NATIVE if value == "true" else REGULAR
        if not value:
            return self.form
        return REGULAR if value == "false" else NATIVE


def parse_version(text: str, option: str) -> tuple[int, int]:
    match = _VERSION.match(text.strip())
    if not match:
        raise UsageError(f"{option} must look like 1.27 or 1.27.3, not {text!r}")
    return int(match.group(1)), int(match.group(2))


def mesh_default(form: str | None, istio_version: str | None, kube_version: tuple[int, int] | None) -> MeshDefault:
    """From --mesh-default, else from --istio-version (and --kube-version for Istio's `auto`)."""
    version = parse_version(istio_version, "--istio-version") if istio_version else None
    reading = CURRENT if version is None or version >= NATIVE_DEFAULT_SINCE else (
        ONLY_TRUE if version >= ANNOTATION_SINCE else IGNORED)
    if form is not None:
        return MeshDefault(form, reading)
    if version is None:
        raise UsageError("say what the mesh injects into pods without the annotation: --mesh-default "
                         "native|regular, or --istio-version X.Y to derive it")
    if version < NATIVE_DEFAULT_SINCE:
        return MeshDefault(REGULAR, reading)
    if kube_version is not None and kube_version < AUTO_NATIVE_KUBELET:
        return MeshDefault(REGULAR)  # `auto` keeps regular on kubelets before 1.33
    return MeshDefault(NATIVE)


def shape_problem(pod: dict) -> str:
    """What in a pod (or pod template) the form tests cannot read, or "": they read these fields as
    the API server types them, so a wrong type is bad input, not a pod without a sidecar."""
    metadata = pod.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
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
    status = _status_annotation((metadata.get("annotations") or {}).get(convert.STATUS_ANNOTATION))
    for key in ("containers", "initContainers"):
        if not isinstance(status.get(key) or [], list):
            return f"the {convert.STATUS_ANNOTATION} annotation's {key} is not a list"
    return ""


def _status_annotation(value) -> dict:
    if not isinstance(value, str):
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def running_form(pod: dict) -> str:
    """native | regular for a pod Istio injected; gateway; none when it has no injected sidecar."""
    view = Pod(pod)
    if view.is_gateway:
        return GATEWAY
    return convert.injected_form(pod) or NOT_INJECTED


def template_form(template: dict, default: MeshDefault) -> str:
    """The form of a pod created now from this template: native | regular, or none when Istio skips it."""
    view = Pod(template)
    if view.is_gateway:
        return GATEWAY
    if view.injection_off_by:
        return NOT_INJECTED
    return default.form_for(view.annotations)
