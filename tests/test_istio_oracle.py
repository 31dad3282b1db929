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
from postrender.reports.findings import Review
from tests.support.helpers import policy_of, post_render
from tests.support.istio_injector import (
    DROPS_INIT_CONTAINERS_WITHOUT_INTERCEPTION,
    INTERCEPT_NONE,
    VERSIONS,
    Injector,
    MeshSettings,
    injector,
)
from tests.support.istio_oracle import OTHER, SETTINGS, check_batch, check_documents
from tests.support.istio_workloads import (
    CRONJOB_ANNOTATION_PLACES,
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


@pytest.mark.parametrize("target", ["native", "regular"])
def test_a_kube_injected_cronjob_says_one_form(istio: Injector, target: str) -> None:
    """kube-inject reads a CronJob's annotation on spec.jobTemplate.metadata and writes its status
    there: a conversion decides there (and on the pod template where one is), so the CronJob says
    one thing, is Istio's own `target` form, and stays byte for byte once in it (docs/conversion.md)."""
    generator = WorkloadGenerator(24)
    cronjobs = [generator.workload("CronJob") for _ in CRONJOB_ANNOTATION_PLACES]  # each place once, by name
    for template in (pod for cronjob in cronjobs for pod in pod_templates(cronjob)):
        (template["metadata"].get("annotations") or {}).pop("sidecar.istio.io/inject", None)  # every one injected
    for settings in SETTINGS[:2]:
        failure = check_documents(istio, settings, target, cronjobs, "CronJobs")
        assert failure is None, failure
    policy = policy_of(f"  fallback: {target}\n  convertInjected: true\n")
    converted, outcomes = post_render(istio.inject(as_stream(in_form(cronjobs, OTHER[target])), SETTINGS[0], OTHER[target]), policy)
    # The checks read the decision where it is written: a CronJob left regular is SP101, wherever it says so.
    review = Review(policy, None)
    assert [any(f.code == "SP101" for f in review.workload(outcome).findings) for outcome in outcomes] == [target == "regular"] * 3
    for cronjob in istio.read(converted):
        job_template = cronjob["spec"]["jobTemplate"]
        said = {(holder.get("metadata") or {}).get("annotations", {}).get("sidecar.istio.io/nativeSidecar")
                for holder in (job_template, job_template["spec"]["template"])} - {None}
        assert said == {ANNOTATION_VALUES[target]}


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
