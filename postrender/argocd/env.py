"""What Argo CD hands a config-management plugin: its environment, parameters and repository copy.

The contract, read from argoproj/argo-cd:
- reposerver/repository/repository.go `newEnv` + `getPluginEnvs`: ARGOCD_APP_NAME (with a
  `<namespace>_` prefix for apps outside Argo CD's namespace), ARGOCD_APP_NAMESPACE (the
  destination namespace), ARGOCD_APP_SOURCE_PATH, KUBE_VERSION, KUBE_API_VERSIONS (comma list),
  and every `spec.source.plugin.env` entry as ARGOCD_ENV_<name>.
- pkg/apis/application/v1alpha1/types.go `ApplicationSourcePluginParameters.Environ`: all
  parameters as JSON in ARGOCD_APP_PARAMETERS, plus PARAM_<NAME> / PARAM_<NAME>_<i> /
  PARAM_<NAME>_<KEY> per value (names upper-cased, other characters turned into `_`).
- cmpserver/plugin/plugin.go: the whole repository (or the manifest-generate-paths root) is
  unpacked into a fresh work dir and the commands run in the app's directory inside it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from postrender.core.errors import UsageError

ENV_PREFIX = "ARGOCD_ENV_"
# The build environment (repository.go newEnv): what Argo CD substitutes into Helm parameters and paths.
BUILD_ENV_NAMES = (
    "ARGOCD_APP_NAME",
    "ARGOCD_APP_NAMESPACE",
    "ARGOCD_APP_PROJECT_NAME",
    "ARGOCD_APP_REVISION",
    "ARGOCD_APP_REVISION_SHORT",
    "ARGOCD_APP_REVISION_SHORT_8",
    "ARGOCD_APP_SOURCE_REPO_URL",
    "ARGOCD_APP_SOURCE_PATH",
    "ARGOCD_APP_SOURCE_TARGET_REVISION",
)


@dataclass(frozen=True)
class Parameter:
    """One `spec.source.plugin.parameters` entry; exactly the fields the user set are not None."""

    name: str
    string: str | None = None
    array: tuple[str, ...] | None = None
    map: tuple[tuple[str, str], ...] | None = None  # pairs in the user's order


@dataclass(frozen=True)
class AppEnv:
    """The Application as the plugin sees it."""

    app_name: str = ""
    namespace: str = ""
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    source_path: str = ""
    parameters: tuple[Parameter, ...] = ()
    plugin_env: tuple[tuple[str, str], ...] = ()  # ARGOCD_ENV_* with the prefix removed
    build_env: tuple[tuple[str, str], ...] = ()  # the BUILD_ENV_NAMES that are set

    @property
    def release_name(self) -> str:
        # Argo CD names Helm releases after the app without its `<namespace>_` qualifier
        # (repository.go helmTemplate -> argo.ParseInstanceName).
        return self.app_name.split("_", 1)[-1]

    def parameter(self, name: str) -> Parameter | None:
        found = None
        for parameter in self.parameters:
            if parameter.name == name:
                found = parameter  # the last one wins, as a later --set would
        return found

    def env(self, name: str) -> str:
        """An `spec.source.plugin.env` value ("" when unset)."""
        return dict(self.plugin_env).get(name, "")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AppEnv:
        api_versions = tuple(v.strip() for v in environ.get("KUBE_API_VERSIONS", "").split(",") if v.strip())
        return cls(
            app_name=environ.get("ARGOCD_APP_NAME", ""),
            namespace=environ.get("ARGOCD_APP_NAMESPACE", ""),
            kube_version=environ.get("KUBE_VERSION", "").strip(),
            api_versions=api_versions,
            source_path=environ.get("ARGOCD_APP_SOURCE_PATH", ""),
            parameters=parse_parameters(environ),
            plugin_env=tuple(
                (key[len(ENV_PREFIX):], value) for key, value in sorted(environ.items()) if key.startswith(ENV_PREFIX)
            ),
            build_env=tuple((name, environ[name]) for name in BUILD_ENV_NAMES if name in environ),
        )


def parse_parameters(environ: Mapping[str, str]) -> tuple[Parameter, ...]:
    """Parameters from ARGOCD_APP_PARAMETERS; without it, the string/array PARAM_* variables."""
    raw = environ.get("ARGOCD_APP_PARAMETERS")
    if raw is None:
        return _parameters_from_param_vars(environ)
    try:
        entries = json.loads(raw)
    except ValueError as error:
        raise UsageError(f"ARGOCD_APP_PARAMETERS is not JSON: {error}") from None
    if entries is None:  # Argo CD sends `null` for `plugin: {}`
        return ()
    if not isinstance(entries, list):
        raise UsageError("ARGOCD_APP_PARAMETERS must be a JSON list of parameters")
    return tuple(_parameter_from_json(entry) for entry in entries)


def _parameter_from_json(entry: object) -> Parameter:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise UsageError(f"ARGOCD_APP_PARAMETERS: every parameter needs a string `name`, got {entry!r}")
    name = entry["name"]
    string, array, mapping = entry.get("string"), entry.get("array"), entry.get("map")
    if string is not None and not isinstance(string, str):
        raise UsageError(f"plugin parameter {name!r}: `string` must be a string")
    if array is not None and not (isinstance(array, list) and all(isinstance(v, str) for v in array)):
        raise UsageError(f"plugin parameter {name!r}: `array` must be a list of strings")
    if mapping is not None and not (
        isinstance(mapping, dict) and all(isinstance(v, str) for v in mapping.values())
    ):
        raise UsageError(f"plugin parameter {name!r}: `map` must map strings to strings")
    return Parameter(
        name=name,
        string=string,
        array=tuple(array) if array is not None else None,
        map=tuple(mapping.items()) if mapping is not None else None,
    )


def param_var_name(parameter_name: str) -> str:
    """The PARAM_* variable Argo CD derives from a parameter name (types.go `escaped`)."""
    return "PARAM_" + re.sub(r"[^A-Z0-9_]", "_", parameter_name.upper())


# Map keys are escaped irreversibly in PARAM_* names, so only these two shapes can be read back.
_KNOWN_STRING_PARAMETERS = ("policy",)
_KNOWN_ARRAY_PARAMETERS = ("values-files",)


def _parameters_from_param_vars(environ: Mapping[str, str]) -> tuple[Parameter, ...]:
    found: list[Parameter] = []
    for name in _KNOWN_STRING_PARAMETERS:
        if param_var_name(name) in environ:
            found.append(Parameter(name=name, string=environ[param_var_name(name)]))
    for name in _KNOWN_ARRAY_PARAMETERS:
        items: list[str] = []
        while f"{param_var_name(name)}_{len(items)}" in environ:
            items.append(environ[f"{param_var_name(name)}_{len(items)}"])
        if items:
            found.append(Parameter(name=name, array=tuple(items)))
    return tuple(found)


def repository_root(app_dir: Path, source_path: str) -> Path:
    """The top of the copy Argo CD sent: the app dir minus the trailing ARGOCD_APP_SOURCE_PATH parts.

    With manifest-generate-paths only a common root above the app is sent, so only as many parts
    are stripped as the directory names actually match; without a source path the app directory
    itself is the boundary (the safe answer).
    """
    root = app_dir.resolve()
    parts = [part for part in Path(source_path).parts if part not in ("", ".", "/")]
    while parts and root.name == parts[-1] and root.parent != root:
        root = root.parent
        parts.pop()
    return root


def resolve_in_repository(app_dir: Path, repo_root: Path, reference: str, what: str) -> Path:
    """A user-given file path, held inside the repository (the repo is untrusted in multi-tenant Argo CD).

    As Argo CD resolves Helm value files (util/io/path/resolved.go): relative paths start at the app
    directory, paths starting with `/` at the repository root; symlinks are followed before the check.
    """
    if not reference or "\0" in reference:
        raise UsageError(f"{what}: {reference!r} is not a usable path")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", reference):
        raise UsageError(f"{what} {reference!r}: URLs are not allowed; give a path inside the repository")
    base = repo_root if reference.startswith("/") else app_dir
    resolved = Path(os.path.realpath(os.path.join(base, reference.lstrip("/"))))
    root = Path(os.path.realpath(repo_root))
    if resolved != root and root not in resolved.parents:
        raise UsageError(f"{what} {reference!r} resolves outside the repository; only files in the repository can be used")
    if not resolved.is_file():
        raise UsageError(f"{what} {reference!r}: no such file in the repository")
    return resolved
