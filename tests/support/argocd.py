"""Argo CD's own repo-server and cmp-server code, driven from the tests (tests/harness/argocd/).

`ArgoCD.generate(app)` is the repo-server's manifest generation after the checkout
(reposerver/repository.GenerateManifests): Argo CD decides the source type (explicit
spec.source.helm/kustomize/directory/plugin, else util/app/discovery), then renders Helm,
kustomize and directory apps itself or streams the repository to the plugin's cmp-server
(cmpserver, serving argocd-plugin/plugin.yaml on a unix socket) with the env it builds.
What does not run: git checkout and credentials, the manifest cache and the controller.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.support import gotools

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_YAML = ROOT / "argocd-plugin" / "plugin.yaml"


@dataclass(frozen=True)
class Release:
    """An Argo CD release the one harness source (tests/harness/argocd) is built against: its go.mod,
    and the build tag that picks the file with that major's import paths (/v2 or /v3)."""

    version: str
    modfile: str
    tags: tuple[str, ...] = ()


# The releases we prove against: the oldest we support and the newest. Discovery and the cmp-server
# run against both (test_argocd_plugin.py); the Helm-heavy tests against the newest only.
OLDEST = Release("v2.14.21", "go.argocd-2.14.mod", ("argocd_v2",))
NEWEST = Release("v3.6.2", "go.mod")  # needs Go 1.27 (./dev sets GOTOOLCHAIN)
VERSIONS = (OLDEST, NEWEST)

REVISION = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Application:
    """The parts of an Application (and the controller's request) that reach the repo-server."""

    name: str = "shop"
    namespace: str = "shop"  # the destination namespace
    source_path: str = "apps/shop"
    plugin: dict[str, object] | None = field(default_factory=lambda: {"name": "sidecar-policy"})
    helm: dict[str, object] | None = None  # spec.source.helm: Argo CD's own Helm source
    kustomize: dict[str, object] | None = None
    directory: dict[str, object] | None = None
    kube_version: str = "1.30.2"
    api_versions: list[str] = field(default_factory=lambda: ["v1", "apps/v1", "batch/v1"])
    repo_url: str = "https://git.example/platform.git"

    def request(self) -> dict[str, object]:
        source: dict[str, object] = {"repoURL": self.repo_url, "path": self.source_path, "targetRevision": "HEAD"}
        for key in ("plugin", "helm", "kustomize", "directory"):
            if getattr(self, key) is not None:
                source[key] = getattr(self, key)
        return {
            "repo": {"repo": self.repo_url},
            "revision": REVISION,
            "appName": self.name,
            "namespace": self.namespace,
            "projectName": "default",
            "applicationSource": source,
            "kubeVersion": self.kube_version,
            "apiVersions": self.api_versions,
        }


class GenerateFailed(Exception):
    """The repo-server's error, as Argo CD shows it on the Application."""


@dataclass
class Generated:
    source_type: str
    objects: list[dict[str, object]]


class ArgoCD:
    """One Argo CD release's harness binary; `sidecar(...)` starts our plugin's cmp-server."""

    def __init__(self, binary: Path, release: Release):
        self.binary = binary
        self.release = release

    def sidecar(self, work: Path, env: dict[str, str], plugin_yaml: Path = PLUGIN_YAML) -> Sidecar:
        return Sidecar(self.binary, work, env, plugin_yaml)

    def generate(
        self, repo: Path, app: Application, sidecar: Sidecar | None = None, path: str = "", timeout: int = 60
    ) -> Generated:
        """Manifests for `app` from the checked-out `repo`, or GenerateFailed with Argo CD's message.
        `timeout` is the caller's repo-server deadline in seconds (60 by default, as in Argo CD)."""
        request = {
            "appPath": str(repo / app.source_path),
            "repoRoot": str(repo),
            "revision": REVISION,
            "request": app.request(),
            "timeoutSeconds": timeout,
        }
        env = {"PATH": path or os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
        if sidecar is not None:
            env["ARGOCD_PLUGINSOCKFILEPATH"] = str(sidecar.sockets)
        else:  # no plugin installed: an empty socket directory
            env["ARGOCD_PLUGINSOCKFILEPATH"] = str(repo.parent / "no-plugins")
            Path(env["ARGOCD_PLUGINSOCKFILEPATH"]).mkdir(exist_ok=True)
        done = subprocess.run(
            [str(self.binary), "generate"], input=json.dumps(request), capture_output=True, text=True, env=env, check=False
        )
        answer = json.loads(done.stdout or '{"error": "no answer"}')
        if "error" in answer:
            raise GenerateFailed(answer["error"])
        objects = [json.loads(manifest) for manifest in answer["manifests"] or []]
        return Generated(answer["sourceType"], objects)


class Sidecar:
    """argocd-cmp-server for plugin.yaml with the sidecar container's environment, on its own socket."""

    def __init__(self, binary: Path, work: Path, env: dict[str, str], plugin_yaml: Path):
        self.sockets = work / "plugins"
        self.sockets.mkdir(parents=True, exist_ok=True)
        config = work / "config"
        config.mkdir(exist_ok=True)
        (config / "plugin.yaml").write_bytes(plugin_yaml.read_bytes())
        name = yaml.safe_load(plugin_yaml.read_text())["metadata"]["name"]
        self.socket = self.sockets / f"{name}.sock"
        self.log = work / "cmp-server.log"
        (work / "cmp-tmp").mkdir(exist_ok=True)
        full_env = {
            "ARGOCD_PLUGINSOCKFILEPATH": str(self.sockets),
            "ARGOCD_CMP_WORKDIR": str(work / "cmp-tmp"),
            **env,
        }
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([str(binary), "serve", str(config)], env=full_env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"cmp-server did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def sidecar_path(*extra: Path) -> str:
    """PATH inside the sidecar: our console script, the given tools, then the system's."""
    return ":".join([str(Path(sys.executable).parent), *map(str, extra), "/usr/local/bin", "/usr/bin", "/bin"])


def build(release: Release) -> ArgoCD:
    return ArgoCD(gotools.harness("argocd", release.modfile, release.tags), release)
