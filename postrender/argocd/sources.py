"""Render an Argo CD app directory the way Argo CD's own tools would, inside the plugin sidecar.

kustomization -> `kustomize build` (or `kubectl kustomize`), Chart.yaml -> `helm template`,
otherwise the directory's manifest files. Which one wins follows Argo CD's discovery
(util/app/discovery/discovery.go: a kustomization beats a Chart.yaml in the same directory), and
the helm command line follows util/helm/cmd.go `template`, so an app moved onto the plugin renders
the same objects as before. Tools run without a shell: user values are argv items, never code.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from postrender.argocd.env import AppEnv, resolve_in_repository
from postrender.core.errors import InputError, ToolError, UsageError

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")  # Argo CD's directory filter, jsonnet handled apart
VALUES_FILES_PARAMETER = "values-files"
HELM_PARAMETERS_PARAMETER = "helm-parameters"
VALUES_FILES_ENV = "HELM_VALUES_FILES"  # ARGOCD_ENV_HELM_VALUES_FILES: comma-separated paths
HELM_SET_ENV = "HELM_SET"  # ARGOCD_ENV_HELM_SET: one `--set` argument, helm splits it on commas


def source_kind(app_dir: Path) -> str:
    if any((app_dir / name).is_file() for name in KUSTOMIZATION_NAMES):
        return "kustomize"
    if (app_dir / "Chart.yaml").is_file():
        return "helm"
    return "directory"


def render(
    app_dir: Path, repo_root: Path, env: AppEnv, skip_files: Iterable[str], stderr: TextIO, kustomize_options: str = ""
) -> bytes:
    """The app's manifests as one YAML stream; a failing tool raises ToolError with its message."""
    kind = source_kind(app_dir)
    if kind == "kustomize":
        return run_tool(kustomize_argv(kustomize_options), app_dir, stderr)
    if kind == "helm":
        return render_chart(app_dir, repo_root, env, stderr)
    return read_directory(app_dir, repo_root, set(skip_files), stderr)


def kustomize_argv(build_options: str = "") -> list[str]:
    """`build_options` is the administrator's, like argocd-cm `kustomize.buildOptions` (e.g. --enable-helm)."""
    # Argo CD's image ships `kustomize`; `kubectl kustomize` is the same builder where only kubectl exists.
    if shutil.which("kustomize") or not shutil.which("kubectl"):
        command = ["kustomize", "build", "."]
    else:
        command = ["kubectl", "kustomize", "."]
    try:
        return command + shlex.split(build_options)
    except ValueError as error:
        raise UsageError(f"SIDECAR_POLICY_KUSTOMIZE_BUILD_OPTIONS: {error}") from None


def render_chart(app_dir: Path, repo_root: Path, env: AppEnv, stderr: TextIO) -> bytes:
    """`helm template` as Argo CD's Helm source runs it; inline values go through a private temp file."""
    import tempfile

    from postrender.argocd.helm import helm_source

    source = helm_source(env)
    with tempfile.TemporaryDirectory(prefix="sidecar-policy-values-") as scratch:
        extra_values = None
        if source.values_yaml:
            extra_values = Path(scratch) / "values.yaml"
            extra_values.write_text(source.values_yaml, encoding="utf-8")
        return run_tool(helm_template_argv(app_dir, repo_root, env, extra_values), app_dir, stderr)


def helm_template_argv(app_dir: Path, repo_root: Path, env: AppEnv, extra_values: Path | None = None) -> list[str]:
    """util/helm/cmd.go `template`'s command line for the app (see argocd.helm for each field)."""
    from postrender.argocd.helm import (
        clean_set_value,
        envsubst,
        helm_source,
        resolved_value_files,
    )

    source = helm_source(env)
    build_env = dict(env.build_env)
    argv = ["helm", "template", "."]
    if source.release_name or env.release_name:  # Argo CD always has one; a bare local run may not
        argv += ["--name-template", source.release_name or env.release_name]
    if source.namespace or env.namespace:
        argv += ["--namespace", source.namespace or env.namespace]
    if source.kube_version or env.kube_version:
        argv += ["--kube-version", source.kube_version or env.kube_version]
    # One value per key, as Argo CD's maps hold them: the map parameter overrides spec.source.helm's.
    sets = dict(source.set)
    helm_parameters = env.parameter(HELM_PARAMETERS_PARAMETER)
    sets.update(dict(helm_parameters.map or ()) if helm_parameters else {})
    for flag, pairs in (("--set", sets.items()), ("--set-string", source.set_string)):
        for key, value in pairs:
            argv += [flag, f"{key}={clean_set_value(envsubst(value, build_env))}"]
    for key, path in source.set_file:
        resolved = resolve_in_repository(app_dir, repo_root, envsubst(path, build_env), "Helm file parameter")
        argv += ["--set-file", f"{key}={clean_set_value(str(resolved))}"]
    if env.env(HELM_SET_ENV):
        argv += ["--set", env.env(HELM_SET_ENV)]
    values = resolved_value_files(source, app_dir, repo_root, build_env)
    values += [str(resolve_in_repository(app_dir, repo_root, path, "Helm values file")) for path in _values_files(env)]
    for path in values + ([str(extra_values)] if extra_values else []):
        argv += ["--values", path]
    for api_version in source.api_versions or env.api_versions:
        argv += ["--api-versions", api_version]
    if not source.skip_crds:
        argv.append("--include-crds")
    if source.skip_schema_validation:
        argv.append("--skip-schema-validation")
    if source.skip_tests:
        argv.append("--skip-tests")
    return argv


def _values_files(env: AppEnv) -> list[str]:
    files = [path.strip() for path in env.env(VALUES_FILES_ENV).split(",") if path.strip()]
    parameter = env.parameter(VALUES_FILES_PARAMETER)
    if parameter is not None:
        files += list(parameter.array or ()) + ([parameter.string] if parameter.string else [])
    return files


def run_tool(argv: list[str], cwd: Path, stderr: TextIO) -> bytes:
    """Run a renderer; its stdout is the stream. Anything but exit 0 fails the whole command."""
    shown = _shown_command(argv)
    try:
        done = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    except FileNotFoundError:
        raise ToolError(
            f"`{argv[0]}` is not installed in this sidecar image, so `{shown}` cannot run; "
            f"use the sidecar-policy image (argocd-plugin/Dockerfile) or add {argv[0]} to yours"
        ) from None
    message = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        raise ToolError(f"`{shown}` failed with exit code {done.returncode}: {message or '(no message)'}")
    if message:  # helm's deprecation notices and the like still reach the Argo CD logs
        print(message, file=stderr)
    return done.stdout


def _shown_command(argv: list[str]) -> str:
    # The API-version list runs to hundreds of items; Argo CD elides it in its messages too.
    shown: list[str] = []
    elided = 0
    for index, item in enumerate(argv):
        if item == "--api-versions" or (index and argv[index - 1] == "--api-versions"):
            elided += item != "--api-versions"
            continue
        shown.append(item)
    return shlex.join(shown) + (f" --api-versions <{elided} API versions>" if elided else "")


def read_directory(app_dir: Path, repo_root: Path, skip_files: set[str], stderr: TextIO) -> bytes:
    """The directory's manifest files in name order, as a non-recursive Argo CD directory app reads them.

    Read like reposerver/repository/repository.go `getObjsFromYAMLOrJSON`: a YAML file whose
    documents are not objects is ignored unless it looks like a manifest (then it is an error);
    a JSON file holds exactly one object; symlinks may not leave the repository.
    """
    parts: list[bytes] = []
    for path in sorted(app_dir.iterdir(), key=lambda p: p.name):
        if path.name in skip_files or path.is_dir():
            continue
        if path.name.endswith(".jsonnet"):
            raise InputError(f"{path.name}: jsonnet is not rendered by the sidecar-policy plugin; render it to YAML first")
        if not path.name.endswith(MANIFEST_SUFFIXES):
            continue
        resolve_in_repository(app_dir, repo_root, path.name, "manifest file")
        text = path.read_bytes().removeprefix(b"\xef\xbb\xbf")  # a BOM is only valid at the stream's start
        if path.name.endswith(".json"):
            document: bytes | None = _json_manifest(path.name, text)
        else:
            document = _yaml_manifests(path.name, text, stderr)
        if document is not None:
            parts.append(_with_source(path.name, document))
    return b"---\n".join(parts)


def _with_source(name: str, text: bytes) -> bytes:
    """Each document of a file, marked `# Source: <file>` as Helm marks templates, so messages name the file."""
    from postrender.core.stream import read_documents

    comment = b"# Source: " + name.encode() + b"\n"
    marked = []
    for document in read_documents(io.BytesIO(text if text.endswith(b"\n") else text + b"\n")):
        first, newline, rest = document.raw.partition(b"\n")
        if first.rstrip() == b"---":
            marked.append(first + newline + comment + rest)
        elif first.startswith(b"---"):  # `--- content` on the marker line: leave it be
            marked.append(document.raw)
        else:
            marked.append(comment + document.raw)
    return b"".join(marked)


def _yaml_manifests(name: str, text: bytes, stderr: TextIO) -> bytes | None:
    from postrender.core import yamlnodes  # lazily: only directory apps need it here
    from postrender.core.stream import read_documents

    if _all_documents_have_a_kind(text) and _is_valid_yaml(text):
        return text  # the common case, without building objects: CRDs make up most of the bytes
    try:  # a repository's file is untrusted: each document composed with the core's guards
        loaded = (yamlnodes.load(document.raw.decode("utf-8-sig")) for document in read_documents(io.BytesIO(text)))
        documents = [doc for doc in loaded if doc is not None]
        problem = next((doc for doc in documents if not _is_object(doc)), None)
        error = f"document is not a Kubernetes object: {problem!r:.60}" if problem is not None else ""
    except (yamlnodes.NodeError, UnicodeDecodeError) as exc:
        documents, error = [], str(exc)
    if not error:
        return text
    looks_like_manifest = all(marker in text for marker in (b"apiVersion:", b"kind:", b"metadata:"))
    if looks_like_manifest or any(_is_object(doc) for doc in documents):
        raise InputError(f"{name}: {error}")
    print(f"sidecar-policy: ignoring {name}: not a Kubernetes manifest", file=stderr)
    return None


def _all_documents_have_a_kind(text: bytes) -> bool:
    """Every document is a block mapping with a certain top-level `kind` (the core's own triage)."""
    from postrender.core.stream import read_documents
    from postrender.core.triage import sniff_kind

    return all(sniff_kind(document.raw) for document in read_documents(io.BytesIO(text)))


def _is_valid_yaml(text: bytes) -> bool:
    import yaml

    try:
        for _ in yaml.parse(text, Loader=yaml.CSafeLoader):  # events only: a quarter of a full load
            pass
    except yaml.YAMLError:
        return False  # the slow path below says what is wrong
    return True


def _json_manifest(name: str, text: bytes) -> bytes:
    # Passed on as JSON: the core keeps a JSON document JSON when it edits it.
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InputError(f"{name}: not one JSON object ({error}); Argo CD allows a single object per JSON file") from None
    if not _is_object(document):
        raise InputError(f"{name}: not a Kubernetes object")
    return text


def _is_object(document: object) -> bool:
    return isinstance(document, dict) and isinstance(document.get("kind"), str) and bool(document["kind"])


def build_chart_dependencies(app_dir: Path, stderr: TextIO, pass_credentials: bool = False) -> None:
    """`init`: fetch a chart's dependencies unless they are already vendored in charts/.

    `helm dependency build` only finds repositories that were added first (helm/helm#8036), so
    every http(s) repository named in Chart.yaml is added under a name derived from its URL, as
    Argo CD does before it builds (repository.go getHelmDependencyRepos). OCI needs no adding.
    """
    chart_file = app_dir / "Chart.yaml"
    if source_kind(app_dir) != "helm":
        return
    from postrender.core import yamlnodes

    try:
        chart = yamlnodes.load(chart_file.read_bytes().decode("utf-8-sig"))  # guarded: the repository is input
    except (yamlnodes.NodeError, UnicodeDecodeError) as error:
        raise InputError(f"Chart.yaml: {error}") from None
    dependencies = chart.get("dependencies") if isinstance(chart, dict) else None
    if not isinstance(dependencies, list) or not dependencies:
        return
    if all(_vendored(app_dir, dependency) for dependency in dependencies):
        return
    for dependency in dependencies:
        repository = dependency.get("repository", "") if isinstance(dependency, dict) else ""
        if isinstance(repository, str) and repository.startswith(("https://", "http://")):
            name = "sidecar-policy-" + hashlib.sha256(repository.encode()).hexdigest()[:12]
            add = ["helm", "repo", "add", "--force-update"] + (["--pass-credentials"] if pass_credentials else [])
            _echo(run_tool([*add, name, repository], app_dir, stderr), stderr)
    _echo(run_tool(["helm", "dependency", "build"], app_dir, stderr), stderr)


def _vendored(app_dir: Path, dependency: object) -> bool:
    name = dependency.get("name") if isinstance(dependency, dict) else None
    if not isinstance(name, str) or not name or "/" in name:
        return False
    charts = app_dir / "charts"
    return (charts / name / "Chart.yaml").is_file() or any(charts.glob(f"{glob_escape(name)}-*.tgz"))


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _echo(output: bytes, stderr: TextIO) -> None:
    # init's stdout is not manifests; keep it in the logs, never on our stdout.
    if output.strip():
        print(output.decode("utf-8", "replace").rstrip(), file=stderr)
