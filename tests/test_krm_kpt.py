"""The KRM function, run by the real `kpt fn eval --exec` (kpt v1 on this machine), yields the same
objects as sidecar-policy on the same stream, apart from the annotations kpt itself adds to
every item (config.kubernetes.io/*, internal.config.kubernetes.io/*, config.k8s.io/id)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.helpers import installed_command
from tests.support.kustomize_tools import (
    HAVE_KPT,
    HAVE_KUBECTL,
    POOL,
    key,
    kpt_eval,
    objects,
    selected,
    sidecar_policy,
    without_orchestrator_annotations,
)
from tests.support.paths import CORPUS

pytestmark = pytest.mark.skipif(not HAVE_KPT, reason="kpt is not installed")

POLICY = """\
apiVersion: sidecar-policy/v1alpha1
kind: SidecarPolicy
metadata:
  name: krm-test
spec:
  fallback: native
  rules:
  - match: {kinds: [Job, CronJob]}
    sidecar: regular
  - match: {labels: "app.kubernetes.io/component in (controller,admission-controller)"}
    sidecar: default
  - match: {names: ["reviews-*", "argocd-[r-s]*"]}
    sidecar: regular
"""
ALL_KINDS = Path(__file__).parent / "data" / "all-kinds.yaml"
# kyverno-install-latest-testing.yaml (4 MB, 6 s in kpt) adds no kind the others lack.
SMALL = ["ingress-nginx-cloud-deploy.yaml", "ingress-nginx-cloud-deploy-helm-4.0.15-with-source-comments.yaml",
         "istio-bookinfo.yaml"]
LARGE = ["istio-manifest-generate-all_on.golden.yaml", "argo-cd-install.yaml", "kyverno-install-2024-07-04.yaml"]
STREAMS = [ALL_KINDS] + [CORPUS / name for name in SMALL + LARGE]
MARKS = {CORPUS / name: [pytest.mark.slow] for name in LARGE}


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("krm") / "policy.yaml"
    text = POLICY.replace("  rules:\n", "  workloadKinds:\n  - {kind: CloneSet, apiVersion: apps.kruise.io/v1alpha1, "
                                        "podTemplate: spec.template}\n  rules:\n")
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def runs(request, policy_file):
    """Start kpt on every selected stream at once; tests wait for their own."""
    return {stream: POOL.submit(kpt_eval, stream, policy_file) for stream in selected(request, "stream")}


@pytest.mark.parametrize("stream", [pytest.param(s, marks=MARKS.get(s, []), id=s.stem) for s in STREAMS])
def test_kpt_runs_the_function_like_the_post_renderer(stream, runs, policy_file):
    ours = sidecar_policy("--policy", str(policy_file), "-q", str(stream))
    assert ours.returncode == 0, ours.stderr
    expected = sorted((without_orchestrator_annotations(o) for o in objects(ours.stdout.decode())), key=key)
    got = sorted((without_orchestrator_annotations(o) for o in objects(runs[stream].result())), key=key)
    assert got == expected
    assert expected != sorted(objects(stream.read_text()), key=key), "the policy changes something"


@pytest.mark.skipif(not HAVE_KUBECTL, reason="kubectl is not installed")
def test_kubectl_kustomize_accepts_the_function_and_silently_skips_it(tmp_path):
    """What the README warns about: kubectl's kustomize has --enable-alpha-plugins but no
    --enable-exec (kubernetes/kubectl#1498), so an exec function is accepted and never run."""
    (tmp_path / "input.yaml").write_bytes((CORPUS / "istio-bookinfo.yaml").read_bytes())
    (tmp_path / "policy.yaml").write_text(POLICY.replace(
        "  name: krm-test\n",
        "  name: krm-test\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: sidecar-policy-krm\n"))
    (tmp_path / "kustomization.yaml").write_text("resources: [input.yaml]\ntransformers: [policy.yaml]\n")
    done = subprocess.run(["kubectl", "kustomize", "--enable-alpha-plugins", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert objects(done.stdout) and "nativeSidecar" not in done.stdout


def test_kpt_render_runs_the_function_from_a_kptfile_pipeline(tmp_path, policy_file):
    """The README's Kptfile: `exec: sidecar-policy-krm` as a mutator, `kpt fn render --allow-exec`."""
    stream = CORPUS / "istio-bookinfo.yaml"
    (tmp_path / "app.yaml").write_bytes(stream.read_bytes())
    (tmp_path / "policy.yaml").write_text(policy_file.read_text().replace(
        "  name: krm-test\n", "  name: krm-test\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n"))
    (tmp_path / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: app\npipeline:\n"
                                      "  mutators:\n  - exec: sidecar-policy-krm\n    configPath: policy.yaml\n")
    path = f"{Path(installed_command()).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(["kpt", "fn", "render", "--allow-exec", str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "PATH": path})
    assert done.returncode == 0, done.stderr
    ours = sidecar_policy("--policy", str(policy_file), "-q", str(stream))
    expected = sorted((without_orchestrator_annotations(o) for o in objects(ours.stdout.decode())), key=key)
    rendered = sorted((without_orchestrator_annotations(o) for o in objects((tmp_path / "app.yaml").read_text())), key=key)
    assert rendered == expected


def test_kpt_shows_the_error_result_of_a_run_without_fn_config(tmp_path):
    """Without --fn-config kpt passes a ConfigMap of its `-- key=value` arguments as functionConfig;
    the function answers with an error result, which kpt prints beside stderr, and kpt fails."""
    (tmp_path / "app.yaml").write_bytes((CORPUS / "istio-bookinfo.yaml").read_bytes())
    done = subprocess.run(["kpt", "fn", "eval", "--exec", installed_command() + "-krm", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Results:" in output
    assert any(line.strip().startswith("[error]:") and "functionConfig is a ConfigMap" in line for line in output.splitlines())
    assert (tmp_path / "app.yaml").read_bytes() == (CORPUS / "istio-bookinfo.yaml").read_bytes()
