"""SP205-SP206 and SP501-SP505: each with a pod the API server rejects (or silently changes) and
the nearest one it accepts, for the Kubernetes versions where the rule differs.

The rules restate k8s.io/kubernetes pkg/apis/core/validation/validation.go (validateContainers,
validateInitContainers, validateInitContainerRestartPolicy) and pkg/apis/core/types.go; no API
server runs here, so the pairs below are that reading, written down.
"""

from __future__ import annotations

import pytest
from test_findings import codes, findings, workload

from postrender.cli import main

ANY = "rules:\n- sidecar: regular\n"
LATEST = (1, 37)


def pod(spec: str) -> str:
    return workload(spec=spec)


APP = "containers:\n- name: app\n  image: app:1\n"


@pytest.mark.parametrize("version, fires", [(None, True), ((1, 30), True), ((1, 34), True), ((1, 35), False), (LATEST, False)])
def test_restart_policy_on_a_regular_container_is_refused_before_1_35(version, fires):
    rejected = pod("containers:\n- name: app\n  image: app:1\n  restartPolicy: Always\n")
    assert ("SP501" in codes(rejected, ANY, version)) == fires
    assert "SP501" not in codes(pod(APP), ANY, version)


@pytest.mark.parametrize("value, version, fires", [
    ("OnFailure", None, True), ("Never", (1, 34), True), ("OnFailure", (1, 35), False),
    ("Sometimes", LATEST, True), ("always", LATEST, True), ("Always", (1, 30), False),
])
def test_an_init_container_restart_policy_other_than_always(value, version, fires):
    spec = f"initContainers:\n- name: setup\n  image: a\n  restartPolicy: {value}\n" + APP
    assert ("SP502" in codes(pod(spec), ANY, version)) == fires


@pytest.mark.parametrize("where", ["containers", "initContainers"])
def test_containers_have_no_termination_grace_period_at_any_version(where):
    extra = f"{where}:\n- name: x\n  image: a\n  terminationGracePeriodSeconds: 30\n"
    rejected = pod(extra if where == "containers" else extra + APP)
    assert "SP503" in codes(rejected, ANY, LATEST)
    accepted = pod("terminationGracePeriodSeconds: 30\n" + "containers:\n- name: app\n  image: a\n"
                   "  livenessProbe: {exec: {command: [ok]}, terminationGracePeriodSeconds: 10}\n")
    assert "SP503" not in codes(accepted, ANY, LATEST)


@pytest.mark.parametrize("field", ["lifecycle: {preStop: {exec: {command: [stop]}}}", "livenessProbe: {exec: {command: [ok]}}",
                                   "readinessProbe: {exec: {command: [ok]}}", "startupProbe: {exec: {command: [ok]}}"])
def test_lifecycle_and_probes_only_on_a_sidecar_init_container(field):
    plain = pod(f"initContainers:\n- name: setup\n  image: a\n  {field}\n" + APP)
    assert "SP504" in codes(plain, ANY, LATEST)
    restarting = pod(f"initContainers:\n- name: setup\n  image: a\n  restartPolicy: OnFailure\n  {field}\n" + APP)
    assert "SP504" in codes(restarting, ANY, LATEST)  # allowed from 1.35, and still not a sidecar
    sidecar = pod(f"initContainers:\n- name: setup\n  image: a\n  restartPolicy: Always\n  {field}\n" + APP)
    assert "SP504" not in codes(sidecar, ANY, LATEST)


def test_sidecar_init_container_fields_are_named_in_one_finding():
    spec = "initContainers:\n- name: setup\n  image: a\n  lifecycle: {}\n  startupProbe: {exec: {command: [ok]}}\n" + APP
    (found,) = [f for _, f in findings(pod(spec), ANY)[0] if f.code == "SP504"]
    assert "'setup' has lifecycle and startupProbe" in found.message


@pytest.mark.parametrize("version, fires", [(None, False), ((1, 27), True), ((1, 28), True), ((1, 29), False)])
def test_a_sidecar_init_container_needs_1_29(version, fires):
    sidecar = pod("initContainers:\n- name: shipper\n  image: a\n  restartPolicy: Always\n" + APP)
    assert ("SP505" in codes(sidecar, ANY, version)) == fires
    plain = pod("initContainers:\n- name: setup\n  image: a\n" + APP)
    assert "SP505" not in codes(plain, ANY, version)


def test_sidecars_before_1_29_say_why_per_version():
    sidecar = pod("initContainers:\n- name: shipper\n  image: a\n  restartPolicy: Always\n" + APP)
    (on_1_28,) = [f.message for _, f in findings(sidecar, ANY, (1, 28))[0] if f.code == "SP505"]
    (on_1_27,) = [f.message for _, f in findings(sidecar, ANY, (1, 27))[0] if f.code == "SP505"]
    assert "SidecarContainers feature gate" in on_1_28 and "Kubernetes 1.27 has no such field" in on_1_27


# --- SP205/SP206: shutdown ordering done by hand, where istio-proxy is native -----------------

PROXY_STUB = "- name: istio-proxy\n  lifecycle: {preStop: {exec: {command: [sh, -c, 'sleep 20']}}}\n"
EXIT_ON_ZERO = "proxyMetadata: {EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'true'}\n"


@pytest.mark.parametrize("decision, fires", [("native", True), ("regular", False)])
def test_a_proxy_prestop_sleep_is_unnecessary_with_a_native_sidecar(decision, fires):
    manifest = pod(APP + PROXY_STUB)
    assert ("SP205" in codes(manifest, f"rules:\n- sidecar: {decision}\n")) == fires
    sleep_action = pod(APP + "- name: istio-proxy\n  lifecycle: {preStop: {sleep: {seconds: 20}}}\n")
    assert "SP205" in codes(sleep_action, "rules:\n- sidecar: native\n")
    other_hook = pod(APP + "- name: istio-proxy\n  lifecycle: {preStop: {httpGet: {path: /drain, port: 15000}}}\n")
    assert "SP205" not in codes(other_hook, "rules:\n- sidecar: native\n")


@pytest.mark.parametrize("decision, fires", [("native", True), ("regular", False)])
def test_exit_on_zero_active_connections_is_unnecessary_with_a_native_sidecar(decision, fires):
    in_config = workload(annotations={"proxy.istio.io/config": EXIT_ON_ZERO})
    in_env = pod(APP + "- name: istio-proxy\n  env: [{name: EXIT_ON_ZERO_ACTIVE_CONNECTIONS, value: 'true'}]\n")
    for manifest in (in_config, in_env):
        assert ("SP206" in codes(manifest, f"rules:\n- sidecar: {decision}\n")) == fires
    off = workload(annotations={"proxy.istio.io/config": "proxyMetadata: {EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'false'}\n"})
    assert "SP206" not in codes(off, "rules:\n- sidecar: native\n")


# --- the manifest, as a user runs it ------------------------------------------------------

BLOG_POD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  template:
    spec:
      containers:
      - name: main-app
        image: main-app-image
        restartPolicy: Always
        terminationGracePeriodSeconds: 300
      - name: proxy-sidecar
        image: proxy-image
        restartPolicy: Always
        terminationGracePeriodSeconds: 30
"""


def test_the_blog_post_manifest_fails_check_naming_both_fields_and_both_containers(tmp_path, capsys):
    (tmp_path / "policy.yaml").write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec: {}\n")
    (tmp_path / "pod.yaml").write_text(BLOG_POD)
    code = main(["check", "--policy", str(tmp_path / "policy.yaml"), "--fail-on", "error", str(tmp_path / "pod.yaml")])
    out = capsys.readouterr().out
    assert code == 3
    for container in ("main-app", "proxy-sidecar"):
        for field, finding in (("restartPolicy", "SP501"), ("terminationGracePeriodSeconds", "SP503")):
            assert any(finding in line and f"'{container}' has {field}" in line for line in out.splitlines()), out


def test_the_post_render_reports_them_and_changes_nothing_but_the_annotation(tmp_path, capsysbinary):
    (tmp_path / "policy.yaml").write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec: {fallback: native}\n")
    (tmp_path / "pod.yaml").write_text(BLOG_POD)
    assert main(["--policy", str(tmp_path / "policy.yaml"), str(tmp_path / "pod.yaml")]) == 0
    out, err = capsysbinary.readouterr()
    assert out.decode().replace("    metadata:\n      annotations:\n        sidecar.istio.io/nativeSidecar: \"true\"\n", "") == BLOG_POD
    assert err.count(b"SP501") == 2 and err.count(b"SP503") == 2
