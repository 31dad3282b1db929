"""`sidecar-policy flux` and `sidecar-policy kustomize`: the generated YAML, stable and mergeable.

The HelmRelease shape follows fluxcd/helm-controller api/v2/helmrelease_types.go (PostRenderer,
Kustomize) and fluxcd/pkg apis/kustomize (Patch, Selector); Flux itself cannot run here.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from postrender.core.policy import load_policy
from postrender.flux.patches import is_ours, translate
from tests.support.kustomize_tools import sidecar_policy
from tests.support.paths import ISTIO_GOLDEN

DATA = Path(__file__).parent / "data"
EXAMPLE_POLICY = Path(__file__).parents[1] / "examples" / "policy.yaml"
FLUX_POLICY = DATA / "flux-policy.yaml"
HELMRELEASE = DATA / "helmrelease.yaml"


def run(*args: str) -> str:
    done = sidecar_policy(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def test_flux_post_renderers_for_the_example_policy(snapshot, monkeypatch):
    monkeypatch.chdir(EXAMPLE_POLICY.parents[1])
    snapshot.assert_match(run("flux", "--policy", "examples/policy.yaml"), "example-post-renderers.yaml")


def test_kustomize_patches_for_every_kind_of_rule(snapshot, monkeypatch):
    monkeypatch.chdir(DATA.parents[1])
    snapshot.assert_match(run("kustomize", "--policy", "tests/data/flux-policy.yaml"), "flux-policy-patches.yaml")


def test_same_policy_same_bytes_whatever_the_order_of_its_lists(tmp_path):
    shuffled = tmp_path / "policy.yaml"
    text = FLUX_POLICY.read_text()
    shuffled.write_text(text.replace("[Job, CronJob]", "[CronJob, Job]").replace('["*-admission-*", "migrate-?"]',
                                                                                '["migrate-?", "*-admission-*"]'))
    first = run("kustomize", "--policy", str(shuffled))
    assert run("kustomize", "--policy", str(shuffled)) == first
    assert first.replace(str(shuffled), "P") == run("kustomize", "--policy", str(FLUX_POLICY)).replace(str(FLUX_POLICY), "P")


def test_the_post_renderers_are_the_kustomize_patches():
    flux = yaml.safe_load(run("flux", "--policy", str(FLUX_POLICY)))
    kustomize = yaml.safe_load(run("kustomize", "--policy", str(FLUX_POLICY)))
    assert flux == {"postRenderers": [{"kustomize": {"patches": kustomize["patches"]}}]}
    assert is_ours(flux["postRenderers"][0])


def test_the_fallback_comes_first_and_the_first_rule_last():
    """kustomize lets a later patch overwrite an earlier one; the policy lets the first rule win."""
    patches = translate(load_policy(str(FLUX_POLICY)))
    origins = [patch.origin.split(" ")[0] for patch in patches
               if "borrows its pod template" not in patch.origin and "fails the build" not in patch.origin]
    order = list(dict.fromkeys(origins))
    assert order == ["fallback:", "bare-pods-unset", "controllers-by-label", "hooks-regular"]


def test_helmrelease_keeps_its_own_post_renderer_and_comments():
    merged = run("flux", "--policy", str(FLUX_POLICY), "--helmrelease", str(HELMRELEASE))
    original = HELMRELEASE.read_text()
    head, tail = original.split("  values:\n")
    assert merged.startswith(head)
    assert merged.endswith("  values:\n" + tail)
    release = yaml.safe_load(merged)
    own, ours = release["spec"]["postRenderers"]
    assert own == yaml.safe_load(original)["spec"]["postRenderers"][0]
    patches = yaml.safe_load(run("kustomize", "--policy", str(FLUX_POLICY)))["patches"]
    assert ours == {"kustomize": {"patches": patches}}


def test_helmrelease_merge_is_idempotent_and_replaces_ours_in_place(tmp_path):
    once = tmp_path / "once.yaml"
    once.write_text(run("flux", "--policy", str(FLUX_POLICY), "--helmrelease", str(HELMRELEASE)))
    assert run("flux", "--policy", str(FLUX_POLICY), "--helmrelease", str(once)) == once.read_text()
    again = yaml.safe_load(run("flux", "--policy", str(EXAMPLE_POLICY), "--helmrelease", str(once)))
    own, ours = again["spec"]["postRenderers"]
    assert "images" in own["kustomize"]
    assert ours["kustomize"]["patches"] == yaml.safe_load(run("kustomize", "--policy", str(EXAMPLE_POLICY)))["patches"]


def test_helmrelease_without_post_renderers_gets_them(tmp_path):
    bare = tmp_path / "release.yaml"
    bare.write_text("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\n"
                    "spec:\n  interval: 5m\n  chart:\n    spec: {chart: app}\n")
    merged = yaml.safe_load(run("flux", "--policy", str(EXAMPLE_POLICY), "--helmrelease", str(bare)))
    assert merged["spec"]["chart"] == {"spec": {"chart": "app"}}
    assert [is_ours(entry) for entry in merged["spec"]["postRenderers"]] == [True]
    bare.write_text(bare.read_text() + "  postRenderers: []\n")
    assert yaml.safe_load(run("flux", "--policy", str(EXAMPLE_POLICY), "--helmrelease", str(bare))) == merged


def test_rendered_resolves_namespace_rules_in_the_release_target_namespace(tmp_path):
    """Helm's output leaves metadata.namespace out; the release's spec.targetNamespace says where it goes."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  rules:\n"
                      "  - match: {namespaces: [ingress-*]}\n    sidecar: native\n")
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: controller}\n"
                        "spec: {template: {spec: {containers: []}}}\n")
    args = ("flux", "--policy", str(policy), "--helmrelease", str(HELMRELEASE), "--rendered", str(rendered))
    patches = yaml.safe_load(run(*args))["spec"]["postRenderers"][1]["kustomize"]["patches"]
    assert [patch["target"] for patch in patches] == [{"group": "^apps$", "kind": "^Deployment$", "name": "^controller$"}]
    elsewhere = yaml.safe_load(run(*args, "--namespace", "default"))["spec"]["postRenderers"][1]
    assert elsewhere == {"kustomize": {"patches": []}}


def test_helmrelease_merge_with_conversion_patches_is_idempotent(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  convertInjected: true\n"
                      "  fallback: native\n")
    rendered = ISTIO_GOLDEN / "head-hello" / "regular.injected.yaml"
    once = tmp_path / "once.yaml"
    once.write_text(run("flux", "--policy", str(policy), "--helmrelease", str(HELMRELEASE), "--rendered", str(rendered)))
    ours = yaml.safe_load(once.read_text())["spec"]["postRenderers"][1]["kustomize"]["patches"]
    assert ours[0]["patch"].startswith("# sidecar-policy: istio-proxy of Deployment hello converted")
    again = run("flux", "--policy", str(policy), "--helmrelease", str(once), "--rendered", str(rendered))
    assert again == once.read_text()


def test_without_rendered_convert_injected_is_a_warning(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  convertInjected: true\n"
                      "  fallback: native\n")
    done = sidecar_policy("kustomize", "--policy", str(policy))
    assert done.returncode == 0
    assert b"convertInjected: kustomize patches only set the annotation" in done.stderr
    assert yaml.safe_load(done.stdout)["patches"]


def test_user_post_renderers_are_not_taken_for_ours():
    assert not is_ours({"kustomize": {"images": [{"name": "a", "newName": "b"}]}})
    assert not is_ours({"kustomize": {"patches": [{"patch": "kind: Deployment\nmetadata:\n  name: web\n",
                                                   "target": {"kind": "Deployment"}}]}})
    assert not is_ours({"kustomize": {"patches": [{"patch": "- op: remove\n  path: /spec/replicas\n"}]}})


def test_post_renderers_fit_the_helmrelease_crd():
    """fluxcd/helm-controller config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml: a patch needs
    `patch` (a string); a target has only these string fields. Checked without Flux, field by field."""
    target_fields = {"group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"}
    rendered = ISTIO_GOLDEN / "flip-list" / "regular.injected.yaml"
    outputs = [run("flux", "--policy", str(FLUX_POLICY)), run("flux", "--policy", str(EXAMPLE_POLICY)),
               run("flux", "--policy", str(DATA / "flux-policy.yaml"), "--rendered", str(rendered))]
    for output in outputs:
        (entry,) = yaml.safe_load(output)["postRenderers"]
        assert set(entry) == {"kustomize"} and set(entry["kustomize"]) == {"patches"}
        for patch in entry["kustomize"]["patches"]:
            assert set(patch) == {"patch", "target"} and isinstance(patch["patch"], str)
            assert set(patch["target"]) <= target_fields
            assert all(isinstance(value, str) and value for value in patch["target"].values())
            assert yaml.safe_load(patch["patch"])  # the text is YAML kustomize can read


def test_helmrelease_shapes_it_cannot_edit_in_place_are_usage_errors(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: app}\nspec:\n"
                    "  postRenderers: [{kustomize: {images: [{name: a, newName: b}]}}]\n")
    done = sidecar_policy("flux", "--policy", str(EXAMPLE_POLICY), "--helmrelease", str(flow))
    assert (done.returncode, done.stdout) == (2, b"")
    assert f"{flow}:5: spec.postRenderers must be a block sequence".encode() in done.stderr
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n")
    done = sidecar_policy("flux", "--policy", str(EXAMPLE_POLICY), "--helmrelease", str(other))
    assert done.returncode == 2 and b"no HelmRelease (helm.toolkit.fluxcd.io/*) in the file" in done.stderr


def test_a_release_that_keeps_hooks_from_post_renderers_is_a_warning(tmp_path):
    """helm-controller api/v2/helmrelease_types.go: nohooks sends no hooks to the post-renderers."""
    release = tmp_path / "release.yaml"
    for strategy, warned in (("nohooks", True), ("combined", False)):
        release.write_text(HELMRELEASE.read_text().replace("spec:\n", f"spec:\n  postRenderStrategy: {strategy}\n", 1))
        done = sidecar_policy("flux", "--policy", str(EXAMPLE_POLICY), "--helmrelease", str(release))
        assert done.returncode == 0
        assert (b"spec.postRenderStrategy is nohooks" in done.stderr) == warned
        assert f"postRenderStrategy: {strategy}".encode() in done.stdout
