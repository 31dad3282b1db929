"""What this tool knows about Istio and Kubernetes, in one place: every other module reads it here.

Annotation names are Istio's (istio/api annotation/annotations.yaml; the inject label is also in
label/labels.yaml); container names and ports are those of the sidecar injection template
(istio/istio manifests/charts/istio-control/istio-discovery/files/injection-template.yaml);
the version gate is Kubernetes' SidecarContainers feature gate (kubernetes/kubernetes
pkg/features/kube_features.go: alpha and off in 1.28, beta and on from 1.29).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from postrender.core import yamlnodes

# The annotation this tool exists to set, and the value each decision writes.
ANNOTATION = "sidecar.istio.io/nativeSidecar"
NATIVE = "native"
REGULAR = "regular"
ANNOTATION_VALUES = {NATIVE: "true", REGULAR: "false"}

# Annotations the injector reads or writes.
STATUS_ANNOTATION = "sidecar.istio.io/status"  # written by the injector: what it injected, and where
OVERRIDES_ANNOTATION = "proxy.istio.io/overrides"  # the user's own istio-proxy fields, kept by the injector
PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config"  # a pod's ProxyConfig (YAML or JSON) over the mesh's
STATUS_PORT_ANNOTATION = "status.sidecar.istio.io/port"
INJECT_ANNOTATION = "sidecar.istio.io/inject"  # also a label, which wins over the annotation
TEMPLATES_ANNOTATION = "inject.istio.io/templates"  # `gateway` marks a gateway's pod
EXCLUDE_OUTBOUND_ANNOTATIONS = (
    "traffic.sidecar.istio.io/excludeOutboundPorts",
    "traffic.sidecar.istio.io/excludeOutboundIPRanges",
)

# Containers the injection template adds.
PROXY = "istio-proxy"
INIT = "istio-init"
VALIDATION = "istio-validation"
CORE_DUMP = "enable-core-dump"  # older injection templates add it as an init container
INJECTED_CONTAINERS = frozenset({PROXY, INIT, VALIDATION})
PROXY_UID = 1337  # istio-proxy's UID: iptables lets its traffic bypass the proxy
DEFAULT_STATUS_PORT = "15020"  # values.global.proxy.statusPort in Istio's chart

# Kubernetes' SidecarContainers feature gate.
NATIVE_SIDECARS_ALPHA = (1, 28)  # the gate exists, off unless the cluster's operator turned it on
NATIVE_SIDECARS_ON = (1, 29)  # on by default


def native_sidecars_on(kube_version: tuple[int, int] | None) -> bool:
    """Whether a cluster of this version runs native sidecars by default (unknown: assume so)."""
    return kube_version is None or kube_version >= NATIVE_SIDECARS_ON


def proxy_config(annotations: Mapping[Any, Any]) -> dict[Any, Any] | None:
    """The pod's own ProxyConfig from its annotation, read with the input guards; None if absent or unreadable.

    Istio rejects an unreadable one, so a caller treats it as absent.
    """
    raw = annotations.get(PROXY_CONFIG_ANNOTATION)
    if raw is None or raw == "":
        return None
    try:
        config = yamlnodes.load(str(raw))
    except yamlnodes.NodeError:
        return None
    return config if isinstance(config, dict) else None


def hold_application(annotations: Mapping[Any, Any]) -> bool | None:
    """The pod's holdApplicationUntilProxyStarts, or None when its ProxyConfig does not say."""
    config = proxy_config(annotations)
    value = None if config is None else config.get("holdApplicationUntilProxyStarts")
    return value if isinstance(value, bool) else None


def injection_status(annotations: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The injector's record of what it injected where (JSON); None if absent or unreadable."""
    return _json_object(annotations.get(STATUS_ANNOTATION))


def proxy_overrides(annotations: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The user's own istio-proxy fields the injector kept (JSON); None if absent or unreadable."""
    return _json_object(annotations.get(OVERRIDES_ANNOTATION))


def _json_object(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
