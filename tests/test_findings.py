"""Each finding: when it fires, and the near misses where it must not."""

from __future__ import annotations

import io
import textwrap

import pytest

from postrender.core.engine import Options, run
from postrender.core.errors import InputError
from postrender.core.policy import parse_policy
from postrender.reports.findings import ALL_CHECKS, SEVERITIES, Review

HEADER = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n"


def policy(spec: str):
    return parse_policy(HEADER + textwrap.indent(textwrap.dedent(spec), "  "), "policy.yaml")


def workload(kind: str = "Deployment", name: str = "app", namespace: str = "shop", *, annotations: dict | None = None,
             labels: dict | None = None, spec: str = "containers:\n- name: app\n  image: app:1\n") -> str:
    """A workload manifest with the given pod template metadata and pod spec (YAML text)."""
    import json

    path = {"CronJob": ["jobTemplate", "spec", "template"]}.get(kind, ["template"])
    api = {"Job": "batch/v1", "CronJob": "batch/v1"}.get(kind, "apps/v1")
    metadata = {"labels": {"app": name, **(labels or {})}, **({"annotations": annotations} if annotations else {})}
    indent = "  " * (len(path) + 2)
    lines = [f"apiVersion: {api}", f"kind: {kind}", "metadata:", f"  name: {name}", f"  namespace: {namespace}", "spec:"]
    for depth, key in enumerate(path):
        lines.append("  " * (depth + 1) + f"{key}:")
    lines.append(indent[:-2] + f"metadata: {json.dumps(metadata)}")
    lines.append(indent[:-2] + "spec:")
    lines += [indent + line for line in spec.splitlines()]
    return "\n".join(lines) + "\n"


def findings(manifests: str | list[str], spec: str, kube_version: tuple[int, int] | None = None):
    """(per-workload findings as (workload name, Finding), rule findings as (rule index, Finding))."""
    stream = "---\n".join([manifests] if isinstance(manifests, str) else manifests)
    the_policy = policy(spec)
    checker = Review(the_policy, kube_version)
    found: list = []
    run(the_policy, io.BytesIO(stream.encode()), io.BytesIO(), Options(kube_version=kube_version),
        on_outcome=lambda outcome: found.extend((outcome.workload.name, f) for f in checker.workload(outcome).findings))
    return found, [(rule.index, finding) for rule, finding in checker.rules()]


def review(manifests, spec, kube_version=None):
    """findings() with codes only."""
    found, rules = findings(manifests, spec, kube_version)
    return [(name, f.code) for name, f in found], [(index, f.code) for index, f in rules]


def codes(manifests, spec, kube_version=None) -> set[str]:
    found, rules = review(manifests, spec, kube_version)
    return {code for _, code in found} | {code for _, code in rules}


def test_registry_codes_are_unique_stable_strings_with_a_known_severity():
    assert len({check.code for check in ALL_CHECKS}) == len(ALL_CHECKS)
    assert len({check.slug for check in ALL_CHECKS}) == len(ALL_CHECKS)
    assert all(check.code.startswith("SP") and check.severity in SEVERITIES for check in ALL_CHECKS)


# --- SP101: Jobs and CronJobs must not end up regular ------------------------------------------


@pytest.mark.parametrize("kind", ["Job", "CronJob"])
def test_job_made_regular_by_a_rule_is_an_error(kind):
    assert "SP101" in codes(workload(kind), "rules:\n- sidecar: regular\n")


def test_job_left_to_a_regular_mesh_default_is_an_error():
    assert "SP101" in codes(workload("Job"), "meshDefault: regular\nfallback: default\n")
    assert "SP101" in codes(workload("Job"), "meshDefault: regular\nfallback: keep\n")


def test_job_kept_with_its_own_regular_annotation_is_an_error():
    job = workload("Job", annotations={"sidecar.istio.io/nativeSidecar": "false"})
    assert "SP101" in codes(job, "fallback: keep\n")


@pytest.mark.parametrize("spec", [
    "rules:\n- sidecar: native\n",
    "meshDefault: native\nfallback: default\n",
    "meshDefault: regular\nrules:\n- sidecar: native\n",
])
def test_job_that_ends_up_native_is_fine(spec):
    assert "SP101" not in codes(workload("Job"), spec)


def test_job_without_injection_is_fine():
    job = workload("Job", labels={"sidecar.istio.io/inject": "false"})
    assert "SP101" not in codes(job, "rules:\n- sidecar: regular\n")


def test_deployment_made_regular_is_fine():
    assert "SP101" not in codes(workload("Deployment"), "rules:\n- sidecar: regular\n")


# --- SP102: native before Kubernetes 1.29 ------------------------------------------------------


@pytest.mark.parametrize("version, fires", [((1, 27), True), ((1, 28), True), ((1, 29), False), ((1, 33), False), (None, False)])
def test_native_needs_kubernetes_1_29(version, fires):
    assert ("SP102" in codes(workload(), "rules:\n- sidecar: native\n", version)) is fires


def test_native_on_1_28_names_the_feature_gate():
    (name_finding,), _ = findings(workload(), "rules:\n- sidecar: native\n", (1, 28))
    assert "SidecarContainers feature gate" in name_finding[1].message


def test_a_native_mesh_default_on_an_old_cluster_is_not_a_choice_made_here():
    assert "SP102" not in codes(workload(), "meshDefault: native\nfallback: default\n", (1, 27))


# --- SP201-SP204: workarounds native sidecars replace -------------------------------------------

WORKAROUNDS = workload(
    annotations={
        "traffic.sidecar.istio.io/excludeOutboundPorts": "5432",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/8",
        "proxy.istio.io/config": "holdApplicationUntilProxyStarts: true\n",
    },
    spec=textwrap.dedent("""\
        initContainers:
        - name: migrate
          image: app:1
          securityContext: {runAsUser: 1337}
        containers:
        - name: app
          image: app:1
          command: [sh, -c, "run && curl -X POST http://127.0.0.1:15020/quitquitquit"]
        """),
)
WORKAROUND_CODES = {"SP201", "SP202", "SP203", "SP204"}


def test_native_workload_with_every_workaround_gets_each_finding():
    found, _ = review(WORKAROUNDS, "rules:\n- sidecar: native\n")
    assert sorted(code for _, code in found) == ["SP201", "SP202", "SP203", "SP203", "SP204"]


def test_workarounds_are_fine_on_a_regular_sidecar():
    assert not codes(WORKAROUNDS, "rules:\n- sidecar: regular\n") & WORKAROUND_CODES


def test_workarounds_count_when_the_mesh_default_makes_it_native():
    assert codes(WORKAROUNDS, "meshDefault: native\nfallback: keep\n") >= WORKAROUND_CODES


def test_quitquitquit_in_args_of_an_init_container_counts():
    pod = workload(spec="initContainers:\n- name: setup\n  image: a\n  args: ['curl localhost:15000/quitquitquit']\n"
                        "containers:\n- name: app\n  image: a\n")
    assert "SP201" in codes(pod, "rules:\n- sidecar: native\n")


def test_pod_level_uid_1337_applies_to_init_containers_without_their_own():
    def pod(init_container: str) -> str:
        return workload(spec="securityContext: {runAsUser: 1337}\ninitContainers:\n" + init_container
                             + "containers:\n- name: app\n  image: a\n  securityContext: {runAsUser: 1000}\n")

    assert "SP202" in codes(pod("- name: setup\n  image: a\n"), "rules:\n- sidecar: native\n")
    own_uid = pod("- name: setup\n  image: a\n  securityContext: {runAsUser: 1000}\n")
    assert "SP202" not in codes(own_uid, "rules:\n- sidecar: native\n")


def test_istios_own_containers_are_not_workarounds():
    """An already-injected native pod: istio-proxy is an init container running as 1337."""
    pod = workload(spec="initContainers:\n- name: istio-init\n  image: proxyv2\n  securityContext: {runAsUser: 0}\n"
                        "- name: istio-proxy\n  image: proxyv2\n  restartPolicy: Always\n  securityContext: {runAsUser: 1337}\n"
                        "containers:\n- name: app\n  image: a\n")
    assert not codes(pod, "rules:\n- sidecar: native\n") & WORKAROUND_CODES


def test_hold_application_false_or_unparsable_config_is_not_reported():
    for config in ("holdApplicationUntilProxyStarts: false\n", "{not yaml: [\n"):
        pod = workload(annotations={"proxy.istio.io/config": config})
        assert "SP204" not in codes(pod, "rules:\n- sidecar: native\n")


# --- SP301/SP302: where the policy has no effect ------------------------------------------------


@pytest.mark.parametrize("labels, annotations, fires", [
    ({"sidecar.istio.io/inject": "false"}, {}, True),
    ({}, {"sidecar.istio.io/inject": "false"}, True),
    # Istio prefers the label to the annotation.
    ({"sidecar.istio.io/inject": "true"}, {"sidecar.istio.io/inject": "false"}, False),
    ({"sidecar.istio.io/inject": "false"}, {"sidecar.istio.io/inject": "true"}, True),
    ({"sidecar.istio.io/inject": "true"}, {}, False),
])
def test_injection_disabled(labels, annotations, fires):
    pod = workload(labels=labels, annotations=annotations)
    assert ("SP301" in codes(pod, "rules:\n- sidecar: native\n")) is fires


def test_an_unquoted_false_annotation_counts_as_false():
    pod = workload().replace('"labels": {"app": "app"}', '"labels": {"app": "app"}, "annotations": {"sidecar.istio.io/inject": false}')
    assert "sidecar.istio.io/inject" in pod and "SP301" in codes(pod, "rules:\n- sidecar: native\n")


def test_an_unquoted_false_label_is_a_manifest_kubernetes_refuses():
    """A label value must be a string: the API server refuses `false` unquoted (issue 24)."""
    pod = workload().replace('"labels": {"app": "app"}', '"labels": {"app": "app", "sidecar.istio.io/inject": false}')
    with pytest.raises(InputError, match="labels.sidecar.istio.io/inject must be a string, not false unquoted"):
        codes(pod, "rules:\n- sidecar: native\n")


def test_host_network_pods_are_never_injected():
    pod = workload(spec="hostNetwork: true\ncontainers:\n- name: app\n  image: a\n")
    assert "SP301" in codes(pod, "rules:\n- sidecar: native\n")


@pytest.mark.parametrize("annotations, container", [
    ({"inject.istio.io/templates": "gateway"}, "- name: istio-proxy\n  image: auto\n"),  # istio/gateway chart
    ({"sidecar.istio.io/inject": "false"}, "- name: istio-proxy\n  image: proxyv2\n  args: [proxy, router]\n"),  # istioctl
])
def test_istio_gateways(annotations, container):
    found = codes(workload(annotations=annotations, spec="containers:\n" + container), "rules:\n- sidecar: native\n")
    assert "SP302" in found and "SP301" not in found  # one finding says it: the gateway one


def test_an_injected_sidecar_is_not_a_gateway():
    pod = workload(spec="containers:\n- name: app\n  image: a\n- name: istio-proxy\n  image: proxyv2\n  args: [proxy, sidecar]\n")
    assert "SP302" not in codes(pod, "rules:\n- sidecar: native\n")


# --- SP401-SP403: rules ---------------------------------------------------------------------------


def test_rule_matching_nothing():
    _, rules = review(workload(), "rules:\n- match: {kinds: [StatefulSet]}\n  sidecar: native\n- sidecar: regular\n")
    assert rules == [(1, "SP401")]


def test_rule_that_never_decides_because_an_earlier_one_always_wins():
    spec = ("rules:\n- match: {namespaces: [shop]}\n  sidecar: native\n"
            "- match: {names: [web]}\n  sidecar: native\n"
            "- match: {kinds: [Deployment]}\n  sidecar: regular\n")
    found, rules = review([workload(name="web"), workload(name="api", namespace="edge")], spec)
    assert rules == [(2, "SP402")]  # rule 3 decides edge/api, so it is not shadowed
    assert found == [("web", "SP403")]  # rule 3 would have made web regular; rule 2 agreed with rule 1


def test_catch_all_rules_are_neither_shadowed_nor_overridden():
    spec = "rules:\n- match: {kinds: [Deployment]}\n  sidecar: native\n- sidecar: regular\n"
    found, rules = review(workload(), spec)
    assert found == [] and rules == []


def test_ignore_leaves_findings_out_by_code_or_slug():
    the_policy = policy("rules:\n- match: {kinds: [StatefulSet]}\n  sidecar: native\n- sidecar: regular\n")
    assert Review(the_policy, ignore=frozenset({"SP401"})).rules() == []
    assert Review(the_policy, ignore=frozenset({"rule-unmatched"})).rules() == []
    assert [f.code for _, f in Review(the_policy).rules()] == ["SP401", "SP401"]
