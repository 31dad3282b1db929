"""`pods` on the operators' workloads: owner chains, the place each pod comes from, and what replaces it."""

from __future__ import annotations

import io
import json
import sys

import pytest

from postrender import cli
from postrender.core.errors import EXIT_OK
from tests.support.operator_dump import obj, operator_dump, ref, running, template


@pytest.fixture(scope="module")
def dump() -> bytes:
    return json.dumps(operator_dump()).encode()


def rows_of(args: list[str], stdin: bytes, capsys, monkeypatch) -> dict[tuple[str, str, str, str], dict]:
    monkeypatch.delenv("KUBE_VERSION", raising=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = cli.main(["pods", *args, "-o", "json"])
    out, err = capsys.readouterr()
    assert (code, err) == (EXIT_OK, "")
    return {(row["namespace"], row["group"], row["kind"], row["name"]): row for row in json.loads(out)}


@pytest.fixture
def rows(dump, capsys, monkeypatch) -> dict[tuple[str, str, str, str], dict]:
    return rows_of(["--mesh-default", "native"], dump, capsys, monkeypatch)


@pytest.mark.parametrize("key, stale, desired", [
    # the head pins native, the gpu group regular: only the head and the cpu group are stale
    (("ml", "ray.io", "RayCluster", "ray"), ["ray-cpu-worker-a", "ray-head-x"], "mixed"),
    # Pod -> RayCluster -> RayJob, and Pod -> Job -> RayJob (the submitter)
    (("ml", "ray.io", "RayJob", "job"), ["job-submit", "job-w-1"], "mixed"),
    (("ml", "jobset.x-k8s.io", "JobSet", "train"), ["train-workers-0-p"], "mixed"),  # Pod -> Job -> JobSet
    (("ml", "kubeflow.org", "PyTorchJob", "pt"), ["pt-worker-0"], "mixed"),  # Master pinned, lower-case label
    (("ml", "batch.volcano.sh", "Job", "same"), ["same-worker-0"], "mixed"),
    (("ml", "batch", "Job", "same"), [], "regular"),  # a batch Job of the same name is another workload
    # the executors (owned by the driver pod) take spec.executor's, the driver spec.driver's annotations
    (("ml", "sparkoperator.k8s.io", "SparkApplication", "pi"), ["pi-driver"], "mixed"),
    (("ml", "argoproj.io", "Workflow", "wf"), ["wf-main-1"], "mixed"),  # the status names each pod's template
    (("ml", "keda.sh", "ScaledJob", "drain"), ["drain-x-p"], "native"),
    (("ml", "serving.knative.dev", "Service", "hello"), ["hello-00002-deployment-7c-a"], "native"),
    (("ml", "apps.kruise.io", "CloneSet", "web"), ["web-a", "web-b"], "native"),
    # the TaskManager's pod template says regular over the common one: only the JobManager is stale
    (("ml", "flink.apache.org", "FlinkDeployment", "stream"), ["stream-5d-jm"], "mixed"),
    # the runner (through EphemeralRunner and its set) and the listener (named by its labels, another namespace)
    (("ci", "actions.github.com", "AutoscalingRunnerSet", "runners"), ["runners-x-r1"], "mixed"),
])
def test_each_pod_is_judged_by_the_place_it_comes_from(rows, key, stale, desired):
    row = rows[key]
    assert (row["stale_pods"], row["desired"], row["restart"]) == (stale, desired, bool(stale))


def test_every_pod_is_under_the_top_of_its_chain(rows, dump):
    pods = [item for item in json.loads(dump)["items"] if item["kind"] == "Pod"]
    assert sum(row["pods"] for row in rows.values()) == len(pods)
    assert {key[2] for key in rows} & {"RayCluster", "Job", "Pod", "Deployment", "EphemeralRunner"} == {"RayCluster", "Job"}


@pytest.mark.parametrize("key, command", [
    (("ml", "ray.io", "RayCluster", "ray"), "kubectl -n ml delete pod ray-cpu-worker-a ray-head-x"),
    (("ml", "serving.knative.dev", "Service", "hello"), "kubectl -n ml rollout restart deployment/hello-00002-deployment"),
    (("ml", "apps.kruise.io", "CloneSet", "web"),
     "kubectl -n ml delete pod web-a && kubectl -n ml wait '--for=jsonpath={.status.readyReplicas}=2' "
     "clonesets.apps.kruise.io/web --timeout=10m && kubectl -n ml delete pod web-b && kubectl -n ml wait "
     "'--for=jsonpath={.status.readyReplicas}=2' clonesets.apps.kruise.io/web --timeout=10m"),
    (("ml", "flink.apache.org", "FlinkDeployment", "stream"),
     "kubectl -n ml patch flinkdeployments.flink.apache.org/stream --type merge -p '{\"spec\":{\"restartNonce\":5}}'"),
])
def test_long_running_kinds_get_a_command(rows, key, command):
    assert rows[key]["command"] == command


@pytest.mark.parametrize("key, words", [
    (("ml", "jobset.x-k8s.io", "JobSet", "train"), "finish in the form they started with"),
    (("ml", "ray.io", "RayJob", "job"), "delete the RayJob and apply it again"),
    (("ml", "batch.volcano.sh", "Job", "same"), "delete the Job and apply it again"),
    (("ml", "sparkoperator.k8s.io", "SparkApplication", "pi"), "re-run it"),
    (("ml", "keda.sh", "ScaledJob", "drain"), "next runs get the desired form"),
    (("ml", "argoproj.io", "Workflow", "wf"), "argo resubmit"),
])
def test_run_to_completion_kinds_get_a_sentence(rows, key, words):
    assert words in rows[key]["command"] and not rows[key]["command"].startswith("kubectl")


def test_the_table_names_an_operators_kind_as_kubectl_does(dump, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(dump)))
    assert cli.main(["pods", "--mesh-default", "native"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Job.batch.volcano.sh" in out and "CloneSet " in out and "Job.batch " not in out


def test_the_policy_preview_decides_every_place(dump, capsys, monkeypatch, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  fallback: keep\n"
                      "  rules:\n  - match: {kinds: [RayCluster, FlinkDeployment]}\n    sidecar: regular\n")
    rows = rows_of(["--mesh-default", "native", "--policy", str(policy)], dump, capsys, monkeypatch)
    # every place of the RayCluster pinned regular (the head's "true" replaced), the Flink merged places too
    for key in (("ml", "ray.io", "RayCluster", "ray"), ("ml", "flink.apache.org", "FlinkDeployment", "stream")):
        assert (rows[key]["desired"], rows[key]["restart"]) == ("regular", False)
    assert rows[("ml", "jobset.x-k8s.io", "JobSet", "train")]["stale_pods"] == ["train-workers-0-p"]  # kept


@pytest.mark.parametrize("second, desired, restart", [("true", "native", True), ("false", "unknown", False)])
def test_a_kind_whose_pods_do_not_name_their_place_is_judged_by_all_of_them(second, desired, restart, capsys,
                                                                            monkeypatch, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  fallback: keep\n"
                      "  workloadKinds:\n  - {kind: Training, apiVersion: ml.example.com/v1, "
                      "podTemplates: [spec.a.template, spec.b.template]}\n")
    training = obj("ml.example.com/v1", "Training", "t", {"a": {"template": template("true")},
                                                           "b": {"template": template(second)}})
    dump = {"kind": "List", "items": [training, running("t-0", [ref("ml.example.com/v1", "Training", "t")])]}
    rows = rows_of(["--mesh-default", "regular", "--policy", str(policy)], json.dumps(dump).encode(), capsys, monkeypatch)
    row = rows[("ml", "ml.example.com", "Training", "t")]
    assert (row["desired"], row["restart"]) == (desired, restart)
