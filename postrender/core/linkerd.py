"""What this tool knows about Linkerd, in one place: every other module reads it here.

Sources, in github.com/linkerd/linkerd2 at the release tags version-2.15 (commit f0d861ea9, edge-24.2.4)
to version-2.20 (eadc1acf7):
- pkg/k8s/labels.go: the annotation keys (ProxyEnableNativeSidecarAnnotation*), linkerd.io/inject,
  the proxy's container name;
- pkg/inject/inject.go ApplyAnnotationOverrides: which keys a release reads, in which order, each
  value read by Go's strconv.ParseBool (a value it cannot read is ignored);
- charts/linkerd-control-plane/values.yaml: proxy.nativeSidecar (the install-wide default), proxy.uid;
- charts/patch/templates/patch.json and charts/partials/templates/_proxy.tpl: a native linkerd-proxy is
  an init container with `restartPolicy: Always` right after linkerd-init (or the network validator);
  a regular one is a container (the first one while proxy.await is on, its default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

NATIVE, REGULAR = "native", "regular"

# The key each stage of the feature introduced (pkg/k8s/labels.go), newest first: where several are
# on a pod, a release reads the first of those it knows and ignores the rest (inject.go: `if … else if`,
# on the key's presence, so an unreadable value there still hides the others).
KEY = "config.linkerd.io/proxy-enable-native-sidecar"  # GA, linkerd2#15267: edge-26.5.2, version-2.20
BETA_KEY = "config.beta.linkerd.io/proxy-enable-native-sidecar"  # linkerd2#14587: edge-25.10.2, version-2.19
ALPHA_KEY = "config.alpha.linkerd.io/proxy-enable-native-sidecar"  # linkerd2#11465 (in edge-23.11.4, #11642)


class Version(NamedTuple):
    """A Linkerd release: a stable (X.Y[.Z]) or an edge (edge-YY.M.N) one; each line compares within itself."""

    edge: bool
    numbers: tuple[int, ...]

    def __str__(self) -> str:
        text = ".".join(map(str, self.numbers))
        return f"edge-{text}" if self.edge else text

    def at_least(self, since: tuple[tuple[int, ...], tuple[int, ...]]) -> bool:
        """Whether this release is at or after `since`: (stable release, edge release)."""
        return self.numbers >= since[1] if self.edge else self.numbers >= since[0]


# (key, (first stable release, first edge release) that reads it), in the order a release reads them.
KEYS_SINCE = (
    (KEY, ((2, 20), (26, 5, 2))),
    (BETA_KEY, ((2, 19), (25, 10, 2))),
    (ALPHA_KEY, ((2, 15), (23, 11, 4))),
)
KEYS = tuple(key for key, _ in KEYS_SINCE)
OLDEST = KEYS_SINCE[-1][1]
# proxy.nativeSidecar: false up to version-2.19, true from linkerd2#15267 (edge-26.5.2, version-2.20).
NATIVE_DEFAULT_SINCE = ((2, 20), (26, 5, 2))

# strconv.ParseBool: every spelling it reads; anything else is an error, and inject.go then keeps the default.
PARSE_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
              "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}

PROXY = "linkerd-proxy"  # ProxyContainerName
INIT = "linkerd-init"  # proxy-init's iptables init container (without the CNI plugin)
NETWORK_VALIDATOR = "linkerd-network-validator"  # its place with the CNI plugin
INJECTED_CONTAINERS = frozenset({PROXY, INIT, NETWORK_VALIDATOR})
PROXY_UID = 2102  # proxy.uid: linkerd-init's iptables let this UID's traffic bypass the proxy (--proxy-uid)
INJECT_ANNOTATION = "linkerd.io/inject"  # enabled | ingress | disabled (pod or namespace)
NAMESPACE = "linkerd"  # the control plane's namespace unless told otherwise (cli/cmd/root.go defaultLinkerdNamespace)
# A positive number of seconds (strconv.ParseUint) for a preStop sleep. With a native proxy, _proxy.tpl
# fails the injection up to version-2.19 ("proxy.nativeSidecar and waitBeforeExitSeconds cannot be used
# simultaneously"; the webhook's failurePolicy, Ignore by default, then admits the pod without a proxy)
# and ignores it from linkerd2#15267 (edge-26.5.2, version-2.20).
WAIT_BEFORE_EXIT_ANNOTATION = "config.alpha.linkerd.io/proxy-wait-before-exit-seconds"
WAIT_BEFORE_EXIT_IGNORED_SINCE = ((2, 20), (26, 5, 2))
EXCLUDE_OUTBOUND_ANNOTATIONS = ("config.linkerd.io/skip-outbound-ports", "config.linkerd.io/skip-subnets")
# What a Job's script runs to wait for, or to stop, a regular proxy: linkerd-await, or the admin
# port's /shutdown endpoint (proxy.enableShutdownEndpoint).
MANUAL_LIFECYCLE_WORDS = ("linkerd-await", "/shutdown")

_VERSION = re.compile(r"^(?:(edge)-(\d+)\.(\d+)\.(\d+)|(?:v|stable-|version-)?(\d+)\.(\d+)(?:\.\d+)?)$")


class VersionError(ValueError):
    pass


def parse_version(text: str) -> Version:
    """2.19, 2.19.3, stable-2.14.10, version-2.19 or edge-25.10.2; refused below the first that reads a key."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise VersionError(f"a Linkerd version looks like 2.19 or edge-25.10.2, not {text!r}")
    edge = match.group(1) is not None
    numbers = tuple(int(n) for n in (match.group(2, 3, 4) if edge else match.group(5, 6)))
    version = Version(edge, numbers)
    if not version.at_least(OLDEST):
        raise VersionError(f"Linkerd {version} reads no native-sidecar annotation: it came with edge-23.11.4 "
                           "(Linkerd 2.15); upgrade, or leave the version out")
    return version


def keys_read(version: Version | None) -> tuple[str, ...]:
    """The keys a release reads, first the one that wins; every key when the release is not known."""
    if version is None:
        return KEYS
    return tuple(key for key, since in KEYS_SINCE if version.at_least(since))


def default_form(version: Version | None) -> str:
    """proxy.nativeSidecar's default in this release's chart (not known: the newest release's)."""
    return NATIVE if version is None or version.at_least(NATIVE_DEFAULT_SINCE) else REGULAR


def injected_form(annotations: Mapping[Any, Any], default: str, version: Version | None = None) -> str:
    """The form this release injects into a pod with these annotations, `default` when they do not decide."""
    for key in keys_read(version):
        if key in annotations:
            value = PARSE_BOOL.get(_text(annotations[key]))
            return default if value is None else NATIVE if value else REGULAR
    return default


def wait_before_exit(annotations: Mapping[Any, Any]) -> int:
    """The pod's proxy-wait-before-exit-seconds as inject.go reads it (0: none, or unreadable)."""
    text = _text(annotations.get(WAIT_BEFORE_EXIT_ANNOTATION))
    return int(text) if text.isascii() and text.isdigit() else 0


def fails_native_with_wait(version: Version | None) -> bool:
    """Whether a native proxy with a preStop wait fails injection in this release (not known: it may)."""
    return version is None or not version.at_least(WAIT_BEFORE_EXIT_IGNORED_SINCE)


def injection_off_by(annotations: Mapping[Any, Any], spec: Mapping[Any, Any]) -> str:
    """Why Linkerd will not inject this pod, or "" (pkg/inject/report.go Injectable)."""
    if spec.get("hostNetwork") is True:
        return "hostNetwork: true"
    value = _text(annotations.get(INJECT_ANNOTATION))
    if value == "disabled":
        return f'the annotation {INJECT_ANNOTATION}: "disabled"'
    if value not in ("", "enabled", "ingress"):  # the webhook's isInjectAnnotationValid
        return f"the annotation {INJECT_ANNOTATION}: {value!r}, which is not enabled, ingress or disabled"
    return ""


def running_form(spec: Mapping[Any, Any]) -> str | None:
    """native | regular for a pod whose linkerd-proxy is where the injector puts that form; None without one."""
    for key, form in (("initContainers", NATIVE), ("containers", REGULAR)):
        containers = spec.get(key) or ()
        proxy = next((c for c in containers if isinstance(c, dict) and c.get("name") == PROXY), None)
        if proxy is not None and (form == REGULAR or proxy.get("restartPolicy") == "Always"):
            return form
    return None


def _text(value: object) -> str:
    """An annotation as Kubernetes reads it (an unquoted YAML boolean as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
