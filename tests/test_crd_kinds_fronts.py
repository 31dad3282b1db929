"""Kinds with several places through every front end but Flux (test_crd_kinds_flux.py): explain shows
one row per place, check knows which places run to completion, the KRM function reports each place,
and Argo CD's own repo-server gets the post-renderer's result."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from postrender.core.workloads import BUILTIN_KINDS, KindTable
from tests.support.argocd import Application
from tests.support.argocd_apps import app_files, argocd, repo, run, sidecar_env, tools  # noqa: F401  pytest fixtures
from tests.support.helpers import POLICY_HEADER, run_command
from tests.support.istio_cases import MESH_HOLD, as_data, golden_path, load_all, pair_cases
from tests.support.places import ANNOTATION, decide_object

RAY_JOB = """\
apiVersion: ray.io/v1
kind: RayJob
metadata: {name: train, namespace: ml}
spec:
  entrypoint: python train.py
  rayClusterSpec:
    headGroupSpec:
      template:
        spec: {containers: [{name: head, image: rayproject/ray}]}
    workerGroupSpecs:
    - groupName: cpu
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: worker, image: rayproject/ray}]}
    - groupName: gpu
      template:
        spec: {containers: [{name: worker, image: rayproject/ray}]}
  submitterPodTemplate:
    spec: {containers: [{name: submitter, image: rayproject/ray}], restartPolicy: Never}
"""
WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: etl, namespace: ml}
spec:
  entrypoint: main
  templates:
  - name: main
    metadata:
      annotations: {sidecar.istio.io/nativeSidecar: "false"}
    container: {image: alpine}
"""
POLICY = POLICY_HEADER + """\
spec:
  fallback: regular
  rules:
  - name: web
    match: {podLabels: app=web}
    sidecar: native
"""


def _write(tmp_path, policy: str = POLICY) -> tuple[str, str]:
    (tmp_path / "policy.yaml").write_text(policy)
    (tmp_path / "in.yaml").write_text(RAY_JOB + "---\n" + WORKFLOW)
    return str(tmp_path / "policy.yaml"), str(tmp_path / "in.yaml")


def test_explain_shows_one_row_per_place(tmp_path):
    policy, manifests = _write(tmp_path)
    rows = json.loads(run_command(["explain", "--policy", policy, "-o", "json", manifests]).stdout)
    assert [(row["kind"], row["name"], row["target"], row["rule"], row["sidecar"]) for row in rows] == [
        ("RayJob", "train", "headGroupSpec", None, "regular"),
        ("RayJob", "train", "workerGroupSpecs[0]", "web", "native"),
        ("RayJob", "train", "workerGroupSpecs[1]", None, "regular"),
        ("RayJob", "train", "submitterPodTemplate", None, "regular"),
        ("Workflow", "etl", "podMetadata", None, "regular"),
    ]
    table = run_command(["explain", "--policy", policy, manifests]).stdout.decode()
    assert "train workerGroupSpecs[1]" in table


def test_check_flags_the_places_that_run_to_completion_left_regular(tmp_path):
    policy, manifests = _write(tmp_path)
    done = run_command(["check", "--policy", policy, manifests])
    assert done.returncode == 3
    lines = [line for line in done.stdout.decode().splitlines() if "SP101" in line]
    assert len(lines) == 2, lines
    assert "RayJob ml/train submitterPodTemplate" in lines[0] and "RayJob's submitterPodTemplate pods never complete" in lines[0]
    assert "Workflow ml/etl podMetadata" in lines[1]


def test_a_policy_kind_says_which_of_its_places_run_to_completion(tmp_path):
    kinds = ("  workloadKinds:\n  - kind: Pipeline\n    apiVersion: ml.example.com/v1\n"
             "    podTemplates: [{path: spec.runner, runsToCompletion: true}, spec.ui]\n")
    policy, _ = _write(tmp_path, POLICY + kinds)
    pipeline = ("apiVersion: ml.example.com/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
                "  runner: {spec: {containers: [{name: r, image: r}]}}\n  ui: {spec: {containers: [{name: u, image: u}]}}\n")
    done = run_command(["check", "--policy", policy], stdin=pipeline.encode())
    assert [line.split(": ")[2] for line in done.stdout.decode().splitlines() if "SP101" in line] == ["SP101 Pipeline p runner"]


def test_the_krm_function_reports_each_place(tmp_path):
    items = [yaml.safe_load(RAY_JOB)]
    resource_list = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items,
                     "functionConfig": yaml.safe_load(POLICY)}
    done = run_command(["krm"], stdin=yaml.safe_dump(resource_list).encode())
    assert done.returncode == 0, done.stderr
    out = yaml.safe_load(done.stdout)
    messages = [result["message"] for result in out["results"]]
    assert f'set {ANNOTATION}: "true" at workerGroupSpecs[0] (web)' in messages
    assert f'set {ANNOTATION}: "false" at submitterPodTemplate (fallback)' in messages
    cluster = out["items"][0]["spec"]["rayClusterSpec"]
    assert cluster["workerGroupSpecs"][0]["template"]["metadata"]["annotations"] == {ANNOTATION: "true"}


def test_argo_cd_renders_every_place_through_the_plugin(argocd, repo, tmp_path, sidecar_env):  # noqa: F811
    app_files(repo, {"ml.yaml": RAY_JOB + "---\n" + WORKFLOW, ".sidecar-policy.yaml": POLICY})
    out, _ = run(argocd, repo, Application(), sidecar_env, tmp_path / "sidecar")
    (repo / "apps" / "shop" / ".sidecar-policy.yaml").unlink()
    plain = argocd.generate(repo, Application(plugin=None, directory={}))
    table = KindTable(BUILTIN_KINDS)

    def decide(labels: dict) -> str:
        return "native" if labels.get("app") == "web" else "regular"

    expected = [decide_object(obj, table.find(obj["kind"], obj["apiVersion"]), decide) for obj in plain.objects]
    assert out.objects == expected


@pytest.mark.parametrize("target", ["native", "regular"])
@pytest.mark.parametrize("case", [case for case in pair_cases()
                                  if all(doc["kind"] == "Deployment" for doc in load_all(golden_path(case, "native")))])
def test_an_injected_proxy_in_each_pod_template_converts_as_in_a_deployment(tmp_path, case, target):
    """Differential: Istio's own injection of a Deployment, its pod template put in every worker group
    of a RayCluster, converts to Istio's other injection, group by group (and only where decided so)."""
    other = {"native": "regular", "regular": "native"}[target]
    source, wanted = load_all(golden_path(case, other))[0], load_all(golden_path(case, target))[0]
    cluster = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "ray"},
               "spec": {"headGroupSpec": {"template": {"spec": {"containers": [{"name": "head", "image": "ray"}]}}},
                        "workerGroupSpecs": [{"groupName": name, "template": copy.deepcopy(source["spec"]["template"])}
                                             for name in ("a", "b")]}}
    (tmp_path / "policy.yaml").write_text(
        POLICY_HEADER + f"spec:\n  fallback: {target}\n  convertInjected: true\n"
        f"  holdApplicationUntilProxyStarts: {str(case in MESH_HOLD).lower()}\n")
    done = run_command(["--policy", str(tmp_path / "policy.yaml")], stdin=yaml.safe_dump(cluster).encode())
    assert done.returncode == 0, done.stderr
    workers = yaml.safe_load(done.stdout)["spec"]["workerGroupSpecs"]
    assert [as_data(worker["template"]) for worker in workers] == [as_data(wanted["spec"]["template"])] * 2
