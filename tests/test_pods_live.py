"""`pods` without a dump reads the live cluster with the real kubectl: when it does, and how it fails.

These need kubectl but no cluster: the servers here refuse or never answer, on loopback. What
`pods` reads from a real API server is tests/test_e2e_pods.py's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from postrender.core.errors import EXIT_INPUT, EXIT_OK, EXIT_TOOL, EXIT_USAGE
from postrender.core.policy import parse_policy
from postrender.core.workloads import BUILTIN_KINDS, KindTable
from postrender.pods.livecluster import served_resources
from tests.support.cluster_dump import REGULAR, pod
from tests.support.helpers import installed_command

MESH = ["--mesh-default", "native"]
LIVE_ERROR = "sidecar-policy: error: `kubectl api-resources"  # our line when kubectl could not list the API
DUMP = json.dumps({"apiVersion": "v1", "kind": "List", "items": [pod("shop", "web-1", REGULAR, {"app": "web"})]}).encode()


def kubeconfig(path: Path, port: int) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "here",
        "clusters": [{"name": "here", "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "here", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "here", "context": {"cluster": "here", "user": "here"}}]}))
    return path


@pytest.fixture
def refused(tmp_path: Path) -> Path:
    """A kubeconfig whose server refuses connections: a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return kubeconfig(tmp_path / "refused.kubeconfig", port)


@pytest.fixture
def silent(tmp_path: Path) -> Iterator[Path]:
    """A kubeconfig whose server accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield kubeconfig(tmp_path / "silent.kubeconfig", server.getsockname()[1])


PIPED = "piped"  # pods()'s stdin: DUMP through a pipe


def pods(args: list[str], stdin: Any = subprocess.DEVNULL, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `sidecar-policy pods` with `stdin` (a file, DEVNULL, or PIPED), no cluster of the machine's."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("SIDECAR_POLICY", "KUBE"))}
    environment.update(env or {})
    piped = isinstance(stdin, str) and stdin == PIPED
    return subprocess.run([installed_command(), "pods", *MESH, *args], stdin=None if piped else stdin,
                          input=DUMP.decode() if piped else None, capture_output=True, text=True,
                          env=environment, timeout=120, check=False)


def test_nothing_piped_in_reads_the_live_cluster(refused: Path) -> None:
    done = pods([], env={"KUBECONFIG": str(refused)})  # stdin is /dev/null, as at a terminal: nothing to read
    assert (done.returncode, done.stdout) == (EXIT_TOOL, "")
    assert done.stderr.splitlines()[-1].startswith(LIVE_ERROR)


@pytest.mark.parametrize("how", ["pipe", "redirect", "file", "dash"])
def test_a_dump_piped_in_or_named_is_read_and_the_cluster_is_not(how: str, refused: Path, tmp_path: Path) -> None:
    dump = tmp_path / "cluster.json"
    dump.write_bytes(DUMP)
    env = {"KUBECONFIG": str(refused)}  # were the cluster read, this would fail with exit 4
    with dump.open("rb") as redirected:
        done = {"pipe": lambda: pods(["-o", "json"], PIPED, env),
                "redirect": lambda: pods(["-o", "json"], redirected, env),
                "file": lambda: pods(["-o", "json", str(dump)], env=env),
                "dash": lambda: pods(["-o", "json", "-"], redirected, env)}[how]()
    assert done.returncode == EXIT_OK, done.stderr
    assert [(row["kind"], row["name"]) for row in json.loads(done.stdout)] == [("Pod", "web-1")]


@pytest.mark.parametrize("flag", [["-n", "shop"], ["-A"], ["--context", "here"], ["--kubeconfig", "KUBECONFIG"]])
def test_kubectls_flags_read_the_live_cluster_even_with_a_pipe(flag: list[str], refused: Path) -> None:
    flag = [str(refused) if word == "KUBECONFIG" else word for word in flag]
    done = pods(flag, PIPED, {"KUBECONFIG": str(refused)})
    assert (done.returncode, done.stdout) == (EXIT_TOOL, "")
    assert done.stderr.splitlines()[-1].startswith(LIVE_ERROR)


def test_the_flags_reach_kubectl(refused: Path, tmp_path: Path) -> None:
    """--kubeconfig and --context are kubectl's: a context the file lacks is kubectl's error, shown in ours."""
    done = pods(["--kubeconfig", str(refused), "--context", "elsewhere"], env={"KUBECONFIG": str(tmp_path / "none")})
    assert done.returncode == EXIT_TOOL
    last = done.stderr.splitlines()[-1]
    assert last.startswith(LIVE_ERROR) and f"--kubeconfig {refused} --context elsewhere" in last
    assert "elsewhere" in last.partition("failed with exit code")[2]  # kubectl's own line, carried into ours


def test_kubectls_flags_and_a_file_are_refused(tmp_path: Path) -> None:
    dump = tmp_path / "cluster.json"
    dump.write_bytes(DUMP)
    done = pods(["-A", str(dump)])
    assert (done.returncode, done.stdout) == (EXIT_USAGE, "")
    assert "--all-namespaces" in done.stderr


@pytest.mark.parametrize("how", ["stdin", "file"])
def test_an_empty_dump_is_bad_input_not_an_empty_cluster(how: str, tmp_path: Path) -> None:
    """What `kubectl get ... > cluster.json` leaves when kubectl fails: it must not pass --fail-on-restart."""
    empty = tmp_path / "cluster.json"
    empty.write_text("\n")
    with empty.open("rb") as stdin:
        done = pods(["--fail-on-restart", *([str(empty)] if how == "file" else [])], stdin)
    assert (done.returncode, done.stdout) == (EXIT_INPUT, "")
    assert (str(empty) if how == "file" else "<stdin>") in done.stderr


def test_without_kubectl_on_path_it_says_so(tmp_path: Path) -> None:
    done = pods([], env={"PATH": str(tmp_path)})
    assert (done.returncode, done.stdout) == (EXIT_TOOL, "")
    assert done.stderr.count("\n") == 1 and "kubectl is not on PATH" in done.stderr


def test_a_server_that_never_answers_is_given_up_after_the_timeout(silent: Path) -> None:
    started = time.monotonic()
    done = pods(["--kubeconfig", str(silent), "--timeout", "2s"])
    elapsed = time.monotonic() - started
    assert (done.returncode, done.stdout) == (EXIT_TOOL, "")
    assert "did not finish within 2 s" in done.stderr.splitlines()[-1]
    assert elapsed < 60, f"gave up after {elapsed:.0f} s, not about 2 s"  # generous: a loaded machine
    assert not _processes_naming(str(silent)), "kubectl was left running"


def _processes_naming(word: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if word in command:
            found.append(f"{proc.name}: {command}")
    return found


@pytest.mark.parametrize("value", ["0", "-1s", "2 minutes", "5d"])
def test_a_timeout_must_be_a_positive_duration(value: str) -> None:
    done = pods(["--timeout", value])
    assert done.returncode == EXIT_USAGE and "--timeout" in done.stderr


def test_kubectl_runs_it_as_a_plugin(tmp_path: Path) -> None:
    """`kubectl sidecar-policy pods ...` runs the console script kubectl-sidecar_policy from PATH with
    the arguments after its name (kubernetes/kubectl pkg/cmd/plugin.go HandlePluginCommand)."""
    dump = tmp_path / "cluster.json"
    dump.write_bytes(DUMP)
    env = {"PATH": os.pathsep.join([str(Path(installed_command()).parent), os.environ["PATH"]]), "HOME": str(tmp_path)}
    listed = subprocess.run(["kubectl", "plugin", "list"], env=env, capture_output=True, text=True, check=False)
    assert str(Path(installed_command()).with_name("kubectl-sidecar_policy")) in listed.stdout.splitlines()
    direct = pods(["-o", "json", str(dump)])
    plugin = subprocess.run(["kubectl", "sidecar-policy", "pods", *MESH, "-o", "json", str(dump)], env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
    assert (plugin.returncode, plugin.stdout) == (EXIT_OK, direct.stdout), plugin.stderr


# --- which resources the live reading lists ----------------------------------------------------

API_RESOURCES = """\
pods                              po           v1                                true         Pod
podtemplates                                   v1                                true         PodTemplate
services                          svc          v1                                true         Service
deployments                       deploy       apps/v1                           true         Deployment
replicasets                       rs           apps/v1                           true         ReplicaSet
cronjobs                          cj           batch/v1                          true         CronJob
jobs                                           batch/v1                          true         Job
rollouts                          ro           argoproj.io/v1alpha1              true         Rollout
deployments                                    example.com/v1                    true         Deployment
trainjobs                                      trainer.kubeflow.org/v1alpha1     true         TrainJob
"""


def test_every_kind_of_the_table_the_server_serves_is_listed_under_its_group() -> None:
    assert served_resources(API_RESOURCES, KindTable(BUILTIN_KINDS)) == [
        "pods", "podtemplates", "deployments.apps", "replicasets.apps", "cronjobs.batch", "jobs.batch",
        "rollouts.argoproj.io", "trainjobs.trainer.kubeflow.org"]  # not Service, nor a Deployment of another group;
    # a TrainJob owns the JobSet its pods come from (an owner chain's kind: pods/dump_resources.py)


def test_the_policys_own_kinds_are_listed_too() -> None:
    policy = parse_policy("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  workloadKinds:\n"
                          "  - {kind: Deployment, apiVersion: example.com/v1, podTemplate: spec.template}\n"
                          "  rules: []\n", "policy.yaml")
    assert "deployments.example.com" in served_resources(API_RESOURCES, policy.kinds)


def test_a_line_of_another_shape_is_not_guessed_at() -> None:
    with pytest.raises(ValueError):
        served_resources("Please enter Username: ", KindTable(BUILTIN_KINDS))
