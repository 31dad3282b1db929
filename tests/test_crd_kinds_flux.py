"""Kinds with several places or list items as kustomize patches, applied by the real `kubectl kustomize`.

A kustomize patch cannot reach every item of a list (postrender/flux/every_place.py). With
`--rendered FILE` each object gets one exact RFC 6902 patch, after tests that its lists still hold
the items they held: kustomize's build must then equal the post-renderer's output on the projects'
own examples, and fail, rather than miss one, when a list grew. Without the rendered chart, a rule
naming such a kind is refused, and for a catch-all the build fails naming the kind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support import upstream
from tests.support.helpers import POLICY_HEADER
from tests.support.kustomize_tools import HAVE_KUBECTL, objects, sidecar_policy

pytestmark = pytest.mark.skipif(not HAVE_KUBECTL, reason="kubectl (with kustomize) is not installed")

POLICY = POLICY_HEADER + """\
spec:
  fallback: native
  rules:
  - name: web-stays-regular
    match: {podLabels: "app in (web, nginx)"}
    sidecar: regular
  - name: hooks-default
    match: {names: ["*-hook"]}
    sidecar: default
"""
# A few of each project's own examples: 1-2 s of kustomize each.
EXAMPLES = {"kuberay": 6, "argo-workflows": 6, "training-operator": 3, "volcano": 2, "flink": 2, "spark-operator": 3,
            "jobset": 2, "trainer": 2, "kruise": 2}


def _examples() -> list[tuple[str, Path]]:
    return [(project, path) for project, count in EXAMPLES.items() for path in upstream.example_files(project)[:count]]


def _kustomize(directory: Path, resources: bytes, patches: bytes) -> tuple[int, str, str]:
    import subprocess

    (directory / "resources.yaml").write_bytes(resources)
    (directory / "kustomization.yaml").write_bytes(b"resources: [resources.yaml]\n" + patches)
    done = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def _by_name(text: str) -> dict:
    return {(obj.get("kind"), (obj.get("metadata") or {}).get("name")): obj for obj in objects(text)}


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_text(POLICY)
    return path


def test_exact_patches_from_the_rendered_examples_do_what_the_post_renderer_does(policy_file, tmp_path):
    compared = 0
    for project, example in _examples():
        data = example.read_bytes()
        ours = sidecar_policy("--policy", str(policy_file), stdin=data)
        if ours.returncode != 0:  # not YAML (spark-pi-prometheus.yaml): nothing to patch either
            continue
        patches = sidecar_policy("kustomize", "--policy", str(policy_file), "--rendered", str(example))
        if b"without metadata.name" in patches.stderr:  # generateName: kustomize selects by name
            assert patches.returncode == 2 and b"generateName" in data
            continue
        assert patches.returncode == 0, (example, patches.stderr)
        directory = tmp_path / f"{project}-{example.stem}"
        directory.mkdir()
        code, built, error = _kustomize(directory, data, patches.stdout)
        assert code == 0, (example, error)
        assert _by_name(built) == _by_name(ours.stdout.decode()), example
        compared += 1
    assert compared >= len(EXAMPLES)


RAY_CLUSTER = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: ray}
spec:
  headGroupSpec:
    template:
      spec: {containers: [{name: head, image: ray}]}
  workerGroupSpecs:
  - groupName: cpu
    template:
      spec: {containers: [{name: worker, image: ray}]}
"""
ANOTHER_GROUP = """\
  - groupName: gpu
    template:
      spec: {containers: [{name: worker, image: ray}]}
"""


def test_a_list_that_grew_since_the_patches_were_made_fails_the_build(policy_file, tmp_path):
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(RAY_CLUSTER)
    patches = sidecar_policy("kustomize", "--policy", str(policy_file), "--rendered", str(rendered))
    assert patches.returncode == 0, patches.stderr
    code, built, _ = _kustomize(tmp_path, RAY_CLUSTER.encode(), patches.stdout)
    assert code == 0
    (cluster,) = objects(built)
    assert cluster["spec"]["workerGroupSpecs"][0]["template"]["metadata"]["annotations"] == {
        "sidecar.istio.io/nativeSidecar": "true"}
    code, _, error = _kustomize(tmp_path, (RAY_CLUSTER + ANOTHER_GROUP).encode(), patches.stdout)
    assert code != 0 and "/sidecarPolicyCheck" in error


def test_without_the_rendered_chart_a_catch_all_fails_the_build_naming_the_kind(policy_file, tmp_path):
    catch_all = tmp_path / "catch-all.yaml"
    catch_all.write_text(POLICY.split("  rules:")[0])
    patches = sidecar_policy("kustomize", "--policy", str(catch_all))
    assert patches.returncode == 0, patches.stderr
    deployment = b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec: {}\n"
    code, built, _ = _kustomize(tmp_path, deployment, patches.stdout)
    assert code == 0 and yaml.safe_load(built)["spec"]["template"]["metadata"]["annotations"]
    code, _, error = _kustomize(tmp_path, deployment + b"---\n" + RAY_CLUSTER.encode(), patches.stdout)
    assert code != 0
    assert "cannot patch every pod template of a RayCluster or RayJob or RayService" in error
    assert "--rendered FILE" in error


def test_without_the_rendered_chart_a_rule_naming_such_a_kind_is_refused(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.split("  fallback")[0] + "  rules:\n  - name: ray\n    match: {kinds: [RayJob, Job]}\n"
                      "    sidecar: native\n")
    done = sidecar_policy("kustomize", "--policy", str(policy))
    assert done.returncode == 2
    message = done.stderr.decode()
    assert message.count("\n") == 1 and "ray selects RayJob" in message and "--rendered FILE" in message
    assert "selects Job" not in message  # batch's Job is patched target-wide; Volcano's is guarded
