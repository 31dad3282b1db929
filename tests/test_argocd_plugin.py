"""The plugin as Argo CD runs it: argocd-plugin/plugin.yaml's init + generate through a stand-in for
argocd-cmp-server (tests/argocd_cmp.py, which cites the Argo CD sources it follows).

Helm cannot be installed here: chart cases use a fake `helm` on PATH that records its argv and prints
a rendered chart, which proves the command line Argo CD's sidecar would run. Kustomize cases use the
real `kubectl kustomize`.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.support.argocd_cmp import Application, PluginFailed, run_plugin

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_YAML = ROOT / "argocd-plugin" / "plugin.yaml"
ANNOTATION = "sidecar.istio.io/nativeSidecar"

POLICY = """\
apiVersion: sidecar-policy/v1alpha1
kind: SidecarPolicy
spec:
  fallback: regular
  rules:
  - name: batch-is-native
    match: {kinds: [Job, CronJob]}
    sidecar: native
"""
ALL_NATIVE = POLICY.replace("fallback: regular", "fallback: native")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: nginx:1.27}]
"""
JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""
HELM_OUTPUT = f"""\
---
# Source: shop/templates/service.yaml
{SERVICE}---
# Source: shop/templates/deployment.yaml
{DEPLOYMENT}---
# Source: shop/templates/job.yaml
{JOB}"""


def annotation(objects: list[dict], kind: str, name: str) -> str | None:
    (obj,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return ((obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)


def without_annotation(obj: dict) -> dict:
    """The object as it was before the plugin annotated it (a copy)."""
    obj = copy.deepcopy(obj)
    template = (obj.get("spec") or {}).get("template")
    if template and ANNOTATION in ((template.get("metadata") or {}).get("annotations") or {}):
        annotations = template["metadata"]["annotations"]
        del annotations[ANNOTATION]
        if not annotations:
            del template["metadata"]["annotations"]
        if not template["metadata"]:
            del template["metadata"]
    return obj


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "apps" / "shop").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "policies" / "all-native.yaml").write_text(ALL_NATIVE)
    return root


@pytest.fixture
def helm_log(tmp_path: Path) -> Path:
    return tmp_path / "helm-calls.jsonl"


@pytest.fixture
def sidecar_env(tmp_path: Path, helm_log: Path) -> dict[str, str]:
    """The sidecar container's own environment: our console script, system tools, no real helm."""
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    return {
        "PATH": f"{Path(sys.executable).parent}:{fake_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "SIDECAR_POLICY_DEFAULT": str(tmp_path / "no-default-policy.yaml"),
        "FAKE_HELM_LOG": str(helm_log),
    }


def install_fake_helm(env: dict[str, str], fail_template: str = "") -> None:
    script = Path(env["PATH"].split(":")[1]) / "helm"
    script.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(
            f"""\
            import json, os, sys
            with open(os.environ["FAKE_HELM_LOG"], "a") as log:
                log.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd()}}) + "\\n")
            if sys.argv[1:2] == ["template"]:
                if {fail_template!r}:
                    sys.stderr.write({fail_template!r})
                    sys.exit(1)
                sys.stdout.write({HELM_OUTPUT!r})
            """
        )
    )
    script.chmod(0o755)


def helm_calls(helm_log: Path) -> list[list[str]]:
    if not helm_log.exists():
        return []
    return [json.loads(line)["argv"] for line in helm_log.read_text().splitlines()]


def app_files(repo: Path, files: dict[str, str]) -> Path:
    """Write files into the app directory; return the directory."""
    app_dir = repo / "apps" / "shop"
    for name, text in files.items():
        (app_dir / name).write_text(text)
    return app_dir


def failure(repo: Path, tmp_path: Path, sidecar_env: dict[str, str], app: Application | None = None) -> PluginFailed:
    with pytest.raises(PluginFailed) as failed:
        run_plugin(PLUGIN_YAML, repo, app or Application(), tmp_path, sidecar_env)
    return failed.value


def write_chart(app_dir: Path, dependencies: str = "") -> None:
    (app_dir / "Chart.yaml").write_text(f"apiVersion: v2\nname: shop\nversion: 1.0.0\n{dependencies}")
    (app_dir / "values.yaml").write_text("replicas: 1\n")
    (app_dir / "values-prod.yaml").write_text("replicas: 3\n")
    (app_dir / "templates").mkdir()


# --- plain directory ------------------------------------------------------------------------------


def test_directory_app_opted_in_by_file(repo, tmp_path, sidecar_env):
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

    out = run_plugin(PLUGIN_YAML, repo, Application(), tmp_path, sidecar_env)

    assert annotation(out.objects, "Deployment", "web") == "false"
    assert annotation(out.objects, "Job", "migrate") == "true"
    # Everything else is exactly what the files say, in Argo CD's order (file name, then document),
    # and the policy file itself is not deployed.
    expected = [config_map] + [
        yaml.safe_load(text) for text in (DEPLOYMENT, SERVICE, JOB)
    ]
    assert [without_annotation(o) for o in out.objects] == expected


def test_files_arrive_with_reset_modes(repo, tmp_path, sidecar_env):
    app_dir = app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    (app_dir / "job.yaml").chmod(0o755)
    out = run_plugin(PLUGIN_YAML, repo, Application(), tmp_path, sidecar_env)
    assert (out.app_dir / "job.yaml").stat().st_mode & 0o777 == 0o644
    assert annotation(out.objects, "Job", "migrate") == "true"


# --- kustomization (real kubectl kustomize) --------------------------------------------------------


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomization_app_with_a_repository_policy(repo, tmp_path, sidecar_env):
    kustomization = "resources: [deployment.yaml, job.yaml]\nnamePrefix: prod-\n"
    app_dir = app_files(repo, {"kustomization.yaml": kustomization, "deployment.yaml": DEPLOYMENT, "job.yaml": JOB})
    app = Application(plugin_env=[("SIDECAR_POLICY", "/policies/all-native.yaml")])

    out = run_plugin(PLUGIN_YAML, repo, app, tmp_path, sidecar_env)

    built = subprocess.run(["kubectl", "kustomize", str(app_dir)], capture_output=True, text=True, check=True).stdout
    assert [without_annotation(o) for o in out.objects] == list(yaml.safe_load_all(built))
    assert annotation(out.objects, "Deployment", "prod-web") == "true"
    assert annotation(out.objects, "Job", "prod-migrate") == "true"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_a_failing_kustomize_fails_the_request_with_its_message(repo, tmp_path, sidecar_env):
    app_files(repo, {"kustomization.yaml": "resources: [missing.yaml]\n", ".sidecar-policy.yaml": POLICY})
    failed = failure(repo, tmp_path, sidecar_env)
    assert failed.returncode == 4
    assert "kustomize" in failed.stderr and "missing.yaml" in failed.stderr


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_build_options_come_from_the_sidecar_not_the_app(repo, tmp_path, sidecar_env):
    """Like argocd-cm `kustomize.buildOptions`: the administrator's switch, not something an app sets."""
    (repo / "shared").mkdir()
    (repo / "shared" / "job.yaml").write_text(JOB)
    app_files(repo, {"kustomization.yaml": "resources: [../../shared/job.yaml]\n", ".sidecar-policy.yaml": POLICY})
    assert "security" in failure(repo, tmp_path / "default", sidecar_env).stderr  # kustomize's load restrictor

    sidecar_env["SIDECAR_POLICY_KUSTOMIZE_BUILD_OPTIONS"] = "--load-restrictor LoadRestrictionsNone"
    out = run_plugin(PLUGIN_YAML, repo, Application(), tmp_path / "relaxed", sidecar_env)
    assert annotation(out.objects, "Job", "migrate") == "true"


# --- Helm chart (fake helm) -------------------------------------------------------------------------


def test_chart_renders_with_argo_cds_helm_command_line(repo, tmp_path, sidecar_env, helm_log):
    install_fake_helm(sidecar_env)
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    app = Application(
        name="team-a_shop",  # an app outside argocd's namespace
        namespace="shop-prod",
        kube_version="1.31.0",
        api_versions=["v1", "apps/v1", "monitoring.coreos.com/v1"],
        parameters=[
            {"name": "values-files", "array": ["values-prod.yaml"]},
            {"name": "helm-parameters", "map": {"image.tag": "v2"}},
        ],
    )

    out = run_plugin(PLUGIN_YAML, repo, app, tmp_path, sidecar_env)

    values = str((out.app_dir / "values-prod.yaml").resolve())
    assert helm_calls(helm_log) == [
        ["template", ".", "--name-template", "shop", "--namespace", "shop-prod", "--kube-version", "1.31.0",
         "--values", values, "--set", "image.tag=v2",
         "--api-versions", "v1", "--api-versions", "apps/v1", "--api-versions", "monitoring.coreos.com/v1",
         "--include-crds"],
    ]  # fmt: skip
    assert [o["kind"] for o in out.objects] == ["Service", "Deployment", "Job"]
    assert annotation(out.objects, "Deployment", "web") == "false"
    assert annotation(out.objects, "Job", "migrate") == "true"
    assert "# Source: shop/templates/job.yaml" in out.stdout  # Helm's comments survive


def test_init_builds_chart_dependencies_only_when_not_vendored(repo, tmp_path, sidecar_env, helm_log):
    install_fake_helm(sidecar_env)
    app_dir = repo / "apps" / "shop"
    write_chart(
        app_dir,
        "dependencies:\n- {name: redis, version: 19.0.0, repository: https://charts.example/stable}\n"
        "- {name: common, version: 2.0.0, repository: oci://registry.example/charts}\n",
    )
    (app_dir / ".sidecar-policy.yaml").write_text(POLICY)

    run_plugin(PLUGIN_YAML, repo, Application(), tmp_path, sidecar_env)
    calls = helm_calls(helm_log)
    assert [call[:2] for call in calls] == [["repo", "add"], ["dependency", "build"], ["template", "."]]
    assert calls[0][2:] == ["--force-update", calls[0][3], "https://charts.example/stable"]

    helm_log.unlink()
    for name in ("redis", "common"):
        (app_dir / "charts" / name).mkdir(parents=True)
        (app_dir / "charts" / name / "Chart.yaml").write_text(f"name: {name}\n")
    run_plugin(PLUGIN_YAML, repo, Application(), tmp_path / "again", sidecar_env)
    assert [call[0] for call in helm_calls(helm_log)] == ["template"]


def test_a_missing_helm_is_a_clear_error(repo, tmp_path, sidecar_env):
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    failed = failure(repo, tmp_path, sidecar_env)
    assert failed.returncode == 4
    assert "`helm` is not installed in this sidecar image" in failed.stderr


def test_a_failing_helm_fails_the_request_with_helms_message_and_no_output(repo, tmp_path, sidecar_env):
    install_fake_helm(sidecar_env, fail_template="Error: template: shop/templates/job.yaml:7: nil pointer\n")
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    failed = failure(repo, tmp_path, sidecar_env)
    assert failed.returncode == 4
    assert "nil pointer" in failed.stderr and "helm template" in failed.stderr


# --- the policy --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sources, expected",
    [
        ({"parameter", "env", "file", "default"}, "parameter"),
        ({"env", "file", "default"}, "env"),
        ({"file", "default"}, "file"),
        ({"default"}, "default"),
    ],
)
def test_policy_lookup_order(repo, tmp_path, sidecar_env, sources, expected):
    """Each source names the Job differently, so the rule that matched tells which policy was used."""
    app_dir = repo / "apps" / "shop"
    (app_dir / "job.yaml").write_text(JOB)

    def policy_for(source: str) -> str:
        return POLICY.replace("batch-is-native", source).replace("kinds: [Job, CronJob]", "names: [migrate]")

    def native_only_for(source: str) -> str:
        mode = "native" if source == expected else "regular"
        return policy_for(source).replace("sidecar: native", f"sidecar: {mode}")

    app = Application()
    if "parameter" in sources:
        app.parameters = [{"name": "policy", "string": native_only_for("parameter")}]
    if "env" in sources:
        (repo / "policies" / "team.yaml").write_text(native_only_for("env"))
        app.plugin_env = [("SIDECAR_POLICY", "../../policies/team.yaml")]
    if "file" in sources:
        (app_dir / ".sidecar-policy.yaml").write_text(native_only_for("file"))
    if "default" in sources:
        Path(sidecar_env["SIDECAR_POLICY_DEFAULT"]).write_text(native_only_for("default"))

    out = run_plugin(PLUGIN_YAML, repo, app, tmp_path, sidecar_env)
    assert annotation(out.objects, "Job", "migrate") == "true"


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/../../etc/hostname", "/etc/hostname/../../../x"])
def test_a_policy_path_may_not_leave_the_repository(repo, tmp_path, sidecar_env, path):
    app_files(repo, {"job.yaml": JOB})
    failed = failure(repo, tmp_path, sidecar_env, Application(plugin_env=[("SIDECAR_POLICY", path)]))
    assert failed.returncode == 2
    assert "outside the repository" in failed.stderr


def test_without_any_policy_the_request_fails_and_says_where_to_put_one(repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB})
    failed = failure(repo, tmp_path, sidecar_env)
    assert failed.returncode == 2
    assert ".sidecar-policy.yaml" in failed.stderr and "ARGOCD_ENV_SIDECAR_POLICY" in failed.stderr


def test_a_bad_inline_policy_fails_before_helm_runs(repo, tmp_path, sidecar_env, helm_log):
    install_fake_helm(sidecar_env)
    write_chart(repo / "apps" / "shop")
    app = Application(parameters=[{"name": "policy", "string": POLICY.replace("sidecar: native", "sidecar: sometimes")}])
    failed = failure(repo, tmp_path, sidecar_env, app)
    assert failed.returncode == 2
    assert "plugin parameter 'policy'" in failed.stderr
    assert [call[0] for call in helm_calls(helm_log)] == []


# --- the cluster version ---------------------------------------------------------------------------


def test_native_for_a_cluster_below_1_28_is_an_error(repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    failed = failure(repo, tmp_path, sidecar_env, Application(kube_version="1.27.9"))
    assert failed.returncode == 1
    assert "Job migrate" in failed.stderr and "1.29" in failed.stderr


def test_native_for_1_28_is_a_warning(repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    out = run_plugin(PLUGIN_YAML, repo, Application(kube_version="1.28.4"), tmp_path, sidecar_env)
    assert annotation(out.objects, "Job", "migrate") == "true"
    assert "warning" in out.stderr and "SidecarContainers" in out.stderr


def test_regular_for_an_old_cluster_is_fine(repo, tmp_path, sidecar_env):
    app_files(repo, {"deployment.yaml": DEPLOYMENT, ".sidecar-policy.yaml": POLICY})
    out = run_plugin(PLUGIN_YAML, repo, Application(kube_version="1.25.0"), tmp_path, sidecar_env)
    assert annotation(out.objects, "Deployment", "web") == "false"


def test_an_app_that_renders_nothing_fails_instead_of_pruning(repo, tmp_path, sidecar_env):
    app_files(repo, {"notes.yaml": "# nothing here yet\n", ".sidecar-policy.yaml": POLICY})
    assert "rendered no manifests" in failure(repo, tmp_path, sidecar_env).stderr


# --- plugin.yaml itself ----------------------------------------------------------------------------


def test_plugin_yaml_uses_only_fields_argo_cd_reads():
    """cmpserver/plugin/config.go PluginConfigSpec: version, init, generate, discover, parameters,
    preserveFileMode, provideGitCreds. Anything else (lockRepo, allowConcurrency) is ignored by the
    sidecar and only misleads readers."""
    config = yaml.safe_load(PLUGIN_YAML.read_text())
    assert set(config) == {"apiVersion", "kind", "metadata", "spec"}
    assert config["kind"] == "ConfigManagementPlugin" and config["metadata"] == {"name": "sidecar-policy"}
    read_by_argo_cd = {"version", "init", "generate", "discover", "parameters", "preserveFileMode", "provideGitCreds"}
    assert set(config["spec"]) <= read_by_argo_cd
    assert config["spec"]["generate"] == {"command": ["sidecar-policy", "argocd", "generate"]}
    assert config["spec"]["discover"] == {"fileName": ".sidecar-policy.yaml"}
    assert "version" not in config["spec"]  # so Applications can name it plain `sidecar-policy`
