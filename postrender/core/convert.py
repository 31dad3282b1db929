"""Convert an already-injected istio-proxy between regular and native form, as Istio's injector would.

Works on plain data (dicts and lists as yaml.CSafeLoader builds them). The rules restate
istio/istio pkg/kube/inject (webhook.go: reorderPod, reapplyOverwrittenContainers,
getInjectionStatus) and the sidecar injection template
(manifests/charts/istio-control/istio-discovery/files/injection-template.yaml); the goldens in
shared/data/istio-golden are the oracle the tests hold this module to.
"""

from __future__ import annotations

from postrender.core.errors import InputError
from postrender.core.istio import (
    CORE_DUMP,
    DEFAULT_STATUS_PORT,
    INIT,
    INJECT_ANNOTATION,
    NATIVE,
    NATIVE_SIDECARS_ALPHA,
    OVERRIDES_ANNOTATION,
    PROXY,
    REGULAR,
    STATUS_ANNOTATION,
    STATUS_PORT_ANNOTATION,
    VALIDATION,
    hold_application,
    injection_status,
    native_sidecars_on,
    proxy_overrides,
)
from postrender.core.keyorder import set_key
from postrender.core.typed import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    Template = dict[str, Any]


def target_form(mode: str, mesh_default: str) -> str | None:
    """The form a decision asks for: `default` is the mesh's default; anything else keeps the pod."""
    if mode in (NATIVE, REGULAR):
        return mode
    if mode == "default":
        return mesh_default
    return None


def require_native_support(kube_version: tuple[int, int] | None) -> None:
    """Refuse a conversion to native for a cluster that cannot run native sidecars.

    1.28 is refused too: there SidecarContainers is an alpha gate, off unless the cluster's
    operator turned it on, and a pod written for it starves in `Init` on a cluster without it.
    Whoever runs 1.28 with the gate on says so by passing `--kube-version 1.29`.
    """
    if kube_version is None or native_sidecars_on(kube_version):
        return
    major, minor = kube_version
    gate = " (1.28 has them only behind the SidecarContainers feature gate, off by default)" if kube_version == NATIVE_SIDECARS_ALPHA else ""
    raise InputError(
        f"cannot convert istio-proxy to a native sidecar for Kubernetes {major}.{minor}: native sidecars "
        f"need Kubernetes 1.29 or later{gate}; decide `regular` for this cluster, or pass "
        f"--kube-version 1.29 if its control plane and kubelets enable SidecarContainers"
    )


def injected_form(template: Template, outer_metadata: dict | None = None) -> str | None:
    """`native` or `regular` when Istio injected this pod template's istio-proxy, else None.

    None for anything that is not an injected sidecar: no status annotation naming istio-proxy,
    `sidecar.istio.io/inject: "false"` (Istio's gateways), no application container left beside
    the proxy, or a proxy that is not where the status annotation says.
    """
    metadata = _istio_metadata(template, outer_metadata)
    spec = template.get("spec")
    if metadata is None or not isinstance(spec, dict):
        return None
    annotations = metadata.get("annotations") or {}
    if str(annotations.get(INJECT_ANNOTATION, "")).lower() == "false":
        return None
    status = injection_status(annotations)
    containers = _containers(spec, "containers")
    init_containers = _containers(spec, "initContainers")
    if status is None or containers is None or init_containers is None:
        return None
    if not any(c.get("name") != PROXY for c in containers):
        return None
    in_containers = _find(containers, PROXY)
    in_init = _find(init_containers, PROXY)
    if PROXY in (status.get("containers") or []) and in_containers is not None and in_init is None:
        return REGULAR
    if (
        PROXY in (status.get("initContainers") or [])
        and in_init is not None
        and in_containers is None
        and in_init.get("restartPolicy") == "Always"
    ):
        return NATIVE
    return None


def convert_template(
    template: Template, target: str, *, hold_application: bool, hold_always: bool = False, outer_metadata: dict | None = None
) -> bool:
    """Move an injected istio-proxy into `target` form in place; True when anything changed.

    `template` is a pod template (`{"metadata": ..., "spec": ...}`) or a Pod object.
    `outer_metadata` is where `istioctl kube-inject` put Istio's annotations for a CronJob
    (`spec.jobTemplate.metadata`). `hold_application` is the mesh-wide
    holdApplicationUntilProxyStarts; the pod's own `proxy.istio.io/config` wins over it, but not over
    `hold_always`, Istio's Helm value global.proxy.holdApplicationUntilProxyStarts, which the injector
    ORs in (pkg/kube/inject/webhook.go reorderPod; the injection template's $holdProxy).
    """
    if target not in (NATIVE, REGULAR):
        raise ValueError(f"unknown sidecar form {target!r}")
    current = injected_form(template, outer_metadata)
    if current is None or current == target:
        return False
    metadata = _istio_metadata(template, outer_metadata)
    assert metadata is not None  # injected_form found the status annotation there
    annotations = metadata["annotations"]
    spec = template["spec"]
    if target == NATIVE:
        _to_native(spec, annotations)
    else:
        _to_regular(spec, annotations, hold=hold_always or _holds_application(annotations, hold_application))
    return True


def _to_native(spec: dict, annotations: dict) -> None:
    containers = spec["containers"]
    proxy = containers.pop(_index(containers, PROXY))
    user_lifecycle = _user_lifecycle(annotations)
    drain = _drain_lifecycle(annotations)
    # Regular form had either no hook or the hold hook; native form drains instead (hold is ignored).
    _replace_lifecycle(proxy, sources=[None, _WAIT_LIFECYCLE], target=drain, user=user_lifecycle)
    set_key(proxy, "restartPolicy", "Always")
    init_containers = spec.get("initContainers") or []
    init_containers.append(proxy)
    # Native: {istio-init, istio-validation} -> istio-proxy -> enable-core-dump -> the user's.
    for name in (CORE_DUMP, PROXY, VALIDATION, INIT):
        init_containers = _move(init_containers, name, first=True)
    set_key(spec, "initContainers", init_containers, before="containers")
    _move_in_annotations(annotations, to_init=True)


def _to_regular(spec: dict, annotations: dict, *, hold: bool) -> None:
    init_containers = spec["initContainers"]
    proxy = init_containers.pop(_index(init_containers, PROXY))
    proxy.pop("restartPolicy", None)
    _replace_lifecycle(
        proxy,
        sources=[_drain_lifecycle(annotations)],
        target=_WAIT_LIFECYCLE if hold else None,
        user=_user_lifecycle(annotations),
    )
    # Proxy last so `kubectl exec` picks the application, first when the application waits for it.
    spec["containers"] = _move(spec["containers"] + [proxy], PROXY, first=hold)
    # Regular: istio-validation first, the user's, then istio-init last so it blackholes no init container.
    init_containers = _move(init_containers, VALIDATION, first=True)
    init_containers = _move(init_containers, INIT, first=False)
    init_containers = _move(init_containers, CORE_DUMP, first=False)
    if init_containers:
        spec["initContainers"] = init_containers
    else:
        del spec["initContainers"]  # Kubernetes omits an empty list, so did the injector
    _move_in_annotations(annotations, to_init=False)


_WAIT_LIFECYCLE = {"postStart": {"exec": {"command": ["pilot-agent", "wait"]}}}


def _drain_lifecycle(annotations: dict) -> dict:
    port = str(annotations.get(STATUS_PORT_ANNOTATION, DEFAULT_STATUS_PORT))
    command = ["pilot-agent", "request", f"--debug-port={port}", "POST", "drain"]
    return {"preStop": {"exec": {"command": command}}}


def _replace_lifecycle(proxy: dict, *, sources: list[dict | None], target: dict | None, user: dict | None) -> None:
    """Swap the template's hook for the target form's, under the user's own istio-proxy lifecycle.

    The injector strategic-merges the user's istio-proxy (kept in `proxy.istio.io/overrides`)
    over the template's. A lifecycle that is none of the expected merges came from elsewhere
    (values.global.proxy.lifecycle applies to both forms): it stays as it is.
    """
    current = proxy.get("lifecycle")
    if not any(current == _merge(source, user) for source in sources):
        return
    wanted = _merge(target, user)
    if wanted:
        set_key(proxy, "lifecycle", wanted)
    else:
        proxy.pop("lifecycle", None)


def _merge(base: Any, patch: Any) -> Any:
    """Strategic merge as it acts on a Lifecycle: maps merge key by key, null deletes, lists are replaced."""
    import copy  # here: every post-render run imports this module, few convert anything

    if patch is None:
        return copy.deepcopy(base)
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value)
    return merged


def _user_lifecycle(annotations: dict) -> dict | None:
    overrides = proxy_overrides(annotations) or {}
    for field in ("containers", "initContainers"):
        entry = _find(overrides.get(field) or [], PROXY)
        if entry is not None:
            return entry.get("lifecycle")
    return None


def _holds_application(annotations: dict, mesh_hold: bool) -> bool:
    """holdApplicationUntilProxyStarts as the injector sees it: the pod's ProxyConfig over the mesh's."""
    pod_hold = hold_application(annotations)
    return mesh_hold if pod_hold is None else pod_hold


def _move_in_annotations(annotations: dict, *, to_init: bool) -> None:
    """Move istio-proxy between the container lists of the status and overrides annotations."""
    source, dest = ("containers", "initContainers") if to_init else ("initContainers", "containers")
    status = injection_status(annotations)
    assert status is not None
    names = [n for n in status.get(source) or [] if n != PROXY]
    status[source] = names or None  # Go marshals an empty slice of names as null
    status[dest] = (status.get(dest) or []) + [PROXY]
    annotations[STATUS_ANNOTATION] = _go_json(status)

    overrides = proxy_overrides(annotations)
    if overrides is None or _find(overrides.get(source) or [], PROXY) is None:
        return
    entries = overrides[source]
    entry = entries.pop(_index(entries, PROXY))
    overrides[dest] = (overrides.get(dest) or []) + [entry]
    # Go's struct order, and omitempty for both lists.
    ordered = {field: overrides[field] for field in ("containers", "initContainers") if overrides.get(field)}
    ordered.update((k, v) for k, v in overrides.items() if k not in ("containers", "initContainers"))
    annotations[OVERRIDES_ANNOTATION] = _go_json(ordered)


def _go_json(value: Any) -> str:
    import json  # only here: most runs convert nothing, and json costs start-up 5 M instructions

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _istio_metadata(template: Template, outer_metadata: dict | None) -> dict | None:
    """The metadata that carries Istio's status annotation: the pod's, or kube-inject's CronJob spot."""
    for metadata in (template.get("metadata"), outer_metadata):
        if isinstance(metadata, dict) and isinstance(metadata.get("annotations"), dict):
            if STATUS_ANNOTATION in metadata["annotations"]:
                return metadata
    return None


def _containers(spec: dict, field: str) -> list[dict] | None:
    """The list at `field` (an absent list is empty); None when it is not a list of containers."""
    value = spec.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        return None
    return value


def _find(containers: list, name: str) -> dict | None:
    return next((c for c in containers if isinstance(c, dict) and c.get("name") == name), None)


def _index(containers: list, name: str) -> int:
    return next(i for i, c in enumerate(containers) if isinstance(c, dict) and c.get("name") == name)


def _move(containers: list[dict], name: str, *, first: bool) -> list[dict]:
    """The container called `name` moved to the front or the back; the others keep their order."""
    match = [c for c in containers if c.get("name") == name]
    if not match:
        return containers
    rest = [c for c in containers if c.get("name") != name]
    return match[-1:] + rest if first else rest + match[-1:]
