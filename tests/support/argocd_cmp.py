"""A stand-in for argocd-cmp-server: runs plugin.yaml's commands the way the sidecar does.

Argo CD cannot run here, so this follows its source (argoproj/argo-cd):
- util/io/files/tar.go `untar`: the repository arrives as a tarball and is unpacked into a fresh
  work dir with modes reset to 0644 (files) and 0755 (dirs) unless preserveFileMode is set;
  symlinks are kept when they stay inside.
- cmpserver/plugin/plugin.go `generateManifest` / `runCommand`: init (if any) then generate, each
  exec'd as command[0] with command[1:] + args, no shell, in the app's directory, with the
  sidecar's environment plus the request's; a non-zero exit fails the request with stderr.
- reposerver/repository/repository.go `newEnv`, `getPluginEnvs`, `getPluginParamEnvs` and
  pkg/apis/application/v1alpha1/types.go `ApplicationSourcePluginParameters.Environ`: the
  variables a request carries.
- gitops-engine pkg/utils/kube/kube.go `SplitYAMLToString`: stdout is a YAML or JSON stream;
  empty and `null` documents are skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass
class Application:
    """The parts of an Argo CD Application (and its request) a plugin can see."""

    name: str = "shop"
    namespace: str = "shop"  # the destination namespace
    source_path: str = "apps/shop"
    plugin_env: list[tuple[str, str]] = field(default_factory=list)
    parameters: list[dict[str, object]] | None = None
    kube_version: str = "1.30.2"
    api_versions: list[str] = field(default_factory=lambda: ["v1", "apps/v1", "batch/v1"])
    repo_url: str = "https://git.example/platform.git"
    revision: str = "0123456789abcdef0123456789abcdef01234567"


class PluginFailed(Exception):
    def __init__(self, command: list[str], returncode: int, stderr: str):
        super().__init__(f"`{' '.join(command)}` failed with exit code {returncode}: {stderr}")
        self.returncode = returncode
        self.stderr = stderr


@dataclass
class Generated:
    objects: list[dict[str, object]]
    stdout: str
    stderr: str
    app_dir: Path


def argocd_env(app: Application) -> dict[str, str]:
    env = {
        "ARGOCD_APP_NAME": app.name,
        "ARGOCD_APP_NAMESPACE": app.namespace,
        "ARGOCD_APP_PROJECT_NAME": "default",
        "ARGOCD_APP_REVISION": app.revision,
        "ARGOCD_APP_REVISION_SHORT": app.revision[:7],
        "ARGOCD_APP_REVISION_SHORT_8": app.revision[:8],
        "ARGOCD_APP_SOURCE_REPO_URL": app.repo_url,
        "ARGOCD_APP_SOURCE_PATH": app.source_path,
        "ARGOCD_APP_SOURCE_TARGET_REVISION": "HEAD",
        "KUBE_VERSION": app.kube_version,
        "KUBE_API_VERSIONS": ",".join(app.api_versions),
    }
    for name, value in app.plugin_env:
        # Argo CD expands $VARS of the build environment in plugin env values (Env.Envsubst).
        env["ARGOCD_ENV_" + name] = re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: env.get(m[1] or m[2], ""), value)
    if app.parameters is not None:
        env["ARGOCD_APP_PARAMETERS"] = json.dumps(app.parameters)
        for parameter in app.parameters:
            base = "PARAM_" + re.sub(r"[^A-Z0-9_]", "_", str(parameter["name"]).upper())
            if "string" in parameter:
                env[base] = str(parameter["string"])
            for key, value in dict(parameter.get("map") or {}).items():
                env[f"{base}_{re.sub(r'[^A-Z0-9_]', '_', key.upper())}"] = value
            for index, value in enumerate(list(parameter.get("array") or [])):
                env[f"{base}_{index}"] = value
    return env


def copy_repository(repo: Path, work_dir: Path) -> None:
    """Unpack as the sidecar does: regular files 0644, directories 0755, symlinks as links.

    A symlink that leads out of the repository makes Argo CD refuse the whole request.
    """
    for source in sorted(repo.rglob("*")):
        target = work_dir / source.relative_to(repo)
        if source.is_symlink():
            if Path(os.path.realpath(source)).resolve() != repo.resolve() and repo.resolve() not in Path(
                os.path.realpath(source)
            ).parents:
                raise PluginFailed(["untar"], 1, f"illegal filepath in symlink: {source}")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(source), target)
        elif source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o755)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            target.chmod(0o644)


def split_like_argocd(stdout: str) -> list[dict[str, object]]:
    if stdout.lstrip().startswith("{"):
        decoder, objects, rest = json.JSONDecoder(), [], stdout.strip()
        while rest:
            obj, end = decoder.raw_decode(rest)
            objects.append(obj)
            rest = rest[end:].strip()
        return objects
    return [doc for doc in yaml.load_all(stdout, Loader=yaml.CSafeLoader) if doc is not None]


def run_plugin(
    plugin_yaml: Path, repo: Path, app: Application, work_root: Path, sidecar_env: dict[str, str]
) -> Generated:
    """Run init then generate for `app` from a copy of `repo`; raise PluginFailed like Argo CD would."""
    config = yaml.safe_load(plugin_yaml.read_text())
    assert config["kind"] == "ConfigManagementPlugin" and config["metadata"]["name"]  # ValidatePluginConfig
    work_dir = work_root / "cmp-work"
    copy_repository(repo, work_dir)
    app_dir = work_dir / app.source_path
    env = {**sidecar_env, **argocd_env(app)}
    for step in ("init", "generate"):
        spec = config["spec"].get(step) or {}
        command = list(spec.get("command") or []) + list(spec.get("args") or [])
        if not command:
            continue
        done = subprocess.run(command, cwd=app_dir, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PluginFailed(command, done.returncode, done.stderr.strip())
    return Generated(split_like_argocd(done.stdout), done.stdout, done.stderr, app_dir)
