"""`sidecar-policy pods` on a realistic cluster dump: rows, restart commands, exit codes, bad input."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from postrender import cli
from postrender.core.errors import EXIT_CHECK, EXIT_INPUT, EXIT_OK, EXIT_USAGE
from postrender.core.workloads import BUILTIN_KINDS, KindTable
from postrender.pods.clusterdump import read_objects
from postrender.pods.restarts import template_of
from postrender.pods.sidecar_forms import mesh_default, running_form
from tests.support.cluster_dump import REGULAR, cluster_dump, pod
from tests.support.paths import ISTIO_GOLDEN

ANNOTATION = "sidecar.istio.io/nativeSidecar"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("KUBE_VERSION", "NO_COLOR", "SIDECAR_POLICY_LOG_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def dump() -> bytes:
    return json.dumps(cluster_dump(), indent=4).encode()


def run(args: list[str], stdin: bytes, capsys, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = cli.main(["pods", *args])
    out, err = capsys.readouterr()
    return code, out, err


def rows_of(args: list[str], stdin: bytes, capsys, monkeypatch) -> dict[tuple[str, str, str], dict]:
    code, out, err = run([*args, "-o", "json"], stdin, capsys, monkeypatch)
    assert (code, err) == (EXIT_OK, "")
    return {(row["namespace"], row["kind"], row["name"]): row for row in json.loads(out)}


def test_the_dump_is_realistic(dump):
    kinds = [item["kind"] for item in json.loads(dump)["items"]]
    assert kinds.count("Pod") >= 300
    assert {"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Rollout"} <= set(kinds)


def test_after_upgrading_to_native_by_default(dump, capsys, monkeypatch):
    rows = rows_of(["--istio-version", "1.27"], dump, capsys, monkeypatch)
    checkout = rows[("shop", "Deployment", "checkout")]  # mid-rollout: two ReplicaSets under one row
    assert (checkout["pods"], checkout["actual"], checkout["desired"], checkout["restart"]) == (4, "mixed", "native", True)
    assert checkout["stale_pods"] == ["checkout-old-a", "checkout-old-b"]
    assert checkout["command"] == "kubectl -n shop rollout restart deployment/checkout"
    assert rows[("shop", "Deployment", "cart")]["command"] == (
        "kubectl -n shop rollout resume deployment/cart && kubectl -n shop rollout restart deployment/cart")
    assert rows[("shop", "Deployment", "pinned")]["restart"] is False  # the annotation says "false"
    restarted = rows[("shop", "Deployment", "restarted")]
    assert (restarted["actual"], restarted["restart"], restarted["command"]) == ("native", False, None)
    assert rows[("data", "StatefulSet", "cache")]["command"] == "kubectl -n data rollout restart statefulset/cache"
    assert rows[("logging", "DaemonSet", "fluent")]["command"] == "kubectl -n logging rollout restart daemonset/fluent"
    assert rows[("shop", "Rollout", "canary")]["command"] == "kubectl argo rollouts restart canary -n shop"


def test_on_delete_statefulset_deletes_its_pods_one_at_a_time_from_the_highest_ordinal(dump, capsys, monkeypatch):
    command = rows_of(["--istio-version", "1.27"], dump, capsys, monkeypatch)[("data", "StatefulSet", "db")]["command"]
    steps = command.split(" && ")
    assert steps[0::3] == [f"kubectl -n data delete pod db-{n}" for n in (2, 1, 0)]
    assert steps[1::3] == [f"kubectl -n data wait --for=create pod/db-{n} --timeout=10m" for n in (2, 1, 0)]
    assert steps[2::3] == [f"kubectl -n data wait --for=condition=Ready pod/db-{n} --timeout=10m" for n in (2, 1, 0)]
    assert "rollout restart" not in command


def test_on_delete_daemonset_deletes_each_pod_and_waits_for_the_daemonset(dump, capsys, monkeypatch):
    row = rows_of(["--istio-version", "1.27"], dump, capsys, monkeypatch)[("kube-system", "DaemonSet", "node-agent")]
    steps = row["command"].split(" && ")
    assert steps[0::2] == [f"kubectl -n kube-system delete pod node-agent-{n}" for n in "wxyz"]
    assert set(steps[1::2]) == {("kubectl -n kube-system wait '--for=jsonpath={.status.numberReady}=4' "
                                "daemonset/node-agent --timeout=10m")}


def test_jobs_cronjobs_and_bare_pods_get_a_sentence(dump, capsys, monkeypatch):
    rows = rows_of(["--istio-version", "1.27"], dump, capsys, monkeypatch)
    cronjob = rows[("batch", "CronJob", "report")]
    assert cronjob["pods"] == 1  # the finished Job's pod does not run any more
    for key in (("batch", "CronJob", "report"), ("batch", "Job", "migrate"), ("legacy", "Pod", "debug")):
        assert rows[key]["restart"] is True
        assert not rows[key]["command"].startswith("kubectl"), key
    assert ("batch", "Job", "report-29002") not in rows  # its pods belong to the CronJob's row


def test_gateways_and_pods_without_a_sidecar_are_reported_apart(dump, capsys, monkeypatch):
    rows = rows_of(["--istio-version", "1.27"], dump, capsys, monkeypatch)
    apart = {key: (row["actual"], row["restart"], row["command"]) for key, row in rows.items() if row["desired"] is None}
    assert apart == {("istio-system", "Deployment", "istio-ingressgateway"): ("gateway", False, None),
                     ("shop", "Deployment", "no-mesh"): ("none", False, None),
                     ("legacy", "Pod", "plain"): ("none", False, None)}


def test_regular_by_default_flips_the_verdicts(dump, capsys, monkeypatch):
    rows = rows_of(["--istio-version", "1.26"], dump, capsys, monkeypatch)
    assert rows[("shop", "Deployment", "checkout")]["stale_pods"] == ["checkout-new-c", "checkout-new-d"]
    assert rows[("data", "StatefulSet", "db")]["restart"] is False
    assert rows[("shop", "Deployment", "restarted")]["restart"] is True


def test_json_yaml_and_a_stream_read_alike(dump, capsys, monkeypatch):
    data = json.loads(dump)
    as_yaml = yaml.dump(data, Dumper=yaml.CSafeDumper).encode()
    as_stream = yaml.dump_all(data["items"], Dumper=yaml.CSafeDumper).encode()
    expected = rows_of(["--mesh-default", "native"], dump, capsys, monkeypatch)
    assert rows_of(["--mesh-default", "native"], as_yaml, capsys, monkeypatch) == expected
    stream_rows = rows_of(["--mesh-default", "native"], as_stream, capsys, monkeypatch)
    assert {key: {**row} for key, row in stream_rows.items()} == expected


def test_fail_on_restart_exits_3_only_when_a_restart_is_needed(dump, capsys, monkeypatch):
    code, out, _ = run(["--istio-version", "1.27", "--fail-on-restart"], dump, capsys, monkeypatch)
    assert code == EXIT_CHECK and "to restart" in out
    settled = {"apiVersion": "v1", "kind": "List", "items": [
        pod("shop", "ok", REGULAR, {"app": "ok"}, annotations={ANNOTATION: "false"})]}
    code, _, _ = run(["--istio-version", "1.27", "--fail-on-restart"], json.dumps(settled).encode(), capsys, monkeypatch)
    assert code == EXIT_OK


def test_policy_preview_uses_the_engines_decision(dump, capsys, monkeypatch, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  fallback: keep\n"
                      "  rules:\n  - match: {namespaces: [data]}\n    sidecar: regular\n"
                      "  - match: {names: [pinned]}\n    sidecar: default\n")
    rows = rows_of(["--istio-version", "1.27", "--policy", str(policy)], dump, capsys, monkeypatch)
    assert rows[("data", "StatefulSet", "db")]["restart"] is False  # the rule pins data to regular
    assert rows[("shop", "Deployment", "pinned")]["desired"] == "native"  # `default` removes the pin
    assert rows[("shop", "Deployment", "checkout")]["desired"] == "native"  # kept: the mesh default


def test_an_admission_policy_decides_the_pods_created_now(dump, capsys, monkeypatch, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  fallback: regular\n"
                      "  rules:\n  - match: {kinds: [Job, CronJob]}\n    sidecar: native\n"
                      "  - match: {names: [pinned, checkout]}\n    sidecar: default\n")
    args = ["--istio-version", "1.27", "--admission-policy", str(policy)]
    rows = rows_of(args, dump, capsys, monkeypatch)
    assert rows[("data", "StatefulSet", "db")]["desired"] == "regular"  # the fallback, where templates say nothing
    assert rows[("batch", "CronJob", "report")]["desired"] == "native"  # its pods are its Job's: kinds Job
    assert rows[("shop", "Deployment", "checkout")]["desired"] == "native"  # default: the mesh's
    assert rows[("shop", "Deployment", "pinned")]["desired"] == "regular"  # the template's own annotation wins
    overridden = rows_of([*args, "--override-annotated"], dump, capsys, monkeypatch)
    assert overridden[("shop", "Deployment", "pinned")]["desired"] == "native"  # unless told otherwise
    assert rows[("kube-system", "DaemonSet", "node-agent")]["desired"] == "native"  # kube-system: left alone
    code, out, _ = run([*args, "-o", "table"], dump, capsys, monkeypatch)
    assert code == EXIT_OK and f"pods as the admission policy {policy} leaves them" in out.splitlines()[0]


@pytest.mark.parametrize("output", ["table", "markdown"])
def test_people_formats_list_the_commands(dump, capsys, monkeypatch, output):
    code, out, _ = run(["--istio-version", "1.27", "-o", output], dump, capsys, monkeypatch)
    assert code == EXIT_OK
    assert "kubectl -n shop rollout restart deployment/checkout" in out
    assert "istio-ingressgateway" in out and "mesh default native (--istio-version 1.27)" in out


@pytest.mark.parametrize("stdin, line, document", [
    (b'{"kind": "List", "items": [\n  {"kind": "Pod",\n  "spec": ]}\n]}\n', 3, 1),
    (b"kind: Service\n---\nkind: List\nitems:\n- kind: Pod\n- [not, an, object]\n", 6, 2),
    (b"kind: List\nitems:\n- kind: Pod\n  metadata: {name: a, ownerReferences: x}\n", 3, 1),
    (b"kind: Pod\nmetadata: {name: a, annotations: [x]}\nspec: {containers: []}\n", 1, 1),
])
def test_bad_input_exits_1_with_document_and_line(stdin, line, document, capsys, monkeypatch):
    code, out, err = run(["--mesh-default", "native"], stdin, capsys, monkeypatch)
    assert (code, out) == (EXIT_INPUT, "")
    assert f"<stdin>:{line}" in err and f"document {document}" in err


@pytest.mark.parametrize("args", [[], ["--istio-version", "latest"], ["--mesh-default", "sometimes"]])
def test_the_mesh_default_must_be_known(args, capsys, monkeypatch):
    code, _, err = run(args, b"", capsys, monkeypatch)
    assert code == EXIT_USAGE and err


@pytest.mark.parametrize("form, istio, kube, expected", [
    (None, "1.26.3", None, "regular"),
    (None, "1.27", None, "native"),
    (None, "v1.28.0", (1, 32), "regular"),  # `auto`: kubelets before 1.33 keep regular
    (None, "1.28", (1, 33), "native"),
    ("native", "1.26", None, "native"),  # said outright: wins over the version
])
def test_mesh_default_from_the_istio_version(form, istio, kube, expected):
    assert mesh_default(form, istio, kube).form == expected


@pytest.mark.parametrize("annotations, since_1_27, from_1_24, before_1_24", [
    ({}, "regular", "regular", "regular"),
    ({ANNOTATION: "true"}, "native", "native", "regular"),
    ({ANNOTATION: "false"}, "regular", "regular", "regular"),
    ({ANNOTATION: "yes"}, "native", "regular", "regular"),
    ({ANNOTATION: ""}, "regular", "regular", "regular"),
])
def test_the_annotation_as_each_injection_template_reads_it(annotations, since_1_27, from_1_24, before_1_24):
    assert mesh_default("regular", "1.27", None).form_for(annotations) == since_1_27
    assert mesh_default("regular", "1.24", None).form_for(annotations) == from_1_24
    assert mesh_default("regular", "1.23", None).form_for(annotations) == before_1_24
    assert mesh_default("native", "1.23", None).form_for({ANNOTATION: "false"}) == "native"  # not read at all


@pytest.mark.parametrize("form", ["json", "yaml", "stream"])
def test_kubectl_reads_the_same_objects_from_the_dump(dump, tmp_path, form):
    """Kubernetes is the reader of record: kubectl's reader (sigs.k8s.io/yaml) sees the objects ours does."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is needed") if os.environ.get("CI") else pytest.skip("kubectl not installed")
    data = json.loads(dump)
    text = {"json": dump, "yaml": yaml.dump(data, Dumper=yaml.CSafeDumper).encode(),
            "stream": yaml.dump_all(data["items"], Dumper=yaml.CSafeDumper).encode()}[form]
    path = tmp_path / f"dump.{form}"
    path.write_bytes(text)
    done = subprocess.run([kubectl, "label", "--local", "-f", str(path), "checked=yes", "-o", "json"],
                          capture_output=True, text=True, check=True)
    theirs, position, decoder = [], 0, json.JSONDecoder()
    while position < len(done.stdout.rstrip()):  # one JSON object after another
        obj, position = decoder.raw_decode(done.stdout, position)
        theirs.append(obj)
        position += len(done.stdout[position:]) - len(done.stdout[position:].lstrip())
    with path.open("rb") as source:
        ours = list(read_objects(source, str(path)))
    assert [(o.kind, o.namespace, o.name, o.metadata.get("ownerReferences")) for o in ours] == [
        (t["kind"], t["metadata"]["namespace"], t["metadata"]["name"], t["metadata"].get("ownerReferences"))
        for t in theirs]


@pytest.mark.parametrize("stdin", [
    b'{"kind": "List", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",  # deeper than any object
    (b"kind: List\nitems:\n- &a [x, x, x, x, x, x, x, x, x, x]\n- &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    b"- &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n- &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    b"- &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n- &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    b"- [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"),  # ten billion laughs
])
def test_hostile_dumps_are_refused_as_bad_input(stdin, capsys, monkeypatch):
    code, out, err = run(["--mesh-default", "native"], stdin, capsys, monkeypatch)
    assert (code, out) == (EXIT_INPUT, "")
    assert "document 1" in err


def test_a_static_pod_is_its_own_row_with_a_sentence(capsys, monkeypatch):
    mirror = pod("kube-system", "etcd-node-1", REGULAR, {"app": "etcd"},
                 owner=[{"apiVersion": "v1", "kind": "Node", "name": "node-1", "controller": True}])
    rows = rows_of(["--mesh-default", "native"], json.dumps(mirror).encode(), capsys, monkeypatch)
    row = rows[("kube-system", "Pod", "etcd-node-1")]
    assert row["restart"] is True and row["command"].startswith("a static pod")


def _golden_cases():
    for case in sorted(ISTIO_GOLDEN.iterdir()):
        # kube-inject writes a CronJob's status on spec.jobTemplate.metadata; the webhook, which made
        # the running pods, writes it on each pod: that template alone is not what a running pod looks like.
        if not case.is_dir() or case.name.endswith("cronjob"):
            continue
        for name, form in (("regular.injected.yaml", "regular"), ("native.injected.yaml", "native")):
            if (case / name).exists():
                yield pytest.param(case / name, form, id=f"{case.name}-{form}")
        if (case / "injected.yaml").exists():  # the opt-in / opt-out cases: the annotation decided
            form = "native" if case.name.endswith("opt-in") else "regular"
            yield pytest.param(case / "injected.yaml", form, id=f"{case.name}-{form}")


@pytest.mark.parametrize("path, form", list(_golden_cases()))
def test_the_running_form_of_pods_istio_injected(path, form):
    """Istio's own injection goldens: every pod template in them runs the form its file is named for."""
    kinds = KindTable(BUILTIN_KINDS)
    found = []
    with path.open("rb") as source:
        for obj in read_objects(source, str(path)):
            template = template_of(obj, kinds)
            if template is not None:
                found.append(running_form(template))
    assert found and set(found) == {form}
