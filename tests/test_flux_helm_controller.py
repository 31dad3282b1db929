"""`sidecar-policy flux --helmrelease` output, applied as helm-controller applies it.

tests/harness/fluxpostrender decodes the generated HelmRelease strictly into helm-controller's own
API type (github.com/fluxcd/helm-controller/api v1.6.3) and runs its post-renderers with the
kustomize version helm-controller pins (api v0.21.1, kustomize v5.8.1), one in-memory build each,
as internal/postrender/kustomize.go does (an emulation of that internal package: Flux itself
cannot run here). Every policy of the kubectl-kustomize equivalence tests, on the stream with
every workload kind, must then give the workloads sidecar-policy's own annotations, leave the
Rollouts that borrow their template as they were, and keep the release's own post-renderer.
With a chart, the harness installs it (client-side dry run) with Helm's SDK at helm-controller's
version (v4.2.1) and the release's spec.postRenderStrategy, which decides whether hooks are
post-rendered.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from test_kustomize_equivalence import (
    ALL_KINDS,
    HEADER,
    POLICIES,
    PRE_ANNOTATE,
    WORKLOAD_KINDS,
    _policy,
)

from tests.support.gotools import harness
from tests.support.kustomize_tools import (
    annotations,
    borrowers,
    objects,
    sidecar_policy,
)

HELMRELEASE = Path(__file__).parent / "data" / "helmrelease.yaml"
NAMESPACE = "ingress-nginx"  # the release's spec.targetNamespace, which the command reads


@pytest.fixture(scope="module")
def flux_post_render():
    binary = harness("fluxpostrender")

    def run(release: Path, stream: Path | None = None, chart: Path | None = None) -> str:
        """The stream post-rendered, or (with a chart) the installed manifest and hooks as JSON."""
        args = [str(release), str(stream)] if chart is None else ["-chart", str(chart), str(release)]
        done = subprocess.run([str(binary), *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def _ours(*args: str) -> str:
    done = sidecar_policy(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def _with_kinds(text: str) -> str:
    return text.replace("spec:\n", "spec:\n" + WORKLOAD_KINDS, 1)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_helm_controller_applies_the_generated_post_renderer_like_sidecar_policy(name, flux_post_render, tmp_path):
    policy_file, stream = tmp_path / "policy.yaml", tmp_path / "rendered.yaml"
    policy_file.write_text(_with_kinds(HEADER + POLICIES[name]))
    if name in PRE_ANNOTATE:  # annotated first, so that there is something to remove
        (tmp_path / "pre.yaml").write_text(_with_kinds(PRE_ANNOTATE[name]))
        stream.write_text(_ours("--policy", str(tmp_path / "pre.yaml"), "-q", str(ALL_KINDS)))
    else:
        stream.write_bytes(ALL_KINDS.read_bytes())
    rendered = ["--rendered", str(stream)] if name == "rendered" else []
    release = tmp_path / "release.yaml"
    release.write_text(_ours("flux", "--policy", str(policy_file), "--helmrelease", str(HELMRELEASE), *rendered))

    built = flux_post_render(release, stream)
    expected = _ours("--policy", str(policy_file), "--namespace", NAMESPACE, "-q", str(stream))
    policy = _policy(name, ALL_KINDS)
    assert annotations(built, policy) == annotations(expected, policy)
    assert annotations(expected, policy) != annotations(stream.read_text(), policy), "the policy changes something"
    assert borrowers(built) == borrowers(stream.read_text())


def test_the_release_keeps_its_own_post_renderer_first(flux_post_render, tmp_path):
    """The team's image mirror (tests/data/helmrelease.yaml) still runs, before ours."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(HEADER + "spec:\n  fallback: native\n")
    release = tmp_path / "release.yaml"
    release.write_text(_ours("flux", "--policy", str(policy_file), "--helmrelease", str(HELMRELEASE)))
    stream = tmp_path / "rendered.yaml"
    stream.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: controller}\nspec:\n  template:\n"
                      "    spec:\n      containers:\n      - {name: controller, image: registry.k8s.io/ingress-nginx/controller:v1}\n")
    (deployment,) = objects(flux_post_render(release, stream))
    template = deployment["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "mirror.example.com/ingress-nginx/controller:v1"
    assert template["metadata"]["annotations"] == {"sidecar.istio.io/nativeSidecar": "true"}
    assert [list(entry["kustomize"]) for entry in yaml.safe_load(release.read_text())["spec"]["postRenderers"]] == \
        [["images"], ["patches"]]


HOOKED_CHART = Path(__file__).parent / "data" / "charts" / "hooked"  # a Deployment and a pre-install hook Job


@pytest.mark.parametrize("strategy, hooks_patched", [("combined", True), ("separate", True), ("nohooks", False)])
def test_the_post_render_strategy_decides_whether_hooks_get_the_patches(strategy, hooks_patched, flux_post_render,
                                                                        tmp_path):
    """What the Flux docs say about spec.postRenderStrategy, with Helm's SDK at helm-controller's version."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(HEADER + "spec:\n  fallback: native\n")
    own = tmp_path / "own.yaml"
    own.write_text(HELMRELEASE.read_text().replace("spec:\n", f"spec:\n  postRenderStrategy: {strategy}\n", 1))
    release = tmp_path / "release.yaml"
    release.write_text(_ours("flux", "--policy", str(policy_file), "--helmrelease", str(own)))
    installed = json.loads(flux_post_render(release, chart=HOOKED_CHART))
    assert "sidecar.istio.io/nativeSidecar" in installed["manifest"]
    (hook,) = installed["hooks"]
    assert ("sidecar.istio.io/nativeSidecar" in hook) == hooks_patched
