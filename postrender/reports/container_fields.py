"""Native-sidecar field mistakes in a pod template that Kubernetes rejects or drops.

Each check restates a rule of k8s.io/kubernetes pkg/apis/core/validation/validation.go
(validateContainers, validateInitContainers, validateInitContainerRestartPolicy) or of the
API's types (pkg/apis/core/types.go: Container has no terminationGracePeriodSeconds; PodSpec
and Probe do), for the `--kube-version` given. Where the rule changed with a version and none
is given, the older rule is reported, saying from which version it no longer holds.
The checks take a findings.Context (any object with what `Checked` names: findings imports this
module for its registry, so this one does not import findings); they read its pod's containers,
never write them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from postrender.core import istio


class Containers(Protocol):
    @property
    def containers(self) -> list[dict]: ...
    @property
    def init_containers(self) -> list[dict]: ...


class Checked(Protocol):
    """What these checks read of a findings.Context."""

    @property
    def kube_version(self) -> tuple[int, int] | None: ...
    @property
    def pod(self) -> Containers: ...

# How versions treat these fields. SidecarContainers (istio.NATIVE_SIDECARS_*): 1.28 without the gate
# drops an init container's restartPolicy (pkg/api/pod/util.go dropDisabledFields at v1.29.0), and
# before 1.28 the field does not exist. ContainerRestartRules (istio.CONTAINER_RESTART_RULES_ON): before
# 1.34 validation refuses restartPolicy on a regular container and any but Always on an init container;
# 1.34 drops them instead (dropContainerRestartRules at v1.34.0); from 1.35 they are accepted.
CONTAINER_RESTART_POLICIES = ("Always", "OnFailure", "Never")
SIDECAR_ONLY_FIELDS = ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe")


def _name(container: dict) -> str:
    return repr(container.get("name"))


def _restart_rules_on(version: tuple[int, int] | None) -> bool:
    """Whether the cluster takes container restart rules (unknown version: it may not)."""
    return version is not None and version >= istio.CONTAINER_RESTART_RULES_ON


def _having(containers: list[dict], field: str) -> Iterator[dict]:
    return (container for container in containers if field in container)


def _is_sidecar(container: dict) -> bool:
    return container.get("restartPolicy") == "Always"


def container_restart_policy(ctx: Checked) -> Iterator[str]:
    """validateContainers: restartPolicy "may not be set for non-init containers" without the gate."""
    if _restart_rules_on(ctx.kube_version):
        return
    for container in _having(ctx.pod.containers, "restartPolicy"):
        yield (f"container {_name(container)} has restartPolicy, which Kubernetes before 1.35 rejects or drops "
               "outside initContainers (from 1.35 it only sets how that container restarts): for a sidecar, move "
               "it to initContainers with restartPolicy: Always; else remove the field")


def init_container_restart_policy(ctx: Checked) -> Iterator[str]:
    """validateInitContainerRestartPolicy: only Always without the gate; never a value outside the three."""
    for container in _having(ctx.pod.init_containers, "restartPolicy"):
        value = container.get("restartPolicy")
        if value == "Always":
            continue
        valid = value in CONTAINER_RESTART_POLICIES
        if valid and _restart_rules_on(ctx.kube_version):
            continue
        yield (f"init container {_name(container)} has restartPolicy: {value}, which Kubernetes "
               f"{'before 1.35 ' if valid else ''}rejects or drops (an init container takes Always, which makes it a "
               "sidecar, and from 1.35 OnFailure or Never): write Always for a sidecar; else remove the field, and "
               "the pod's restartPolicy applies")


def container_grace_period(ctx: Checked) -> Iterator[str]:
    """Container has no such field: strict field validation refuses the object, lax decoding drops it."""
    for where, containers in (("init container", ctx.pod.init_containers), ("container", ctx.pod.containers)):
        for container in _having(containers, "terminationGracePeriodSeconds"):
            yield (f"{where} {_name(container)} has terminationGracePeriodSeconds, which containers do not have "
                   "(strict validation rejects the manifest, lax drops the field): set it on the pod "
                   "(spec.terminationGracePeriodSeconds) or on a probe")


def init_container_sidecar_fields(ctx: Checked) -> Iterator[str]:
    """validateInitContainers: these "may not be set for init containers without restartPolicy=Always"."""
    for container in ctx.pod.init_containers:
        fields = [field for field in SIDECAR_ONLY_FIELDS if field in container]
        if fields and not _is_sidecar(container):
            yield (f"init container {_name(container)} has {' and '.join(fields)}, which Kubernetes accepts only "
                   "on a sidecar: add restartPolicy: Always if it is one, else remove "
                   f"{'it' if len(fields) == 1 else 'them'}")


def sidecar_before_1_29(ctx: Checked) -> Iterator[str]:
    version = ctx.kube_version
    if version is None or istio.native_sidecars_on(version):
        return
    for container in ctx.pod.init_containers:
        if not _is_sidecar(container):
            continue
        if version == istio.NATIVE_SIDECARS_ALPHA:
            why = "Kubernetes 1.28 drops it unless the SidecarContainers feature gate is on (off by default)"
            fix = "turn the gate on, or make it a regular container until 1.29"
        else:
            why = f"Kubernetes {version[0]}.{version[1]} has no such field (strict validation rejects it, lax drops it)"
            fix = "make it a regular container until 1.29"
        yield (f"init container {_name(container)} has restartPolicy: Always (a native sidecar), but {why}, and a "
               f"pod whose init container never exits never starts: {fix}")
