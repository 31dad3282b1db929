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
# pilot-agent's boolean variable (a proxyMetadata entry, or istio-proxy's env): on SIGTERM, the proxy
# drains until its active connections reach zero (istio/istio pilot/cmd/pilot-agent/options/options.go).
EXIT_ON_ZERO = "EXIT_ON_ZERO_ACTIVE_CONNECTIONS"
DEFAULT_STATUS_PORT = "15020"  # values.global.proxy.statusPort in Istio's chart
# What a Job's script calls to stop a regular istio-proxy by hand: pilot-agent's /quitquitquit endpoint.
MANUAL_LIFECYCLE_WORDS = ("/quitquitquit",)

# Kubernetes' SidecarContainers feature gate.
NATIVE_SIDECARS_ALPHA = (1, 28)  # the gate exists, off unless the cluster's operator turned it on
NATIVE_SIDECARS_ON = (1, 29)  # on by default
# Kubernetes' ContainerRestartRules feature gate (kube_features.go at v1.34.0 and v1.37.2): alpha and
# off in 1.34, which then drops restartPolicy outside initContainers (pkg/api/pod/util.go
# dropContainerRestartRules); on by default from 1.35, when a regular container may have one.
CONTAINER_RESTART_RULES_ON = (1, 35)

# Namespaces an admission policy leaves alone unless a rule names them: Kubernetes' own, and the
# mesh's control plane (Istio's charts: global.istioNamespace, manifests/charts/istio-control/
# istio-discovery/values.yaml).
SYSTEM_NAMESPACE = "kube-system"
MESH_NAMESPACE = "istio-system"
# The label the API server gives every namespace, its own name (k8s.io/kubernetes v1.37.2
# pkg/registry/core/namespace/strategy.go; k8s.io/api core/v1 well_known_labels.go LabelMetadataName).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

# MutatingAdmissionPolicy (KEP-3962), newest first: the first Kubernetes release that serves it in an
# API version, and what that release needs switched on. k8s.io/apiserver pkg/features/kube_features.go
# (v0.34.4 to v0.37.2): alpha 1.32, beta and off 1.34, GA and on 1.36. k8s.io/kubernetes
# pkg/registry/admissionregistration/rest/storage_apiserver.go serves mutatingadmissionpolicies in v1
# from v1.36.0 (v1.34.4 and v1.35.4: v1beta1 and v1alpha1 only), and pkg/controlplane/instance.go lists
# admissionregistration.k8s.io/v1beta1 among the beta versions disabled by default.
MUTATING_ADMISSION_POLICY_APIS = (
    ((1, 36), "admissionregistration.k8s.io/v1", ""),
    ((1, 34), "admissionregistration.k8s.io/v1beta1",
     "--feature-gates=MutatingAdmissionPolicy=true --runtime-config=admissionregistration.k8s.io/v1beta1=true"),
)


# Which form Istio injects into a pod that does not say (istio/istio at tags 1.23.0 to 1.27.0):
# ENABLE_NATIVE_SIDECARS defaulted to false up to 1.26 (pilot/pkg/features/experimental.go) and
# to `auto` from 1.27 (pilot/pkg/features/pilot.go); `auto` injects native only where the kubelet
# is 1.33 or later (pkg/kube/inject/webhook.go, DetectNativeSidecar); the compatibility profiles
# for 1.26 and older set it back to "false" (manifests/helm-profiles/compatibility-version-1.26.yaml).
NATIVE_DEFAULT_SINCE = (1, 27)
AUTO_NATIVE_KUBELET = (1, 33)

# How the injection template reads the annotation (injection-template.yaml, `$nativeSidecar`):
# from 1.27 any non-empty value but "false" means native and an empty one the default; in 1.24 to
# 1.26 only "true" meant native and any other value set meant regular; before 1.24 it was not read.
ANNOTATION_SINCE = (1, 24)
READS_ANY_BUT_FALSE, READS_ONLY_TRUE, READS_NOTHING = "any-but-false", "only-true", "nothing"


def default_form(istio_version: tuple[int, int], kube_version: tuple[int, int] | None) -> str:
    """The form a mesh of this Istio version injects by default (kubelet version unknown: 1.33+)."""
    if istio_version < NATIVE_DEFAULT_SINCE:
        return REGULAR
    return REGULAR if kube_version is not None and kube_version < AUTO_NATIVE_KUBELET else NATIVE


def annotation_reading(istio_version: tuple[int, int] | None) -> str:
    """How this Istio version reads the annotation (unknown: as today's does)."""
    if istio_version is None or istio_version >= NATIVE_DEFAULT_SINCE:
        return READS_ANY_BUT_FALSE
    return READS_ONLY_TRUE if istio_version >= ANNOTATION_SINCE else READS_NOTHING


def injected_form(value: str | None, mesh_default: str, reading: str = READS_ANY_BUT_FALSE) -> str:
    """The form Istio injects for a pod whose annotation is `value` (None: absent)."""
    if reading == READS_NOTHING or value is None:
        return mesh_default
    if reading == READS_ONLY_TRUE:
        return NATIVE if value == "true" else REGULAR
    if not value:
        return mesh_default
    return REGULAR if value == "false" else NATIVE


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
