"""sidecar-policy run end to end exactly as Helm 4 (the plugin) and Helm 3 (--post-renderer PATH) run it.

Helm cannot be installed here, so these tests follow Helm's source; tests/helm_contract.py emulates
each step and names its file. Helm 4 (helm/helm v4.2.4 and main): pkg/action/action.go builds the
stream (annotateAndMerge: hooks included, no `# Source:` comments, a
postrenderer.helm.sh/postrender-filename annotation on every document) and reads the answer back
(splitAndDeannotate); pkg/postrenderer/postrenderer.go rejects empty output;
internal/plugin/runtime_subprocess.go and subprocess_commands.go run the plugin's command with the
--post-renderer-args, HELM_PLUGIN_NAME/HELM_PLUGIN_DIR, no shell, and discard its stderr.
Helm 3 (v3.21.4): pkg/postrender/exec.go execs the program found on PATH with the args, no shell;
pkg/action/action.go hands it the manifests with `# Source:` comments and without hooks.
The input is the corpus' raw `helm template` output of ingress-nginx 4.0.15.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.helm_contract import (
    FILENAME_ANNOTATION,
    HOOK_ANNOTATION,
    PLUGIN_DIR,
    PluginRun,
    helm3_stream,
    helm4_accepts,
    helm4_stream,
    run_like_helm3,
    run_like_helm4,
    split_rendered,
)
from tests.support.paths import CORPUS

CHART_OUTPUT = CORPUS / "ingress-nginx-cloud-deploy-helm-4.0.15-with-source-comments.yaml"
# The corpus' Namespace was added by kustomize after Helm; under Helm 4 it would come from a template.
NAMESPACE_TEMPLATE = "ingress-nginx/templates/namespace.yaml"
NATIVE = "sidecar.istio.io/nativeSidecar"
HOOK_JOBS = {
    "ingress-nginx/templates/admission-webhooks/job-patch/job-createSecret.yaml",
    "ingress-nginx/templates/admission-webhooks/job-patch/job-patchWebhook.yaml",
}
CONTROLLER = "ingress-nginx/templates/controller-deployment.yaml"

POLICY = """\
apiVersion: sidecar-policy/v1alpha1
kind: SidecarPolicy
spec:
  rules:
  - name: hook-jobs-are-native
    match: {kinds: [Job]}
    sidecar: native
  - name: controller-stays-regular
    match: {kinds: [Deployment], labels: app.kubernetes.io/component=controller}
    sidecar: regular
"""


@pytest.fixture(scope="module")
def rendered() -> list[tuple[str, str]]:
    return split_rendered(CHART_OUTPUT.read_text(encoding="utf-8"))


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def helm_env(**extra: str) -> dict[str, str]:
    """Helm's environment as a user's shell would have it: sidecar-policy installed (this test's
    virtualenv on PATH), none of our own variables unless a test sets them."""
    ours = ("HELM_NAMESPACE", "ARGOCD_APP_NAMESPACE", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_POLICY") and k not in ours}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return {**env, **extra}


def pod_template_annotations(doc: dict[str, Any]) -> dict[str, Any]:
    template = (doc.get("spec") or {}).get("template") or {}
    return (template.get("metadata") or {}).get("annotations") or {}


def documents(stream: bytes) -> list[str]:
    return re.split(r"^---\n", stream.decode("utf-8"), flags=re.MULTILINE)


def added_lines(before: str, after: str) -> list[str]:
    """The lines `after` adds to `before`; fails if it removes or changes any."""
    diff = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert not [line for line in diff if line.startswith("-")], diff
    return [line[2:].strip() for line in diff]


# --- Helm 4 -------------------------------------------------------------------------------------


def test_helm4_gets_every_document_back_under_its_filename_and_hooks_post_rendered(rendered, policy, tmp_path: Path) -> None:
    stream = helm4_stream(rendered, NAMESPACE_TEMPLATE)
    run = run_like_helm4(PLUGIN_DIR, stream, [f"--policy={policy}"], helm_env(), cwd=tmp_path)
    files = helm4_accepts(run)
    untouched = helm4_accepts(PluginRun(0, stream, b""))
    # A lost or altered filename annotation would show up as a generated-by-postrender-N.yaml file.
    assert sorted(files) == sorted(untouched)
    for filename, docs in files.items():
        assert len(docs) == len(untouched[filename]), filename
    for filename in HOOK_JOBS:
        (job,) = files[filename]
        assert job["metadata"]["annotations"][HOOK_ANNOTATION], "still a hook"
        assert pod_template_annotations(job) == {NATIVE: "true"}
    assert pod_template_annotations(files[CONTROLLER][0])[NATIVE] == "false"


def test_helm4_stream_changes_only_by_the_annotation_lines(rendered, policy, tmp_path: Path) -> None:
    stream = helm4_stream(rendered, NAMESPACE_TEMPLATE)
    run = run_like_helm4(PLUGIN_DIR, stream, [f"--policy={policy}"], helm_env(), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    before, after = documents(stream), documents(run.stdout)
    assert len(after) == len(before)
    changed = {}
    for old, new in zip(before, after):
        if old != new:
            filename = re.search(rf"{re.escape(FILENAME_ANNOTATION)}: '(.+)'", new).group(1)
            changed[filename] = added_lines(old, new)
    assert changed == {
        **{job: ["annotations:", f'{NATIVE}: "true"'] for job in HOOK_JOBS},
        CONTROLLER: ["annotations:", f'{NATIVE}: "false"'],
    }


POD_TEMPLATE = """\
apiVersion: v1
kind: Pod
metadata:
  name: chart-test-connection
  annotations:
    helm.sh/hook: test
{annotations}spec:
  containers: []
"""


@pytest.mark.parametrize("sidecar", ["native", "regular", "default"])
@pytest.mark.parametrize("existing", ["none", "before-filename", "after-filename"])
def test_helm4_filename_annotation_survives_edits_to_the_same_map(sidecar: str, existing: str, tmp_path: Path) -> None:
    """A Pod (e.g. a `helm test` hook) carries the policy's annotation in metadata.annotations, the
    very map where Helm 4 put its filename annotation: setting, replacing or removing ours must
    leave Helm's line as it was."""
    filename_line = f"    {FILENAME_ANNOTATION}: 'chart/templates/tests/test-connection.yaml'\n"
    ours = f'    {NATIVE}: "false"\n' if sidecar == "native" else f'    {NATIVE}: "true"\n'
    lines = {"none": filename_line, "before-filename": ours + filename_line, "after-filename": filename_line + ours}
    stream = POD_TEMPLATE.format(annotations=lines[existing]).encode()
    (tmp_path / "policy.yaml").write_text(
        "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  rules:\n"
        f"  - match: {{kinds: [Pod]}}\n    sidecar: {sidecar}\n"
    )
    run = run_like_helm4(PLUGIN_DIR, stream, ["--policy=policy.yaml", "--quiet"], helm_env(), cwd=tmp_path)
    assert filename_line in run.stdout.decode()
    (pod,) = helm4_accepts(run)["chart/templates/tests/test-connection.yaml"]
    expected = {"native": "true", "regular": "false", "default": None}[sidecar]
    assert pod["metadata"]["annotations"].get(NATIVE) == expected
    assert pod["metadata"]["annotations"][HOOK_ANNOTATION] == "test"


DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers: []\n"


@pytest.mark.parametrize("stream", [
    b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    "
    + FILENAME_ANNOTATION.encode() + b": 'chart/templates/c.yaml'\n",
    DEPLOYMENT.encode(),
    b"# only a comment\n---\n",
    b"---\n",
], ids=["config-only", "workload-the-policy-keeps", "comment-document", "separator-only"])
def test_helm4_never_gets_empty_output_for_non_empty_input(stream: bytes, policy, tmp_path: Path) -> None:
    run = run_like_helm4(PLUGIN_DIR, stream, [f"--policy={policy}", "--quiet"], helm_env(), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == stream


@pytest.mark.parametrize("how", ["post-renderer-arg", "exported-HELM_NAMESPACE", "helm -n alone"])
def test_helm4_namespace_reaches_the_plugin_only_when_passed_on(how: str, tmp_path: Path) -> None:
    """`helm install -n team-a` does not tell a post-renderer (runtime_subprocess.go passes only
    HELM_PLUGIN_NAME/DIR on top of Helm's own environment), and charts usually omit
    metadata.namespace: `--post-renderer-args=--namespace=team-a` or an exported HELM_NAMESPACE does."""
    (tmp_path / "policy.yaml").write_text(
        "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  rules:\n"
        "  - match: {namespaces: ['team-*']}\n    sidecar: native\n"
    )
    stream = helm4_stream([("app/templates/deployment.yaml", DEPLOYMENT)], "")
    args, env = ["--policy=policy.yaml", "--quiet"], helm_env()
    if how == "post-renderer-arg":
        args.append("--namespace=team-a")
    elif how == "exported-HELM_NAMESPACE":
        env["HELM_NAMESPACE"] = "team-a"
    files = helm4_accepts(run_like_helm4(PLUGIN_DIR, stream, args, env, cwd=tmp_path))
    (deployment,) = files["app/templates/deployment.yaml"]
    assert pod_template_annotations(deployment).get(NATIVE) == (None if how == "helm -n alone" else "true")


BROKEN_POLICY = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  rulez: []\n"
BROKEN_WORKLOAD = b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: [\n"


@pytest.mark.parametrize(("policy_text", "stream", "code", "logged"), [
    (BROKEN_POLICY, b"", 2, "policy.yaml:4:3: unknown field 'rulez'"),
    (POLICY, BROKEN_WORKLOAD, 1, "document 1"),
], ids=["bad-policy", "bad-manifest"])
@pytest.mark.parametrize("how", ["--log-file", "SIDECAR_POLICY_LOG_FILE"])
def test_helm4_failures_are_findable_in_the_log_file(policy_text, stream, code, logged, how, tmp_path: Path) -> None:
    """Helm 4 shows only 'plugin "sidecar-policy" exited with error': the reason must be in the log."""
    (tmp_path / "policy.yaml").write_text(policy_text)
    log = tmp_path / "sidecar-policy.log"
    args, env = ["--policy=policy.yaml"], helm_env()
    if how == "--log-file":
        args.append(f"--log-file={log}")
    else:
        env["SIDECAR_POLICY_LOG_FILE"] = str(log)
    run = run_like_helm4(PLUGIN_DIR, stream, args, env, cwd=tmp_path)
    assert run.returncode == code
    assert logged in log.read_text()


def test_helm4_a_mistyped_post_renderer_arg_is_findable_in_the_log_file(policy, tmp_path: Path) -> None:
    log = tmp_path / "sidecar-policy.log"
    env = helm_env(SIDECAR_POLICY_LOG_FILE=str(log))
    run = run_like_helm4(PLUGIN_DIR, b"", [f"--polcy={policy}"], env, cwd=tmp_path)
    assert run.returncode == 2
    assert log.exists() and "--polcy" in log.read_text()


def test_helm4_warnings_reach_the_log_file_too(rendered, tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY.replace("kinds: [Job]", "kinds: [CronJob]"))
    log = tmp_path / "sidecar-policy.log"
    stream = helm4_stream(rendered, NAMESPACE_TEMPLATE)
    run = run_like_helm4(PLUGIN_DIR, stream, ["--policy=policy.yaml", f"--log-file={log}"], helm_env(), cwd=tmp_path)
    assert run.returncode == 0
    assert "SP401 rule 1 'hook-jobs-are-native': matches no workload" in log.read_text()


# --- Helm 3 -------------------------------------------------------------------------------------


def test_helm3_execs_sidecar_policy_on_the_manifests_without_hooks(rendered, policy, tmp_path: Path) -> None:
    stream = helm3_stream(rendered)
    run = run_like_helm3("sidecar-policy", stream, ["--policy=policy.yaml"], helm_env(), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    before, after = documents(stream), documents(run.stdout)
    sources = [re.findall(r"^# Source: (.*)", doc, re.MULTILINE) for doc in before]
    assert [re.findall(r"^# Source: (.*)", doc, re.MULTILINE) for doc in after] == sources
    changed = {source[0]: added_lines(old, new) for source, old, new in zip(sources, before, after) if old != new}
    assert changed == {CONTROLLER: ["annotations:", f'{NATIVE}: "false"']}
    # helm/helm#7891: hooks never reach a Helm 3 post-renderer, and the user is told the rule found nothing.
    assert "SP401 rule 1 'hook-jobs-are-native': matches no workload" in run.stderr.decode()
