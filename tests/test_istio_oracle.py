"""Istio's own injector is the oracle: converting its injection of one form gives its injection of the other.

For each tested Istio release and each mesh-wide setting, generated workloads (every pod-bearing
kind, `List`s, gateways, `sidecar.istio.io/inject: "false"` pods, odd names and values, per-pod
settings) are injected by the real injector in both forms; see support/istio_oracle.py. CI draws
a fixed seed; by hand each run draws a new one, named in a failure. fuzz/istio_oracle.py runs
larger batches.
"""

from __future__ import annotations

import os
import random

import pytest

from postrender.core.istio import ANNOTATION_VALUES
from tests.support.helpers import policy_of, post_render
from tests.support.istio_injector import (
    DROPS_INIT_CONTAINERS_WITHOUT_INTERCEPTION,
    INTERCEPT_NONE,
    VERSIONS,
    Injector,
    MeshSettings,
    injector,
)
from tests.support.istio_oracle import OTHER, SETTINGS, check_batch
from tests.support.istio_workloads import (
    WorkloadGenerator,
    as_stream,
    in_form,
    pod_templates,
)

# Per batch: 8 settings x 125 = 1,000 workloads per release and direction.
WORKLOADS = 125


@pytest.fixture(scope="session", params=VERSIONS)
def istio(request) -> Injector:
    return injector(request.param)


def seed() -> int:
    return 16 if os.environ.get("CI") else random.SystemRandom().randrange(2**32)


@pytest.mark.slow
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: s.name)
@pytest.mark.parametrize("target", ["native", "regular"])
def test_conversion_gives_istios_own_injection(istio: Injector, settings: MeshSettings, target: str, server_reader) -> None:
    """Read by Kubernetes' parser and, for the converted stream, by its API server (a server-side dry run)."""
    failure = check_batch(istio, settings, target, WORKLOADS, seed(), server_reader.refusals)
    assert failure is None, failure


POD_WITH_INIT_CONTAINER = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "no-interception"},
    "spec": {"initContainers": [{"name": "migrate", "image": "busybox"}], "containers": [{"name": "app", "image": "busybox"}]},
}


def test_a_conversion_keeps_the_init_containers_istio_1_24_drops(istio: Injector) -> None:
    """Without traffic interception Istio 1.24 loses a pod's own init containers in regular form; later releases keep them.

    A conversion targets the newest release's form: it never deletes a container of the pod.
    """
    settings = MeshSettings("intercept-none", (INTERCEPT_NONE,))
    native = istio.inject(as_stream(in_form([POD_WITH_INIT_CONTAINER], "native")), settings, "native")
    regular = istio.read(istio.inject(as_stream(in_form([POD_WITH_INIT_CONTAINER], "regular")), settings, "regular"))[0]
    converted, _ = post_render(native, policy_of("  fallback: regular\n  convertInjected: true\n"))
    ours = istio.read(converted)[0]

    assert [c["name"] for c in ours["spec"]["initContainers"]] == ["migrate"]
    if istio.version in DROPS_INIT_CONTAINERS_WITHOUT_INTERCEPTION:
        assert "initContainers" not in regular["spec"]
        del ours["spec"]["initContainers"]
    assert ours == regular


@pytest.mark.parametrize("form", ["native", "regular"])
def test_gateways_and_pods_not_injected_are_never_restructured(istio: Injector, form: str) -> None:
    """As Istio injects them: a gateway (istio-proxy its only container) and an `inject: "false"` pod."""
    generator = WorkloadGenerator(0)
    not_injected = generator.workload("StatefulSet")  # not a CronJob: kube-inject reads its jobTemplate's metadata
    for template in pod_templates(not_injected):
        template["metadata"]["annotations"] = {"sidecar.istio.io/inject": "false"}
    injected = istio.inject(as_stream([generator.gateway(), not_injected]), SETTINGS[0], form)
    converted, _ = post_render(injected, policy_of(f"  fallback: {OTHER[form]}\n  convertInjected: true\n"))

    ours, theirs = istio.read(converted), istio.read(injected)
    assert "istio-proxy" in str(theirs[0]["spec"]["template"]["spec"]["containers"])
    for document in ours:
        for template in pod_templates(document):
            assert template["metadata"]["annotations"].pop("sidecar.istio.io/nativeSidecar") == ANNOTATION_VALUES[OTHER[form]]
    assert ours == theirs
