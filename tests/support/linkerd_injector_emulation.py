"""AN EMULATION of Linkerd's proxy injector, as far as where linkerd-proxy goes: no Linkerd code can run here.

Linkerd's injector is Go (github.com/linkerd/linkerd2: pkg/inject, controller/proxy-injector, and
cli/cmd/inject.go behind `linkerd inject --manual`), but the Go module proxy this project builds from
serves no release of that module that knows native sidecars: for the commit of every release tag,
`go list -m -json github.com/linkerd/linkerd2@v0.5.1-0.20260622225159-eadc1acf79ad` (version-2.20;
likewise 2.15 to 2.19, edge-23.11.4, and the v0.0.0- pseudo-version form) answers `403 Forbidden`,
"This module version is not available"; only pseudo-versions of 2020-2021 are served. No package
registry ships the linkerd CLI or its Helm charts. So this module restates the code and templates
that decide the form, written apart from postrender/core (it imports nothing of it), and the tests
hold the tool's output against it (tests/test_linkerd_injection.py).

What it follows, in linkerd/linkerd2 at each release's tag (commits in RELEASES):
- pkg/inject/inject.go ApplyAnnotationOverrides: the native-sidecar keys a release reads, as
  `if … else if` on their presence, each value through Go's strconv.ParseBool (src/strconv/atob.go);
  an error keeps proxy.nativeSidecar. proxy-await: "enabled" | "disabled"; proxy-wait-before-exit-seconds:
  strconv.ParseUint.
- charts/linkerd-control-plane/values.yaml: proxy.nativeSidecar (false up to 2.19, true in 2.20),
  proxy.await (true).
- pkg/inject/report.go Injectable and disabledByAnnotation (origin CLI): hostNetwork, a sidecar
  already there (pkg/healthcheck/sidecar.go HasExistingSidecars), linkerd.io/inject: disabled.
- charts/patch/templates/patch.json: linkerd-init (or linkerd-network-validator with the CNI plugin)
  goes to initContainers/0 when native, else it is appended; linkerd-proxy then goes to
  initContainers at the next index when native, to containers/0 with proxy.await, else appended.
- charts/partials/templates/_proxy.tpl: a native linkerd-proxy has `restartPolicy: Always`; up to
  version-2.19 a native proxy with waitBeforeExitSeconds fails the render ("cannot be used
  simultaneously").
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

GA = "config.linkerd.io/proxy-enable-native-sidecar"
BETA = "config.beta.linkerd.io/proxy-enable-native-sidecar"
ALPHA = "config.alpha.linkerd.io/proxy-enable-native-sidecar"
AWAIT = "config.linkerd.io/proxy-await"
WAIT_BEFORE_EXIT = "config.alpha.linkerd.io/proxy-wait-before-exit-seconds"
INJECT = "linkerd.io/inject"


class Release(NamedTuple):
    commit: str  # of the tag, in linkerd/linkerd2
    keys: tuple[str, ...]  # ApplyAnnotationOverrides' order
    native_default: bool  # values.yaml proxy.nativeSidecar
    native_wait_fails: bool  # _proxy.tpl's `fail` for nativeSidecar and waitBeforeExitSeconds


RELEASES = {
    "2.15": Release("f0d861ea9b92", (ALPHA,), False, True),
    "2.16": Release("332c4efa8ccb", (ALPHA,), False, True),
    "2.17": Release("43335fd90603", (ALPHA,), False, True),
    "2.18": Release("0fe0ad015ec1", (ALPHA,), False, True),
    "edge-25.10.1": Release("a19210aa5ff2", (ALPHA,), False, True),
    "edge-25.10.2": Release("291660dd5bfd", (BETA, ALPHA), False, True),  # linkerd2#14587
    "2.19": Release("0ebd74b02665", (BETA, ALPHA), False, True),
    "edge-26.5.1": Release("f37b69d2f655", (BETA, ALPHA), False, True),
    "edge-26.5.2": Release("3e3e78729233", (GA, BETA, ALPHA), True, False),  # linkerd2#15267
    "2.20": Release("eadc1acf79ad", (GA, BETA, ALPHA), True, False),
}
# Each line's releases in order, for "this release and every later one".
LINES = {
    "stable": ["2.15", "2.16", "2.17", "2.18", "2.19", "2.20"],
    "edge": ["edge-25.10.1", "edge-25.10.2", "edge-26.5.1", "edge-26.5.2"],
}

_PARSE_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
               "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


class InjectionFailed(Exception):
    """The injector's template failed for this pod (the webhook then admits it without a proxy)."""


def later(release: str) -> list[str]:
    """This release and every later one of its line."""
    line = LINES["edge" if release.startswith("edge-") else "stable"]
    return line[line.index(release):]


def native(annotations: dict[str, str], release: Release, default: bool | None = None) -> bool:
    """proxy.nativeSidecar after the pod's annotations."""
    value = release.native_default if default is None else default
    for key in release.keys:
        if key in annotations:
            parsed = _PARSE_BOOL.get(annotations[key])
            return value if parsed is None else parsed
    return value


def injectable(template: dict) -> bool:
    spec = template.get("spec") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    names = {c.get("name") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])}
    return (spec.get("hostNetwork") is not True and not names & {"linkerd-proxy", "istio-proxy", "linkerd-init", "istio-init"}
            and annotations.get(INJECT) != "disabled")


def inject(template: dict, release: Release, *, cni: bool = False, default: bool | None = None) -> dict:
    """The pod template as `linkerd inject --manual` leaves it (a copy; unchanged when not injectable)."""
    injected = copy.deepcopy(template)
    if not injectable(template):
        return injected
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    is_native = native(annotations, release, default)
    wait = annotations.get(WAIT_BEFORE_EXIT, "")
    if is_native and wait.isdigit() and int(wait) > 0 and release.native_wait_fails:
        raise InjectionFailed("proxy.nativeSidecar and waitBeforeExitSeconds cannot be used simultaneously")
    waits_for_proxy = {"enabled": True, "disabled": False}.get(annotations.get(AWAIT, ""), True)
    spec = injected.setdefault("spec", {})
    init_containers = spec.setdefault("initContainers", [])
    containers = spec.setdefault("containers", [])
    init: dict[str, Any] = {"name": "linkerd-network-validator" if cni else "linkerd-init"}
    proxy: dict[str, Any] = {"name": "linkerd-proxy"}
    if is_native:
        init_containers.insert(0, init)
        init_containers.insert(1, {**proxy, "restartPolicy": "Always"})
    else:
        init_containers.append(init)
        if waits_for_proxy:
            containers.insert(0, proxy)
        else:
            containers.append(proxy)
    return injected


def form(injected: dict) -> str:
    """native | regular by where linkerd-proxy is; none without one."""
    spec = injected.get("spec") or {}
    if any(c.get("name") == "linkerd-proxy" and c.get("restartPolicy") == "Always" for c in spec.get("initContainers") or []):
        return "native"
    if any(c.get("name") == "linkerd-proxy" for c in spec.get("containers") or []):
        return "regular"
    return "none"
