"""Apps, fixtures and checks shared by the tests that run the plugin in Argo CD's own code
(test_argocd_plugin.py, test_argocd_plugin_helm.py; the harness driver is tests/support/argocd.py)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

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


HELM = ("helm.sh/helm/v4", "v4.3.1", "cmd/helm")  # Argo CD 3.5 and later ship Helm 4 (v3.6.2: 4.3.2, hack/tool-versions.sh)
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@pytest.fixture(scope="session", params=VERSIONS, ids=lambda release: release.version)
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
