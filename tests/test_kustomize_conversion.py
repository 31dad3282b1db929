"""With `convertInjected` and `--rendered`, the generated patches convert an istio-proxy that
`istioctl kube-inject` already injected: `kubectl kustomize` (v5.5 here, the kustomize API Flux
runs, helm-controller internal/postrender/kustomize.go) yields the very objects sidecar-policy
writes, compared whole, for every Istio injector golden in both directions."""

from __future__ import annotations

from pathlib import Path

import pytest

from postrender.core.engine import Options
from postrender.core.policy import parse_policy
from postrender.flux.command import patches_yaml
from postrender.flux.patches import translate
from postrender.flux.rendered import resolve
from tests.support.helpers import post_render
from tests.support.kustomize_tools import HAVE_KUBECTL, POOL, key, kustomize_build, objects
from tests.support.paths import ISTIO_GOLDEN

pytestmark = pytest.mark.skipif(not HAVE_KUBECTL, reason="kubectl (with kustomize) is not installed")

POLICY = """\
apiVersion: sidecar-policy/v1alpha1
kind: SidecarPolicy
spec:
  convertInjected: true
  fallback: {mode}
  rules:
  - match: {{names: [hello-v2]}}
    sidecar: default
"""
# (injected file, the mode it converts to): regular goldens become native, native ones regular.
CASES = [(path, "native" if path.name.startswith("regular") else "regular")
         for path in sorted(ISTIO_GOLDEN.glob("*/*.injected.yaml")) if not path.name == "injected.yaml"]


def _build(directory: Path, stream: Path, mode: str) -> tuple[str, str, int]:
    policy = parse_policy(POLICY.format(mode=mode), "policy.yaml")
    directory.mkdir(parents=True)
    (directory / "input.yaml").write_bytes(stream.read_bytes())
    rendered = resolve(policy, str(directory / "input.yaml"), Options())
    patches = rendered.converted + translate(policy, rendered.decisions, "input.yaml")
    (directory / "kustomization.yaml").write_text("resources: [input.yaml]\npatches:\n" + patches_yaml(patches))
    ours, _ = post_render(stream.read_bytes(), policy)
    return ours.decode(), kustomize_build(directory), len(rendered.converted)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("convert")
    return {case: POOL.submit(_build, root / f"{case[0].parent.name}-{case[1]}", *case) for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[f"{path.parent.name}-to-{mode}" for path, mode in CASES])
def test_kustomize_converts_like_sidecar_policy(case, builds):
    ours, built, _ = builds[case].result()
    assert sorted(map(_one_decision, objects(built)), key=key) == sorted(map(_one_decision, objects(ours)), key=key)


def _one_decision(obj: dict) -> dict:
    """A kube-injected CronJob carries its decision on spec.jobTemplate.metadata (docs/conversion.md).
    The policy's patches cannot tell it from another CronJob and also put the decision on its pod
    template: the same value, which is checked and then set aside."""
    job_template = obj.get("spec", {}).get("jobTemplate", {}) if obj.get("kind") == "CronJob" else {}
    outer = (job_template.get("metadata") or {}).get("annotations") or {}
    if "sidecar.istio.io/status" not in outer:
        return obj
    metadata = job_template["spec"]["template"].get("metadata") or {}
    inner = metadata.get("annotations") or {}
    if "sidecar.istio.io/nativeSidecar" in inner:
        assert inner.pop("sidecar.istio.io/nativeSidecar") == outer.get("sidecar.istio.io/nativeSidecar")
        if not inner:
            del metadata["annotations"]
    return obj


def test_every_golden_gets_a_conversion_patch(builds):
    assert all(builds[case].result()[2] >= 1 for case in CASES)
