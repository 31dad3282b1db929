"""sidecar-policy under real Helm: the oldest Helm 3 we test (3.18.0), the newest Helm 3 and the newest Helm 4.

Each test makes its chart with the Helm under test (`helm create app`, a `helm create db` subchart,
a pre-install hook Job and a CronJob) in its own HOME. Helm 3 runs sidecar-policy as a program on
PATH; Helm 4 runs the plugin installed from helm-plugin/ with `helm plugin install`.
"""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import helmrun
from tests.support.helm import (
    HELM3_NEWEST,
    HELM4_NEWEST,
    VERSIONS,
    helm_binary,
)
from tests.support.helmrun import (
    ROOT,
    Helm,
    clean_env,
    create_chart,
    install_plugin,
    run,
    run_at_terminal,
)
from tests.support.paths import ISTIO_GOLDEN

NATIVE = "sidecar.istio.io/nativeSidecar"
POLICY_HEAD = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  rules:\n"
POLICY = POLICY_HEAD + """\
  - {name: jobs, match: {kinds: [Job]}, sidecar: native}
  - {name: reports, match: {kinds: [CronJob]}, sidecar: regular}
  - {name: database, match: {kinds: [Deployment], names: ['*-db']}, sidecar: regular}
  - {name: apps, match: {kinds: [Deployment]}, sidecar: native}
  - {name: test-pods, match: {kinds: [Pod]}, sidecar: native}
"""
BROKEN_POLICY = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  rulez: []\n"
NAMESPACE_POLICY = POLICY_HEAD + "  - {name: shop, match: {namespaces: [shop]}, sidecar: native}\n"
# Helm 4 ends every failure of the plugin with this, whatever the plugin said (pkg/postrenderer/postrenderer.go
# and internal/plugin/runtime_subprocess.go executeCmd, v4.3.1).
HELM4_FAILURE = 'plugin "sidecar-policy" exited with error'


@pytest.fixture(params=VERSIONS)
def helm(request) -> Helm:
    return Helm(request.param, helm_binary(request.param))


class Setup:
    """A user's machine for one Helm: HOME, a chart, a policy, and for Helm 4 the installed plugin."""

    def __init__(self, helm: Helm, tmp_path: Path, policy: str = POLICY):
        self.helm, self.cwd = helm, tmp_path
        self.home = tmp_path / "home"
        self.env = clean_env(self.home)
        self.chart = create_chart(helm.binary, tmp_path, self.env)
        (tmp_path / "policy.yaml").write_text(policy)
        if helm.major == 4:
            done = install_plugin(helm, self.env, tmp_path)
            assert done.returncode == 0, done.stderr

    def run(self, *args: str, **env: str):
        return run(self.helm, list(args), {**self.env, **env}, self.cwd)

    def at_terminal(self, *args: str, **env: str):
        return run_at_terminal(self.helm, list(args), {**self.env, **env}, self.cwd)

    def template(self, *post_renderer_args: str, namespace: str = "shop") -> list[str]:
        return ["template", "r", "./app", "-n", namespace,
                *self.helm.post_renderer("--policy=policy.yaml", *post_renderer_args)]


@pytest.fixture
def setup(helm: Helm, tmp_path: Path) -> Setup:
    return Setup(helm, tmp_path)


WORKLOADS = ("Deployment", "CronJob", "Job", "Pod")  # the kinds `helm create` and our additions make


def documents(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in yaml.safe_load_all(text) if doc}


def pod_annotations(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "Pod":
        return doc["metadata"].get("annotations") or {}
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    return (spec["template"].get("metadata") or {}).get("annotations") or {}


def without_ours(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as it was before sidecar-policy: its annotation (and a map it made) removed."""
    if doc["kind"] not in WORKLOADS:
        return doc
    if doc["kind"] == "Pod":
        metadata = doc["metadata"]
    else:
        spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
        metadata = spec["template"].setdefault("metadata", {})
    annotations = metadata.get("annotations") or {}
    annotations.pop(NATIVE, None)
    if not annotations:
        metadata.pop("annotations", None)
    if not metadata and doc["kind"] != "Pod":
        spec["template"].pop("metadata")
    return doc


# --- rendering ------------------------------------------------------------------------------------


def assert_post_rendered(helm: Helm, output: str, plain: str) -> None:
    docs = documents(output)
    decided = {key: pod_annotations(doc).get(NATIVE) for key, doc in docs.items() if key[0] in WORKLOADS}
    hooks_post_rendered = helm.major == 4  # Helm 3 sorts hooks out first (pkg/action/action.go renderResources)
    assert decided == {
        ("Deployment", "r-app"): "true",
        ("Deployment", "r-db"): "false",  # the subchart's
        ("CronJob", "r-app-report"): "false",
        ("Job", "r-app-migrate"): "true" if hooks_post_rendered else None,
        ("Pod", "r-app-test-connection"): "true" if hooks_post_rendered else None,
        ("Pod", "r-db-test-connection"): "true" if hooks_post_rendered else None,
    }
    # Nothing else changed, nothing lost, nothing added (Helm 4 strips its filename annotation again).
    assert {key: without_ours(doc) for key, doc in docs.items()} == documents(plain)


def test_template_post_renders_workloads_subcharts_and_on_helm4_hooks(setup: Setup) -> None:
    done = setup.run(*setup.template())
    assert done.returncode == 0, done.stderr
    plain = setup.run("template", "r", "./app", "-n", "shop")
    assert_post_rendered(setup.helm, done.stdout, plain.stdout)
    if setup.helm.major == 3:  # Helm 3 prints what we wrote as it is: byte for byte but our lines
        changes = [line for line in difflib.ndiff(plain.stdout.splitlines(), done.stdout.splitlines()) if line[:1] in "+-"]
        assert {line[:1] for line in changes} == {"+"}
        assert {line[2:].strip() for line in changes} == {"metadata:", "annotations:", f'{NATIVE}: "true"', f'{NATIVE}: "false"'}


def test_a_linkerd_policy_gets_its_release_from_the_post_renderer_args(helm: Helm, tmp_path: Path) -> None:
    """`--post-renderer-args=--linkerd-version=2.19`: Linkerd 2.19's key, and never an Istio annotation."""
    setup = Setup(helm, tmp_path, POLICY.replace("spec:\n", "spec:\n  mesh: linkerd\n", 1))
    done = setup.run(*setup.template("--linkerd-version=2.19"))
    assert done.returncode == 0, done.stderr
    docs = documents(done.stdout)
    assert pod_annotations(docs[("Deployment", "r-app")]) == {"config.beta.linkerd.io/proxy-enable-native-sidecar": "true"}
    assert pod_annotations(docs[("Deployment", "r-db")]) == {"config.beta.linkerd.io/proxy-enable-native-sidecar": "false"}
    assert NATIVE not in done.stdout


def test_a_chart_without_workloads_comes_back_whole(helm: Helm, tmp_path: Path) -> None:
    """Helm 4 refuses a post-renderer's empty output (pkg/postrenderer/postrenderer.go, v4.3.1)."""
    setup = Setup(helm, tmp_path)
    for template in (setup.chart / "templates").rglob("*.yaml"):
        if template.name != "service.yaml":
            template.unlink()
    shutil.rmtree(setup.chart / "charts")
    done = setup.run(*setup.template())
    assert done.returncode == 0, done.stderr
    assert documents(done.stdout) == documents(setup.run("template", "r", "./app", "-n", "shop").stdout)


def test_install_dry_run_client_post_renders_on_helm4_and_needs_a_cluster_on_helm3(setup: Setup) -> None:
    """Helm 4 renders `install --dry-run=client` without a cluster (pkg/action/install.go
    interactWithServer, v4.3.1); Helm 3 checks the cluster first (pkg/action/install.go, v3.22.0: only
    ClientOnly, i.e. `helm template`, skips KubeClient.IsReachable)."""
    args = ["install", "r", "./app", "-n", "shop", "--dry-run=client",
            *setup.helm.post_renderer("--policy=policy.yaml")]
    done = setup.run(*args)
    if setup.helm.major == 3:
        assert done.returncode != 0 and "cluster unreachable" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    manifest = done.stdout.split("MANIFEST:\n", 1)[1].split("\nNOTES:", 1)[0]
    assert documents(manifest)[("Deployment", "r-app")]["spec"]["template"]["metadata"]["annotations"] == {NATIVE: "true"}
    hooks = done.stdout.split("HOOKS:\n", 1)[1].split("MANIFEST:", 1)[0]
    assert pod_annotations(documents(hooks)[("Job", "r-app-migrate")]) == {NATIVE: "true"}


def test_helm4_plugin_is_listed_and_a_path_is_not_a_post_renderer(helm4: Path, tmp_path: Path) -> None:
    """Helm 4 runs only installed postrenderer/v1 plugins: `--post-renderer ./path` is looked up as a
    plugin name (pkg/postrenderer/postrenderer.go NewPostRendererPlugin, v4.3.1)."""
    setup = Setup(Helm(HELM4_NEWEST, helm4), tmp_path)
    listed = setup.run("plugin", "list")
    assert "sidecar-policy" in listed.stdout and "postrenderer/v1" in listed.stdout
    done = setup.run("template", "r", "./app", "--post-renderer", str(helmrun.SIDECAR_POLICY_BIN / "sidecar-policy"))
    assert done.returncode != 0 and "not found" in done.stderr


def test_helm4_plugin_works_from_a_data_directory_with_spaces(helm4: Path, tmp_path: Path) -> None:
    """plugin.yaml's command is ${HELM_PLUGIN_DIR}/launch.sh: Helm 4 splits the command before it
    expands the variable (internal/plugin/subprocess_commands.go PrepareCommands, v4.3.1)."""
    setup = Setup(Helm(HELM4_NEWEST, helm4), tmp_path, POLICY)
    setup.env["HELM_DATA_HOME"] = str(tmp_path / "helm data")
    assert install_plugin(setup.helm, setup.env, tmp_path).returncode == 0
    done = setup.run(*setup.template())
    assert done.returncode == 0, done.stderr
    assert pod_annotations(documents(done.stdout)[("Deployment", "r-app")]) == {NATIVE: "true"}


# --- failures: Helm 3 shows our message; Helm 4 only at a terminal (the launcher writes there) ---


def broken_manifest(setup: Setup) -> None:
    """Valid YAML for Helm, not a valid pod template for us: annotations as a list."""
    (setup.chart / "templates" / "broken.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\nspec:\n  template:\n"
        "    metadata:\n      annotations: [a]\n    spec:\n      containers: []\n")


def missing_program(setup: Setup) -> None:
    setup.env["PATH"] = "/usr/bin:/bin"
    setup.env["HOME"] = str(setup.home)  # no ~/.local/bin/sidecar-policy there


FAILURES = {
    "bad-policy": (lambda setup: (setup.cwd / "policy.yaml").write_text(BROKEN_POLICY), "unknown field 'rulez'"),
    # The template's file (Helm 4: from its filename annotation) and the object, kind and name.
    "bad-manifest": (broken_manifest, "(app/templates/broken.yaml): Deployment broken: template.metadata.annotations must be a mapping"),
    # Helm 4 links the checkout's helm-plugin/: the launcher says to install the program from there.
    "missing-program": (missing_program, None),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_failures_are_shown_by_helm3_and_at_a_terminal_by_helm4(setup: Setup, failure: str) -> None:
    arrange, message = FAILURES[failure]
    arrange(setup)
    done = setup.at_terminal(*setup.template())
    assert done.returncode != 0 and done.stdout == ""
    if setup.helm.major == 3:
        expected = message or "sidecar-policy"  # Helm 3: `unable to find binary at sidecar-policy`
        assert expected in done.stderr
        return
    assert HELM4_FAILURE in done.stderr
    expected = message or f"'pipx install {ROOT}'"  # the launcher's not-found line
    assert expected not in done.stderr, "Helm 4 shows a plugin's stderr now: the README can say so"
    assert expected in done.terminal


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_helm4_without_a_terminal_keeps_the_reason_in_the_log_file(helm4: Path, tmp_path: Path, failure: str) -> None:
    setup = Setup(Helm(HELM4_NEWEST, helm4), tmp_path)
    arrange, message = FAILURES[failure]
    arrange(setup)
    log = tmp_path / "sidecar-policy.log"
    done = setup.run(*setup.template(), SIDECAR_POLICY_LOG_FILE=str(log))
    assert done.returncode != 0 and HELM4_FAILURE in done.stderr
    assert (message or f"'pipx install {ROOT}'") in log.read_text()


def test_options_in_one_post_renderer_args_value_are_named_as_such(setup: Setup) -> None:
    """Helm passes each --post-renderer-args value as one argument, without a shell (v3.22.0
    pkg/postrender/exec.go; v4.3.1 the plugin's args): `--post-renderer-args="--policy policy.yaml"` is
    one argument. The message says so, not "no policy", and the flags it advises work."""
    done = setup.at_terminal("template", "r", "./app", "-n", "shop", *setup.helm.post_renderer("--policy policy.yaml"))
    shown = done.stderr if setup.helm.major == 3 else done.terminal
    assert done.returncode != 0 and "arrived as one argument" in shown and "no policy" not in shown
    advised = re.findall(r"--post-renderer-args=(\S+)", shown.split("arrived as one argument", 1)[1])
    assert advised == ["--policy=policy.yaml"]
    done = setup.run("template", "r", "./app", *setup.helm.post_renderer(*advised))
    assert done.returncode == 0, done.stderr
    assert pod_annotations(documents(done.stdout)[("Deployment", "r-app")]) == {NATIVE: "true"}


# --- namespaces -------------------------------------------------------------------------------------


@pytest.fixture
def namespace_setup(helm: Helm, tmp_path: Path) -> Setup:
    return Setup(helm, tmp_path, NAMESPACE_POLICY)


def test_helm_n_alone_fails_loudly_instead_of_missing_the_namespace_rule(namespace_setup: Setup) -> None:
    """Helm does not pass -n to a post-renderer (v3.22.0 pkg/postrender/exec.go: the args only;
    v4.3.1 internal/plugin/runtime_subprocess.go: HELM_PLUGIN_NAME/DIR only), and `helm create`'s
    templates leave metadata.namespace out: sidecar-policy cannot tell, so it must refuse."""
    setup = namespace_setup
    done = setup.at_terminal(*setup.template())
    assert done.returncode != 0 and done.stdout == ""
    shown = done.stderr if setup.helm.major == 3 else done.terminal
    assert "no namespace was given" in shown and "--post-renderer-args=--namespace=NS" in shown


def test_namespace_passed_as_post_renderer_arg_reaches_the_rule(namespace_setup: Setup) -> None:
    setup = namespace_setup
    done = setup.run(*setup.template("--namespace=shop"))
    assert done.returncode == 0, done.stderr
    docs = documents(done.stdout)
    assert pod_annotations(docs[("Deployment", "r-app")]) == {NATIVE: "true"}
    assert pod_annotations(docs[("Deployment", "r-db")]) == {NATIVE: "true"}


def test_an_exported_helm_namespace_is_not_taken_for_the_release_namespace(namespace_setup: Setup) -> None:
    """`helm -n other` beats an exported HELM_NAMESPACE for Helm, but the post-renderer inherits the
    exported value: trusting it would apply the wrong namespace's rules, so it is not read."""
    setup = namespace_setup
    done = setup.run(*setup.template(namespace="other"), HELM_NAMESPACE="shop")
    assert done.returncode != 0 and done.stdout == ""


def test_helm3_passes_an_exported_helm_namespace_on_unchanged_by_n(tmp_path: Path) -> None:
    """Why HELM_NAMESPACE is not read: what a post-renderer run by `HELM_NAMESPACE=shop helm -n other` sees."""
    setup = Setup(Helm(HELM3_NEWEST, helm_binary(HELM3_NEWEST)), tmp_path)
    seen = tmp_path / "seen"
    spy = tmp_path / "spy"
    spy.write_text(f'#!/bin/sh\nprintf "%s\\n" "$HELM_NAMESPACE" "$@" > {seen}\nexec cat\n')
    spy.chmod(0o755)
    done = setup.run("template", "r", "./app", "-n", "other", "--post-renderer", str(spy), HELM_NAMESPACE="shop")
    assert done.returncode == 0, done.stderr
    assert seen.read_text() == "shop\n"  # the exported value, and no argument naming `other`


# --- warnings on success ----------------------------------------------------------------------------

UNMATCHED_POLICY = POLICY + "  - {name: nothing-like-this, match: {names: [no-such-workload]}, sidecar: native}\n"
UNMATCHED = "SP401 rule 6 'nothing-like-this': matches no workload"


def test_warnings_on_success_are_dropped_by_helm_and_reach_a_helm4_terminal(helm: Helm, tmp_path: Path) -> None:
    setup = Setup(helm, tmp_path, UNMATCHED_POLICY)
    done = setup.at_terminal(*setup.template())
    assert done.returncode == 0, done.stderr
    assert UNMATCHED not in done.stderr  # neither Helm shows a successful post-renderer's stderr
    assert (UNMATCHED in done.terminal) == (helm.major == 4)


@pytest.mark.parametrize("how", ["--fail-on=warning", "SIDECAR_POLICY_FAIL_ON"])
def test_fail_on_warning_makes_helm_fail_and_show_why(helm: Helm, tmp_path: Path, how: str) -> None:
    setup = Setup(helm, tmp_path, UNMATCHED_POLICY)
    if how == "--fail-on=warning":
        done = setup.at_terminal(*setup.template(how))
    else:
        done = setup.at_terminal(*setup.template(), SIDECAR_POLICY_FAIL_ON="warning")
    assert done.returncode != 0 and done.stdout == ""
    assert UNMATCHED in (done.stderr if helm.major == 3 else done.terminal)


def test_warnings_name_the_template_file_under_both_helms(helm: Helm, tmp_path: Path) -> None:
    """Helm 4 strips `# Source:`; its filename annotation names the file instead."""
    setup = Setup(helm, tmp_path)
    log = tmp_path / "sidecar-policy.log"
    done = setup.run(*setup.template(), SIDECAR_POLICY_LOG_FILE=str(log))
    assert done.returncode == 0, done.stderr
    assert "(app/templates/cronjob.yaml): SP101 (error) CronJob r-app-report:" in log.read_text()


CONVERT_POLICY = POLICY + "  convertInjected: true\n"


def test_each_document_keeps_its_template_file_through_edits_and_conversions(helm: Helm, tmp_path: Path) -> None:
    """Helm 4 rebuilds its files from the filename annotation after the post-renderer (a document
    without it becomes generated-by-postrender-N.yaml): an edit and a re-emitted conversion keep it."""
    setup = Setup(helm, tmp_path, CONVERT_POLICY)
    injected = (ISTIO_GOLDEN / "head-hello" / "regular.injected.yaml").read_text()
    (setup.chart / "templates" / "injected.yaml").write_text(injected)
    done = setup.run(*setup.template())
    assert done.returncode == 0, done.stderr
    plain = setup.run("template", "r", "./app", "-n", "shop")

    def sources(text: str) -> list[str]:
        return sorted(re.findall(r"^# Source: (.+)$", text, re.MULTILINE))

    assert sources(done.stdout) == sources(plain.stdout) and "app/templates/injected.yaml" in sources(done.stdout)
    converted = documents(done.stdout)[("Deployment", "hello")]
    assert "istio-proxy" in [c["name"] for c in converted["spec"]["template"]["spec"]["initContainers"]]


# --- helm template --output-dir ---------------------------------------------------------------------


def test_helm3_output_dir_is_never_post_rendered_and_fail_on_says_so(helm: Helm, tmp_path: Path) -> None:
    """Helm 3 writes --output-dir files before it runs the post-renderer on an empty stream
    (pkg/action/action.go renderResources, v3.22.0); Helm 4 post-renders them."""
    setup = Setup(helm, tmp_path)
    done = setup.run(*setup.template(), "--output-dir", "out")
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "out" / "app" / "templates" / "deployment.yaml").read_text()
    assert (NATIVE in written) == (helm.major == 4)
    if helm.major == 3:
        failed = setup.run(*setup.template("--fail-on=warning"), "--output-dir", "out2")
        assert failed.returncode != 0 and "no manifests on stdin" in failed.stderr


# --- Helm 4 plugin installation -----------------------------------------------------------------------


def test_helm4_install_from_a_git_url_needs_verify_false(helm4: Path, tmp_path: Path) -> None:
    """A VCS source cannot be verified (pkg/cmd/plugin_install.go run, v4.3.1): Helm refuses before
    it fetches anything unless --verify=false. A local directory installs without it (Setup does)."""
    env = clean_env(tmp_path / "home")
    done = run(helm4, ["plugin", "install", "https://github.com/example/sidecar-policy"], env, tmp_path)
    assert done.returncode != 0 and "--verify=false" in done.stderr


def test_the_binaries_are_the_versions_the_report_names() -> None:
    for version in VERSIONS:
        done = run(helm_binary(version), ["version", "--template", "{{.Version}}"], clean_env(Path("/nonexistent")), Path("/"))
        # A `go install` build knows only its major.minor (internal/version/version.go); a release its patch too.
        reported = done.stdout.strip()
        assert reported.count(".") >= 1 and f"v{version}.".startswith(reported + ".") or reported == f"v{version}"
