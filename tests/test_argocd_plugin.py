"""The plugin in Argo CD's own code: argocd-plugin/plugin.yaml served by the real cmp-server, reached
through the real repo-server manifest generation and discovery (tests/support/argocd.py drives the
Go harness in tests/harness/argocd-*). Which apps reach the plugin, directory and kustomize apps
(compared with Argo CD's own sources for them), the policy's sources, the cluster version.
Helm charts, chaining and the time limit are in test_argocd_plugin_helm.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support.argocd import OLDEST, VERSIONS, Application, sidecar_path
from tests.support.argocd_apps import (  # noqa: F401  pytest fixtures
    ALL_NATIVE,
    DEPLOYMENT,
    JOB,
    POLICY,
    SERVICE,
    annotation,
    app_files,
    argocd,
    failure,
    kustomize_bin,
    needs_kubectl,
    repo,
    run,
    sidecar_env,
    tools,
    without_annotation,
)

# --- which apps reach the plugin -------------------------------------------------------------------


def test_a_named_app_needs_no_policy_file(argocd, repo, tmp_path, sidecar_env):
    """The README's example: the plugin named, the policy from the app's env, nothing else in the app."""
    app_files(repo, {"job.yaml": JOB, "deployment.yaml": DEPLOYMENT})
    app = Application(plugin={"name": "sidecar-policy", "env": [{"name": "SIDECAR_POLICY", "value": "/policies/all-native.yaml"}]})
    out, _ = run(argocd, repo, app, sidecar_env, tmp_path / "sidecar")
    assert out.source_type == "Plugin"
    assert annotation(out.objects, "Job", "migrate") == "true"
    assert annotation(out.objects, "Deployment", "web") == "true"


def test_a_named_app_can_use_the_cluster_default_alone(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB})
    Path(sidecar_env["SIDECAR_POLICY_DEFAULT"]).write_text(POLICY)
    out, _ = run(argocd, repo, Application(), sidecar_env, tmp_path / "sidecar")
    assert annotation(out.objects, "Job", "migrate") == "true"


def test_an_unnamed_app_is_not_taken_by_the_plugin(argocd, repo, tmp_path, sidecar_env):
    """No discovery: a .sidecar-policy.yaml alone does not opt an app in; Argo CD reads the directory
    itself, and would deploy the policy file as an object. The docs say to name the plugin."""
    app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    out, _ = run(argocd, repo, Application(plugin=None), sidecar_env, tmp_path / "sidecar")
    assert out.source_type == "Directory"
    assert sorted(o["kind"] for o in out.objects) == ["Job", "SidecarPolicy"]
    assert annotation(out.objects, "Job", "migrate") is None


@needs_kubectl
@pytest.mark.parametrize("explicit", ["kustomize", "directory"])
def test_an_app_with_an_explicit_source_type_never_reaches_the_plugin(argocd, repo, tmp_path, kustomize_bin, explicit):
    """ApplicationSource.ExplicitType decides before any plugin (a spec.source.helm block the same way):
    such an app must name the plugin instead, with its options moved into parameters."""
    files = {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY}
    app_files(repo, {**files, "kustomization.yaml": "resources: [job.yaml]\n"} if explicit == "kustomize" else files)
    # Any block makes the type explicit, an empty one too (types.go ExplicitType).
    out = argocd.generate(repo, Application(plugin=None, **{explicit: {}}), path=sidecar_path(kustomize_bin))
    assert out.source_type == explicit.capitalize()
    kinds = sorted(o["kind"] for o in out.objects)
    assert kinds == (["Job"] if explicit == "kustomize" else ["Job", "SidecarPolicy"])
    assert annotation(out.objects, "Job", "migrate") is None


# --- plain directory --------------------------------------------------------------------------------


def test_directory_app(argocd, repo, tmp_path, sidecar_env):
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    app_files(
        repo,
        {
            "deployment.yaml": DEPLOYMENT + "---\n" + SERVICE,
            "job.yaml": JOB,
            "config.json": json.dumps(config_map),
            ".sidecar-policy.yaml": POLICY,
        },
    )
    out, _ = run(argocd, repo, Application(), sidecar_env, tmp_path / "sidecar")
    assert annotation(out.objects, "Deployment", "web") == "false"
    assert annotation(out.objects, "Job", "migrate") == "true"
    # What Argo CD's own directory source reads from the same files, apart from the annotation and
    # the policy file (which the plugin never deploys).
    (repo / "apps" / "shop" / ".sidecar-policy.yaml").unlink()
    native = argocd.generate(repo, Application(plugin=None, directory={}))
    assert [without_annotation(o) for o in out.objects] == native.objects


# --- kustomization (real kubectl kustomize) ------------------------------------------------------------


@needs_kubectl
def test_kustomization_app_renders_what_argo_cds_kustomize_source_renders(argocd, repo, tmp_path, sidecar_env, kustomize_bin):
    kustomization = "resources: [deployment.yaml, job.yaml]\nnamePrefix: prod-\n"
    app_files(repo, {"kustomization.yaml": kustomization, "deployment.yaml": DEPLOYMENT, "job.yaml": JOB})
    app = Application(plugin={"name": "sidecar-policy", "env": [{"name": "SIDECAR_POLICY", "value": "/policies/all-native.yaml"}]})
    out, _ = run(argocd, repo, app, sidecar_env, tmp_path / "sidecar")
    assert annotation(out.objects, "Deployment", "prod-web") == "true"
    assert annotation(out.objects, "Job", "prod-migrate") == "true"
    native = argocd.generate(repo, Application(plugin=None), path=sidecar_path(kustomize_bin))
    assert native.source_type == "Kustomize"
    assert [without_annotation(o) for o in out.objects] == native.objects


@needs_kubectl
def test_a_failing_kustomize_fails_the_app_with_its_message(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"kustomization.yaml": "resources: [missing.yaml]\n", ".sidecar-policy.yaml": POLICY})
    message = failure(argocd, repo, Application(), sidecar_env, tmp_path / "sidecar")
    assert "exit status 4" in message and "missing.yaml" in message


@needs_kubectl
def test_kustomize_build_options_come_from_the_sidecar_not_the_app(argocd, repo, tmp_path, sidecar_env):
    """Like argocd-cm `kustomize.buildOptions`: the administrator's switch, not something an app sets."""
    (repo / "shared").mkdir()
    (repo / "shared" / "job.yaml").write_text(JOB)
    app_files(repo, {"kustomization.yaml": "resources: [../../shared/job.yaml]\n", ".sidecar-policy.yaml": POLICY})
    assert "security" in failure(argocd, repo, Application(), sidecar_env, tmp_path / "default")  # load restrictor

    sidecar_env["SIDECAR_POLICY_KUSTOMIZE_BUILD_OPTIONS"] = "--load-restrictor LoadRestrictionsNone"
    out, _ = run(argocd, repo, Application(), sidecar_env, tmp_path / "relaxed")
    assert annotation(out.objects, "Job", "migrate") == "true"


# --- the policy --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sources, expected",
    [
        ({"parameter", "env", "file", "default"}, "parameter"),
        ({"env", "file", "default"}, "env"),
        ({"file", "default"}, "file"),
        ({"default"}, "default"),
    ],
)
def test_policy_lookup_order(argocd, repo, tmp_path, sidecar_env, sources, expected):
    """Each source decides the Job differently, so the outcome tells which policy was used."""
    app_dir = repo / "apps" / "shop"
    (app_dir / "job.yaml").write_text(JOB)

    def native_only_for(source: str) -> str:
        mode = "native" if source == expected else "regular"
        return POLICY.replace("batch-is-native", source).replace("sidecar: native", f"sidecar: {mode}")

    plugin: dict[str, list] = {"parameters": [], "env": []}
    if "parameter" in sources:
        plugin["parameters"].append({"name": "policy", "string": native_only_for("parameter")})
    if "env" in sources:
        (repo / "policies" / "team.yaml").write_text(native_only_for("env"))
        plugin["env"].append({"name": "SIDECAR_POLICY", "value": "../../policies/team.yaml"})
    if "file" in sources:
        (app_dir / ".sidecar-policy.yaml").write_text(native_only_for("file"))
    if "default" in sources:
        Path(sidecar_env["SIDECAR_POLICY_DEFAULT"]).write_text(native_only_for("default"))

    out, _ = run(argocd, repo, Application(plugin={"name": "sidecar-policy", **plugin}), sidecar_env, tmp_path / "s")
    assert annotation(out.objects, "Job", "migrate") == "true"


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/../../etc/hostname", "/etc/hostname/../../../x"])
def test_a_policy_path_may_not_leave_the_repository(argocd, repo, tmp_path, sidecar_env, path):
    app_files(repo, {"job.yaml": JOB})
    app = Application(plugin={"name": "sidecar-policy", "env": [{"name": "SIDECAR_POLICY", "value": path}]})
    message = failure(argocd, repo, app, sidecar_env, tmp_path / "sidecar")
    assert "exit status 2" in message and "outside the repository" in message


def test_without_any_policy_the_app_fails_and_says_where_to_put_one(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB})
    message = failure(argocd, repo, Application(), sidecar_env, tmp_path / "sidecar")
    assert "exit status 2" in message
    assert ".sidecar-policy.yaml" in message and "ARGOCD_ENV_SIDECAR_POLICY" in message


def test_an_empty_policy_env_counts_as_unset_in_every_release(argocd, repo, tmp_path, sidecar_env):
    """v2.14's cmp-server leaves the entry out, v3 sets it empty (test_what_the_cmp_server_hands_over):
    either way the policy comes from the next source."""
    app_files(repo, {"deployment.yaml": DEPLOYMENT})
    Path(sidecar_env["SIDECAR_POLICY_DEFAULT"]).write_text(ALL_NATIVE)
    app = Application(plugin={"name": "sidecar-policy", "env": [{"name": "SIDECAR_POLICY", "value": ""}]})
    out, _ = run(argocd, repo, app, sidecar_env, tmp_path / "sidecar")
    assert annotation(out.objects, "Deployment", "web") == "true"


def test_an_inline_linkerd_policy_names_its_release(argocd, repo, tmp_path, sidecar_env):
    """Argo CD runs no command line per app: a Linkerd policy carries its release (spec.linkerdVersion)."""
    app_files(repo, {"job.yaml": JOB, "deployment.yaml": DEPLOYMENT})
    linkerd = POLICY.replace("spec:\n", 'spec:\n  mesh: linkerd\n  linkerdVersion: "2.20"\n', 1)
    app = Application(plugin={"name": "sidecar-policy", "parameters": [{"name": "policy", "string": linkerd}]})
    out, _ = run(argocd, repo, app, sidecar_env, tmp_path / "sidecar")
    decided = {obj["kind"]: obj["spec"]["template"]["metadata"]["annotations"] for obj in out.objects
               if obj["kind"] in ("Job", "Deployment")}
    assert decided == {"Job": {"config.linkerd.io/proxy-enable-native-sidecar": "true"},
                       "Deployment": {"config.linkerd.io/proxy-enable-native-sidecar": "false"}}


def test_a_bad_inline_policy_fails_the_app(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB})
    bad = POLICY.replace("sidecar: native", "sidecar: sometimes")
    app = Application(plugin={"name": "sidecar-policy", "parameters": [{"name": "policy", "string": bad}]})
    message = failure(argocd, repo, app, sidecar_env, tmp_path / "sidecar")
    assert "exit status 2" in message and "plugin parameter 'policy'" in message


# --- the cluster version ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kube_version", ["1.27.9", "v1.27.9+k3s1"])  # v2.14 hands the second over as v1.27.9k3s1
def test_native_for_a_cluster_below_1_28_is_an_error(argocd, repo, tmp_path, sidecar_env, kube_version):
    app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    message = failure(argocd, repo, Application(kube_version=kube_version), sidecar_env, tmp_path / "sidecar")
    assert "exit status 1" in message and "Job migrate" in message and "1.29" in message


def test_native_for_1_28_is_a_warning_in_the_sidecar_log(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    out, log = run(argocd, repo, Application(kube_version="1.28.4"), sidecar_env, tmp_path / "sidecar")
    assert annotation(out.objects, "Job", "migrate") == "true"
    assert "SidecarContainers" in log


def test_regular_for_an_old_cluster_is_fine(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"deployment.yaml": DEPLOYMENT, ".sidecar-policy.yaml": POLICY})
    out, _ = run(argocd, repo, Application(kube_version="1.25.0"), sidecar_env, tmp_path / "sidecar")
    assert annotation(out.objects, "Deployment", "web") == "false"


def test_an_app_that_renders_nothing_fails_instead_of_pruning(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"notes.yaml": "# nothing here yet\n", ".sidecar-policy.yaml": POLICY})
    message = failure(argocd, repo, Application(), sidecar_env, tmp_path / "sidecar")
    assert "rendered no manifests" in message


# --- an Application without spec.destination.namespace ------------------------------------------------

# Rule 1 decides Jobs by kind alone; rule 2 needs the namespace.
NAMESPACE_POLICY = POLICY + "  - name: default-namespace\n    match: {namespaces: [default]}\n    sidecar: native\n"


def test_without_a_destination_namespace_a_namespace_rule_refuses_what_argo_cd_would_not_apply(
    argocd, repo, tmp_path, sidecar_env
):
    """Argo CD hands the plugin an empty ARGOCD_APP_NAMESPACE (v2.14: none), its repo-server leaves
    metadata.namespace out as the files do, and its controller then applies no namespaced object
    without one (docs/argocd.md "Namespaces"). So a namespace rule cannot decide such a workload: the
    app fails, exit 1, one line that says why, rather than the rule missing without a word."""
    app_files(repo, {"deployment.yaml": DEPLOYMENT, "job.yaml": JOB, ".sidecar-policy.yaml": NAMESPACE_POLICY})
    message = failure(argocd, repo, Application(namespace=""), sidecar_env, tmp_path / "no-destination")
    assert "exit status 1" in message and "Deployment web" in message and "spec.destination.namespace" in message
    assert "rule 2 'default-namespace'" in message and "Job migrate" not in message  # rule 1 decided the Job
    assert "\n" not in message.split("exit status 1: ", 1)[1].strip()

    native = argocd.generate(repo, Application(plugin=None, directory={}, namespace=""))
    workloads = [o for o in native.objects if o["kind"] in ("Deployment", "Job")]
    assert len(workloads) == 2 and all("namespace" not in o["metadata"] for o in workloads)  # left to the controller

    out, _ = run(argocd, repo, Application(namespace="default"), sidecar_env, tmp_path / "destination")
    assert annotation(out.objects, "Deployment", "web") == "true"


def test_without_a_destination_namespace_a_workload_stating_its_own_is_decided_by_it(argocd, repo, tmp_path, sidecar_env):
    stated = DEPLOYMENT.replace("  name: web\n", "  name: web\n  namespace: default\n")
    app_files(repo, {"deployment.yaml": stated, ".sidecar-policy.yaml": NAMESPACE_POLICY})
    out, _ = run(argocd, repo, Application(namespace=""), sidecar_env, tmp_path / "sidecar")
    assert annotation(out.objects, "Deployment", "web") == "true"


# --- what the cmp-server hands over, release by release -------------------------------------------------

ENV_PROBE = """\
apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata:
  name: sidecar-policy
spec:
  generate:
    command: [python, -c]
    args:
    - |
      import json, os
      seen = {k: v for k, v in os.environ.items() if k.startswith(("ARGOCD_ENV_", "KUBE_", "ARGOCD_APP_NAMESPACE"))}
      print(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "env"}, "data": seen}))
"""


def test_what_the_cmp_server_hands_over(argocd, repo, tmp_path, sidecar_env):
    """The two differences between the releases that reach the plugin's environment (docs/argocd.md
    "Versions"): v2.14 drops env entries whose value is empty (cmpserver/plugin/plugin.go environ), the
    empty destination namespace of an Application without one too, and passes KUBE_VERSION through
    text.SemVer (drops "+") where v3 normalizes it with parseKubeVersion."""
    app_files(repo, {"deployment.yaml": DEPLOYMENT})
    probe = tmp_path / "probe.yaml"
    probe.write_text(ENV_PROBE)
    env = [{"name": "EMPTY", "value": ""}, {"name": "SET", "value": "x"}]
    app = Application(plugin={"name": "sidecar-policy", "env": env}, kube_version="v1.30.2+k3s1", api_versions=[], namespace="")
    sidecar = argocd.sidecar(tmp_path / "sidecar", sidecar_env, probe)
    try:
        (config_map,) = argocd.generate(repo, app, sidecar).objects
    finally:
        sidecar.close()
    if argocd.release == OLDEST:
        assert config_map["data"] == {"ARGOCD_ENV_SET": "x", "KUBE_VERSION": "v1.30.2k3s1"}
    else:
        assert config_map["data"] == {
            "ARGOCD_APP_NAMESPACE": "",
            "ARGOCD_ENV_EMPTY": "",
            "ARGOCD_ENV_SET": "x",
            "KUBE_VERSION": "1.30.2",
            "KUBE_API_VERSIONS": "",
        }


# --- plugin.yaml itself ------------------------------------------------------------------------------


def test_plugin_yaml_is_named_only_and_announces_its_parameters():
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "argocd-plugin" / "plugin.yaml").read_text())
    assert config["metadata"] == {"name": "sidecar-policy"} and "version" not in config["spec"]
    assert "discover" not in config["spec"]  # see test_a_named_app_needs_no_policy_file
    names = [p["name"] for p in config["spec"]["parameters"]["static"]]
    assert names == ["policy", "values-files", "helm-parameters", "helm"]


def _argocd_majors(go_file: Path) -> set[str]:
    return set(re.findall(r'"github.com/argoproj/argo-cd/(v\d+)/', go_file.read_text()))


def _built_with(go_file: Path, tags: tuple[str, ...]) -> bool:
    """Whether `go build -tags` builds the file: its constraint is one tag or its negation."""
    ((negated, tag),) = re.findall(r"^//go:build (!?)(\w+)$", go_file.read_text(), re.MULTILINE)
    return (tag in tags) != bool(negated)


@pytest.mark.parametrize("release", VERSIONS, ids=lambda release: release.version)
def test_one_harness_source_serves_every_release(release):
    """tests/harness/argocd: the logic once, in main.go; a release's go.mod requires the version the
    tests name, and its build tags pick the one small file with that major's import paths."""
    harness = Path(__file__).resolve().parent / "harness" / "argocd"
    major = release.version.split(".")[0]
    modfile = (harness / release.modfile).read_text()
    assert re.findall(r"^\s*(?:require )?github.com/argoproj/argo-cd/(v\d+) (\S+)$", modfile, re.MULTILINE) == [
        (major, release.version)
    ]
    assert _argocd_majors(harness / "main.go") == set()
    (chosen,) = [path for path in harness.glob("release_*.go") if _built_with(path, release.tags)]
    assert _argocd_majors(chosen) == {major}
