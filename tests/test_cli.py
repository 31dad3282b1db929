"""The command as users meet it: arguments, environment, messages and exit codes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from postrender import __version__
from tests.support.helpers import POLICY_HEADER, run_command

DEPLOYMENT = b"""\
---
# Source: shop/templates/api.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    metadata:
      labels: {app: api}
    spec:
      containers: [{name: api, image: api}]
"""


@pytest.fixture
def policy(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_HEADER + "spec:\n  rules:\n  - {name: team-ns, match: {namespaces: [team-*]}, sidecar: native}\n")
    return str(path)


def test_version_and_help():
    assert run_command(["--version"]).stdout.decode().strip() == f"sidecar-policy {__version__}"
    help_text = run_command(["--help"]).stdout.decode()
    assert "--post-renderer sidecar-policy" in help_text and "exit codes" in help_text
    # the form docs/helm.md advises: each argument its own flag, joined with '='
    assert "--post-renderer-args=--policy=policy.yaml" in help_text and "--post-renderer-args --" not in help_text


def test_python_dash_m_runs_the_same_command():
    result = subprocess.run([sys.executable, "-m", "postrender", "--version"], capture_output=True)
    assert result.stdout.decode().strip() == f"sidecar-policy {__version__}"


def test_namespace_comes_from_the_flag_then_argocd_and_is_never_guessed(policy):
    def run(args, env=None):
        return run_command(["--policy", policy, *args], DEPLOYMENT, env)

    def annotated(args, env=None):
        result = run(args, env)
        assert result.returncode == 0, result.stderr
        return b"nativeSidecar" in result.stdout

    assert annotated(["--namespace", "team-a"])
    assert annotated([], {"ARGOCD_APP_NAMESPACE": "team-b"})
    assert not annotated(["--namespace", "prod"], {"ARGOCD_APP_NAMESPACE": "team-a"})
    assert not annotated(["--namespace="])  # said explicitly: no namespace
    # Nobody said (HELM_NAMESPACE is not taken: `helm -n` overrides it for Helm, not for us): the
    # namespace rule cannot decide, and that is an error, not a silent miss.
    for env in (None, {"HELM_NAMESPACE": "team-a"}):
        result = run([], env)
        assert result.returncode == 1 and result.stdout == b""
        assert b"--namespace" in result.stderr and b"Deployment api" in result.stderr


@pytest.mark.parametrize(("args", "env", "code"), [
    ([], {}, 0),
    (["--fail-on=error"], {}, 0),  # SP401 is a warning
    (["--fail-on=warning"], {}, 3),
    ([], {"SIDECAR_POLICY_FAIL_ON": "warning"}, 3),
    (["--fail-on=error"], {"SIDECAR_POLICY_FAIL_ON": "warning"}, 0),  # the flag wins
    ([], {"SIDECAR_POLICY_FAIL_ON": "warnings"}, 2),
])
def test_fail_on_turns_findings_into_a_failed_render(policy, args, env, code):
    result = run_command(["--policy", policy, "--namespace=prod", *args], DEPLOYMENT, env)
    assert result.returncode == code, result.stderr
    if code == 3:
        assert b"error: " in result.stderr and b"SP401 rule 1 'team-ns'" in result.stderr
    if code == 2:
        assert b"SIDECAR_POLICY_FAIL_ON" in result.stderr and result.stdout == b""


def test_a_mistyped_argument_reaches_the_log_file(policy, tmp_path):
    """Helm 4 without a terminal shows nothing of ours: even a usage error must be in the log."""
    log = tmp_path / "sidecar-policy.log"
    result = run_command([f"--polcy={policy}", f"--log-file={log}"], DEPLOYMENT)
    assert result.returncode == 2 and "--polcy" in log.read_text()


def test_policy_from_the_environment(policy):
    result = run_command(["--namespace=team-a"], DEPLOYMENT, {"SIDECAR_POLICY": policy})
    assert result.returncode == 0 and b'sidecar.istio.io/nativeSidecar: "true"' in result.stdout


def test_missing_policy_is_a_usage_error():
    result = run_command([], DEPLOYMENT)
    assert result.returncode == 2
    assert result.stderr.decode() == "sidecar-policy: error: no policy: pass --policy PATH or set SIDECAR_POLICY\n"


@pytest.mark.parametrize(("joined", "separate"), [
    ("--policy {policy}", ["--policy={policy}"]),
    ("--policy={policy} --namespace=team-a", ["--policy={policy}", "--namespace=team-a"]),
    ("-q --namespace team-a", ["-q", "--namespace=team-a"]),
    ("--fail-on error --namespace=team-a", ["--fail-on=error", "--namespace=team-a"]),
])
def test_options_joined_in_one_argument_are_named_as_such(policy, joined, separate):
    """`--post-renderer-args="--policy p.yaml"` reaches us as one argument (Helm runs no shell): the
    message says so instead of "no policy", and the separate flags it advises work as written."""
    result = run_command([joined.format(policy=policy)], DEPLOYMENT, {"SIDECAR_POLICY": policy})
    assert result.returncode == 2 and result.stdout == b""
    message = result.stderr.decode()
    assert len(message.splitlines()) == 1 and "arrived as one argument" in message and "no policy" not in message
    advised = re.findall(r"--post-renderer-args=(\S+)", message)
    assert advised == [argument.format(policy=policy) for argument in separate]
    result = run_command([*advised, "--namespace=team-a"], DEPLOYMENT, {"SIDECAR_POLICY": policy})
    assert result.returncode == 0 and b'sidecar.istio.io/nativeSidecar: "true"' in result.stdout


def test_a_value_with_a_space_is_one_argument_on_purpose(tmp_path, policy):
    spaced = tmp_path / "my policy.yaml"
    spaced.write_text(open(policy).read())
    result = run_command([f"--policy={spaced}", "--namespace=team-a"], DEPLOYMENT)
    assert result.returncode == 0 and b'sidecar.istio.io/nativeSidecar: "true"' in result.stdout


def test_a_mistyped_option_is_one_line_and_exit_2(policy):
    result = run_command(["--polcy", policy], DEPLOYMENT)
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.decode().startswith("sidecar-policy: error: unrecognized arguments: --polcy")


def test_unmatched_rules_warn_unless_quiet(policy):
    result = run_command(["--policy", policy, "--namespace=prod"], DEPLOYMENT)
    assert result.returncode == 0
    assert result.stderr.decode() == (f"sidecar-policy: warning: {policy}:5: SP401 rule 1 'team-ns': matches no workload: "
                                      "fix its match, or delete it if the manifests no longer need it\n")
    assert run_command(["--policy", policy, "--namespace=prod", "--quiet"], DEPLOYMENT).stderr == b""


def test_files_as_arguments_are_read_in_order(policy, tmp_path):
    (tmp_path / "a.yaml").write_bytes(DEPLOYMENT)
    (tmp_path / "b.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    result = run_command(["--policy", policy, "--namespace=team-a", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")])
    assert result.returncode == 0
    assert result.stdout.count(b"nativeSidecar") == 1 and result.stdout.endswith(b"metadata: {name: c}\n")


def test_files_without_final_newline_or_marker_stay_separate_documents(policy, tmp_path):
    (tmp_path / "a.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}")
    (tmp_path / "b.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    (tmp_path / "c.yaml").write_bytes(b"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    result = run_command(["--policy", policy, "-q", *(str(tmp_path / n) for n in ("a.yaml", "b.yaml", "c.yaml"))])
    assert result.stdout == (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
        b"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
    )


@pytest.mark.parametrize(
    "document, message",
    [
        (b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: [broken\n", ":19:1 document 2 (shop/templates/bad.yaml): did not find expected"),
        (b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  name: b\nspec: {template: {}}\n",
         ":19:3 document 2 (shop/templates/bad.yaml): Deployment: duplicate key 'name'"),  # its name is the error
        (b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: caf\xe9\n", ":18 document 2 (shop/templates/bad.yaml): not UTF-8"),
        (b"kind: Deployment\napiVersion: apps/v1\nmetadata: {name: bad}\nspec:\n  template:\n    metadata:\n      annotations: [a]\n",
         ":21:20 document 2 (shop/templates/bad.yaml): Deployment bad: template.metadata.annotations must be a mapping"),
        (b"kind: Deployment\napiVersion: apps/v1\nmetadata:\n  name: bad\n  annotations:\n"
         b"    postrenderer.helm.sh/postrender-filename: 'shop/templates/bad.yaml'\nspec:\n  template:\n    metadata:\n      annotations: [a]\n",
         "document 2 (shop/templates/bad.yaml): Deployment bad: template.metadata.annotations must be a mapping"),
    ],
)
def test_broken_workloads_name_file_document_source_and_line(policy, document, message):
    """The template's file comes from Helm 3's `# Source:` or Helm 4's filename annotation; the object by kind and name."""
    source = b"" if b"postrender-filename" in document else b"# Source: shop/templates/bad.yaml\n"
    stream = DEPLOYMENT + b"---\n" + source + document
    result = run_command(["--policy", policy, "--namespace=team-a"], stream)
    stderr = result.stderr.decode()
    assert result.returncode == 1
    assert stderr.startswith("sidecar-policy: error: <stdin>:") and message in stderr
    assert "Traceback" not in stderr and stderr.count("\n") == 1


def test_documents_that_cannot_be_workloads_are_not_parsed(policy):
    """A CRD is passed through as bytes: even YAML that would not parse is not ours to judge."""
    crd = b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: {unclosed: [\n"
    result = run_command(["--policy", policy, "--namespace=team-a"], crd + b"---\n" + DEPLOYMENT.removeprefix(b"---\n"))
    assert result.returncode == 0 and result.stdout.startswith(crd)
