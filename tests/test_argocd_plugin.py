"""The plugin in Argo CD's own code: argocd-plugin/plugin.yaml served by the real cmp-server, reached
through the real repo-server manifest generation and discovery (tests/support/argocd.py drives the
Go harness in tests/harness/argocd-*). Charts render with a real Helm, kustomizations with the real
`kubectl kustomize`. Only `init`'s dependency download uses a recording fake helm (named so below):
no chart repository can be reached from here.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.support import gotools
from tests.support.argocd import (
    VERSIONS,
    Application,
    ArgoCD,
    Generated,
    GenerateFailed,
    build,
    sidecar_path,
)

ROOT = Path(__file__).resolve().parents[1]
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
    """The object as it was before the plugin annotated it (a copy): pod templates and bare Pods."""
    obj = copy.deepcopy(obj)
    holder = obj if obj.get("kind") == "Pod" else (obj.get("spec") or {}).get("template")
    if holder and ANNOTATION in ((holder.get("metadata") or {}).get("annotations") or {}):
        annotations = holder["metadata"]["annotations"]
        del annotations[ANNOTATION]
        if not annotations:
            del holder["metadata"]["annotations"]
        if not holder["metadata"]:
            del holder["metadata"]
    return obj


HELM = ("helm.sh/helm/v4", "v4.3.1", "cmd/helm")  # Argo CD v3.5 ships Helm 4 (hack/tool-versions.sh)
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@pytest.fixture(scope="session", params=VERSIONS)
def argocd(request) -> ArgoCD:
    return build(request.param)


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    return gotools.installed(*HELM).parent


@pytest.fixture
def kustomize_bin(tmp_path: Path) -> Path:
    """`kustomize` for Argo CD's own kustomize source, which runs `kustomize build <dir>`
    (util/kustomize/kustomize.go); kubectl's builder is the one installed here."""
    folder = tmp_path / "kustomize-bin"
    folder.mkdir()
    (folder / "kustomize").write_text('#!/bin/sh\n[ "$1" = build ] && exec kubectl kustomize "$2"\nexit 2\n')
    (folder / "kustomize").chmod(0o755)
    return folder


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "apps" / "shop").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "policies" / "all-native.yaml").write_text(ALL_NATIVE)
    return root


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """The sidecar image's extra tools (helm goes here when a test needs it)."""
    folder = tmp_path / "sidecar-bin"
    folder.mkdir()
    return folder


@pytest.fixture
def sidecar_env(tmp_path: Path, tools: Path) -> dict[str, str]:
    """The sidecar container's own environment: our console script, system tools."""
    return {
        "PATH": sidecar_path(tools),
        "HOME": str(tmp_path / "home"),
        "SIDECAR_POLICY_DEFAULT": str(tmp_path / "no-default-policy.yaml"),
    }


def run(argocd: ArgoCD, repo: Path, app: Application, sidecar_env: dict[str, str], work: Path) -> tuple[Generated, str]:
    """Generate `app` through a fresh sidecar; the manifests and the sidecar's log."""
    sidecar = argocd.sidecar(work, sidecar_env)
    try:
        return argocd.generate(repo, app, sidecar), sidecar.logs()
    finally:
        sidecar.close()


def failure(argocd: ArgoCD, repo: Path, app: Application, sidecar_env: dict[str, str], work: Path) -> str:
    with pytest.raises(GenerateFailed) as failed:
        run(argocd, repo, app, sidecar_env, work)
    return str(failed.value)


def app_files(repo: Path, files: dict[str, str]) -> Path:
    """Write files into the app directory; return the directory."""
    app_dir = repo / "apps" / "shop"
    for name, text in files.items():
        (app_dir / name).write_text(text)
    return app_dir


def link_helm(tools: Path, helm_bin: Path) -> None:
    (tools / "helm").symlink_to(helm_bin / "helm")


CHART_TEMPLATES = {
    "deployment.yaml": DEPLOYMENT.replace("nginx:1.27", "nginx:{{ .Values.image.tag }}").replace(
        "metadata:\n  name: web", "metadata:\n  name: web\n  namespace: {{ .Release.Namespace }}\n"
        "  labels: {release: {{ .Release.Name | quote }}, kube: {{ .Capabilities.KubeVersion.Version | quote }},"
        " monitoring: {{ .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" | quote }}}"
    ),
    "job.yaml": JOB,
    "config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata:\n"
    "  {{- range $k, $v := .Values.settings }}\n  {{ $k }}: {{ $v | toJson }}\n  {{- end }}\n"
    "  hosts: {{ .Values.hosts | toJson | quote }}\n"
    "  {{- with .Values.certificate }}\n  certificate: {{ . | quote }}\n  {{- end }}\n",
    "tests/test-connection.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-test\n"
    "  annotations: {helm.sh/hook: test}\nspec:\n  containers: [{name: t, image: busybox}]\n",
}


def write_chart(app_dir: Path, dependencies: str = "") -> None:
    (app_dir / "Chart.yaml").write_text(f"apiVersion: v2\nname: shop\nversion: 1.0.0\n{dependencies}")
    (app_dir / "values.yaml").write_text("image: {tag: '1.27'}\nsettings: {}\nhosts: []\n")
    (app_dir / "values-prod.yaml").write_text("settings: {tier: prod}\n")
    for name, text in CHART_TEMPLATES.items():
        (app_dir / "templates" / name).parent.mkdir(parents=True, exist_ok=True)
        (app_dir / "templates" / name).write_text(text)
    (app_dir / "crds").mkdir()
    (app_dir / "crds" / "widget.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n"
        "spec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n"
        "  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]\n"
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


# --- Helm chart (real helm) -------------------------------------------------------------------------------

HELM_SOURCE = {
    "releaseName": "storefront",
    "valueFiles": ["values-prod.yaml", "/shared/values-$ARGOCD_APP_PROJECT_NAME.yaml", "missing.yaml"],
    "ignoreMissingValueFiles": True,
    "valuesObject": {"settings": {"color": "blue"}},
    "parameters": [
        {"name": "image.tag", "value": "1.28"},
        {"name": "settings.owner", "value": "a,b"},
        {"name": "hosts", "value": "{a.example,b.example}"},
        {"name": "settings.zip", "value": "01234", "forceString": True},
        {"name": "settings.app", "value": "$ARGOCD_APP_NAME-$$x"},
    ],
    "fileParameters": [{"name": "certificate", "path": "/shared/cert.pem"}],
    "namespace": "shop-helm",
    "kubeVersion": "1.31.0",
    "apiVersions": ["v1", "apps/v1", "batch/v1", "monitoring.coreos.com/v1"],
    "skipCrds": True,
    "skipTests": True,
    "skipSchemaValidation": True,
}


@pytest.mark.parametrize(
    "helm",
    [pytest.param(None, id="defaults"), pytest.param(HELM_SOURCE, id="every-option"), pytest.param({"values": "settings: {tier: inline}\n"}, id="inline-values")],
)
def test_a_chart_moved_onto_the_plugin_renders_as_argo_cds_helm_source(argocd, repo, tmp_path, sidecar_env, helm_bin, tools, helm):
    """Differential: the same chart and spec.source.helm, once through Argo CD's Helm source, once
    through the plugin with the block moved into the `helm` parameter. Only the annotation differs."""
    link_helm(tools, helm_bin)
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    (repo / "shared").mkdir()
    (repo / "shared" / "values-default.yaml").write_text("settings: {region: eu}\n")
    (repo / "shared" / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    name = "team-a_shop"  # an app outside Argo CD's namespace: the release drops the qualifier
    plugin = {"name": "sidecar-policy", "parameters": [{"name": "helm", "string": yaml.safe_dump(helm)}] if helm else []}

    out, _ = run(argocd, repo, Application(name=name, plugin=plugin), sidecar_env, tmp_path / "sidecar")
    native = argocd.generate(repo, Application(name=name, plugin=None, helm=helm or {}), path=sidecar_path(tools))

    assert native.source_type == "Helm"
    assert [without_annotation(o) for o in out.objects] == native.objects
    assert annotation(out.objects, "Job", "migrate") == "true"
    assert annotation(out.objects, "Deployment", "web") == "false"


def test_helm_parameters_as_plugin_parameters(argocd, repo, tmp_path, sidecar_env, helm_bin, tools):
    """The array and map parameters: values files and --set values, escaped as Argo CD escapes them."""
    link_helm(tools, helm_bin)
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    plugin = {
        "name": "sidecar-policy",
        "parameters": [
            {"name": "values-files", "array": ["values-prod.yaml"]},
            {"name": "helm-parameters", "map": {"image.tag": "v2", "settings.owner": "a,b", "hosts": "{x,y}"}},
        ],
    }
    out, _ = run(argocd, repo, Application(plugin=plugin), sidecar_env, tmp_path / "sidecar")
    (deployment,) = [o for o in out.objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:v2"
    (settings,) = [o for o in out.objects if o["kind"] == "ConfigMap"]
    assert settings["data"]["tier"] == "prod" and settings["data"]["owner"] == "a,b"
    assert json.loads(settings["data"]["hosts"]) == ["x", "y"]


@pytest.mark.parametrize(
    "helm, message",
    [
        ({"valueFiles": ["../../../../etc/passwd"]}, "outside the repository"),
        ({"valueFiles": ["$values/prod.yaml"]}, "another source"),
        ({"valueFiles": ["values-*.yaml"]}, "glob"),
        ({"valueFile": ["values-prod.yaml"]}, "unknown field 'valueFile'"),
        ({"parameters": [{"name": "a", "value": 1}]}, "parameters"),
    ],
)
def test_a_bad_helm_parameter_fails_the_app_before_helm_runs(argocd, repo, tmp_path, sidecar_env, helm, message):
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    plugin = {"name": "sidecar-policy", "parameters": [{"name": "helm", "string": yaml.safe_dump(helm)}]}
    failed = failure(argocd, repo, Application(plugin=plugin), sidecar_env, tmp_path / "sidecar")
    assert "exit status 2" in failed and message in failed


def test_init_builds_chart_dependencies_only_when_not_vendored(argocd, repo, tmp_path, sidecar_env, tools):
    """A fake helm that records its calls and prints a chart: no chart repository can be reached here."""
    log = tmp_path / "helm-calls.jsonl"
    (tools / "helm").write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(
            f"""\
            import json, sys
            with open({str(log)!r}, "a") as out:
                out.write(json.dumps(sys.argv[1:]) + "\\n")
            if sys.argv[1:2] == ["template"]:
                sys.stdout.write({JOB!r})
            """
        )
    )
    (tools / "helm").chmod(0o755)
    app_dir = repo / "apps" / "shop"
    write_chart(
        app_dir,
        "dependencies:\n- {name: redis, version: 19.0.0, repository: https://charts.example/stable}\n"
        "- {name: common, version: 2.0.0, repository: oci://registry.example/charts}\n",
    )
    (app_dir / ".sidecar-policy.yaml").write_text(POLICY)
    plugin = {"name": "sidecar-policy", "parameters": [{"name": "helm", "string": "passCredentials: true\n"}]}

    run(argocd, repo, Application(plugin=plugin), sidecar_env, tmp_path / "first")
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [call[:2] for call in calls] == [["repo", "add"], ["dependency", "build"], ["template", "."]]
    assert calls[0][2:4] == ["--force-update", "--pass-credentials"] and calls[0][5] == "https://charts.example/stable"

    log.unlink()
    for name in ("redis", "common"):
        (app_dir / "charts" / name).mkdir(parents=True)
        (app_dir / "charts" / name / "Chart.yaml").write_text(f"name: {name}\n")
    run(argocd, repo, Application(), sidecar_env, tmp_path / "again")
    assert [json.loads(line)[0] for line in log.read_text().splitlines()] == ["template"]


def test_a_missing_helm_is_a_clear_error(argocd, repo, tmp_path, sidecar_env):
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    message = failure(argocd, repo, Application(), sidecar_env, tmp_path / "sidecar")
    assert "exit status 4" in message and "`helm` is not installed in this sidecar image" in message


def test_a_failing_helm_fails_the_app_with_helms_message(argocd, repo, tmp_path, sidecar_env, helm_bin, tools):
    link_helm(tools, helm_bin)
    app_dir = app_files(repo, {".sidecar-policy.yaml": POLICY})
    write_chart(app_dir)
    (app_dir / "templates" / "broken.yaml").write_text("{{ .Values.nothing.here }}\n")
    message = failure(argocd, repo, Application(), sidecar_env, tmp_path / "sidecar")
    assert "exit status 4" in message and "nil pointer" in message and "helm template" in message


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


def test_a_bad_inline_policy_fails_the_app(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB})
    bad = POLICY.replace("sidecar: native", "sidecar: sometimes")
    app = Application(plugin={"name": "sidecar-policy", "parameters": [{"name": "policy", "string": bad}]})
    message = failure(argocd, repo, app, sidecar_env, tmp_path / "sidecar")
    assert "exit status 2" in message and "plugin parameter 'policy'" in message


# --- the cluster version ---------------------------------------------------------------------------------


def test_native_for_a_cluster_below_1_28_is_an_error(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    message = failure(argocd, repo, Application(kube_version="1.27.9"), sidecar_env, tmp_path / "sidecar")
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


# --- chained after another plugin, and the time limit ---------------------------------------------------


RENDER = "for f in *.yaml; do echo ---; cat $f; done"  # the other plugin's render, in the app directory


def other_plugin(tmp_path: Path, name: str, generate: list[str]) -> Path:
    """A plugin.yaml of another plugin whose generate runs through sidecar-policy."""
    config = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ConfigManagementPlugin", "metadata": {"name": name},
              "spec": {"generate": {"command": generate}}}  # fmt: skip
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(
    "generate",
    [
        pytest.param(["sidecar-policy", "argocd", "generate", "--", "sh", "-c", RENDER], id="wrapped"),
        pytest.param(["bash", "-c", f"({RENDER}) | sidecar-policy argocd generate -"], id="piped-like-lovely"),
    ],
)
def test_chained_after_another_plugin(argocd, repo, tmp_path, sidecar_env, generate):
    """The other plugin is `cat` here (argocd-vault-plugin and lovely cannot be installed): what
    matters is how cmp-server runs the chain and what reaches Argo CD."""
    app_files(repo, {"job.yaml": JOB, "deployment.yaml": DEPLOYMENT, ".sidecar-policy.yaml": POLICY})
    sidecar = argocd.sidecar(tmp_path / "sidecar", sidecar_env, other_plugin(tmp_path, "other", generate))
    try:
        out = argocd.generate(repo, Application(plugin={"name": "other"}), sidecar)
    finally:
        sidecar.close()
    assert annotation(out.objects, "Job", "migrate") == "true"
    assert annotation(out.objects, "Deployment", "web") == "false"


def test_a_failing_chained_command_fails_the_app(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    generate = ["sidecar-policy", "argocd", "generate", "--", "sh", "-c", "cat job.yaml; echo vault is sealed >&2; exit 3"]
    sidecar = argocd.sidecar(tmp_path / "sidecar", sidecar_env, other_plugin(tmp_path, "other", generate))
    try:
        with pytest.raises(GenerateFailed) as failed:
            argocd.generate(repo, Application(plugin={"name": "other"}), sidecar)
    finally:
        sidecar.close()
    assert "exit status 4" in str(failed.value) and "vault is sealed" in str(failed.value)


def test_the_time_limit_is_the_repo_servers_deadline_not_argocd_exec_timeout(argocd, repo, tmp_path, sidecar_env):
    """cmpserver/plugin/plugin.go runs commands under the request's deadline; ARGOCD_EXEC_TIMEOUT on
    the sidecar changes nothing."""
    app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    slow = other_plugin(tmp_path, "slow", ["sidecar-policy", "argocd", "generate", "--", "sh", "-c", "sleep 2; cat job.yaml"])
    sidecar = argocd.sidecar(tmp_path / "sidecar", {**sidecar_env, "ARGOCD_EXEC_TIMEOUT": "1s"}, slow)
    try:
        out = argocd.generate(repo, Application(plugin={"name": "slow"}), sidecar, timeout=30)
        assert annotation(out.objects, "Job", "migrate") == "true"
        with pytest.raises(GenerateFailed) as failed:
            argocd.generate(repo, Application(plugin={"name": "slow"}), sidecar, timeout=1)
    finally:
        sidecar.close()
    assert "deadline" in str(failed.value).lower() or "signal" in str(failed.value).lower()


# --- plugin.yaml itself ------------------------------------------------------------------------------


def test_plugin_yaml_is_named_only_and_announces_its_parameters(argocd, repo, tmp_path, sidecar_env):
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "argocd-plugin" / "plugin.yaml").read_text())
    assert config["metadata"] == {"name": "sidecar-policy"} and "version" not in config["spec"]
    assert "discover" not in config["spec"]  # see test_a_named_app_needs_no_policy_file
    names = [p["name"] for p in config["spec"]["parameters"]["static"]]
    assert names == ["policy", "values-files", "helm-parameters", "helm"]


# --- the docs' examples, as written ----------------------------------------------------------------


def docs_applications() -> list[dict]:
    """Every YAML block of docs/argocd.md that holds an Application's source (whole or in part)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "argocd.md").read_text()
    blocks = [yaml.safe_load(textwrap.dedent(block.split("```")[0])) for block in text.split("```yaml\n")[1:]]
    found = []
    for block in blocks:
        source = (block.get("spec") or {}).get("source") if block.get("kind") == "Application" else block.get("source")
        if isinstance(source, dict) and isinstance(source.get("plugin"), dict) and source["plugin"].get("name") == "sidecar-policy":
            found.append(source)
    return found


def test_the_docs_examples_work_as_written(argocd, repo, tmp_path, sidecar_env, helm_bin, tools):
    """The Application of "Use it in an Application" and the source of "Moving a Helm app", on a chart
    that has the files they name; the second also renders as the same block does in Argo CD's Helm source."""
    link_helm(tools, helm_bin)
    application, moved = docs_applications()
    for source in (application, moved):
        chart = repo / source["path"]
        chart.mkdir(parents=True, exist_ok=True)
        write_chart(chart)
    (repo / "policies" / "shop.yaml").write_text(POLICY)
    (repo / "shared").mkdir()
    (repo / "shared" / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\n")

    out, _ = run(argocd, repo, Application(source_path=application["path"], plugin=application["plugin"]), sidecar_env, tmp_path / "a")
    (deployment,) = [o for o in out.objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:v1.4.2"
    assert annotation(out.objects, "Job", "migrate") == "true"

    Path(sidecar_env["SIDECAR_POLICY_DEFAULT"]).write_text(POLICY)
    out, _ = run(argocd, repo, Application(source_path=moved["path"], plugin=moved["plugin"]), sidecar_env, tmp_path / "b")
    helm = yaml.safe_load(moved["plugin"]["parameters"][0]["string"])
    native = argocd.generate(repo, Application(source_path=moved["path"], plugin=None, helm=helm), path=sidecar_path(tools))
    assert [without_annotation(o) for o in out.objects] == native.objects
    assert "storefront" in json.dumps(native.objects)
