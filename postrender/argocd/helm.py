"""The `helm` plugin parameter: an Application's `spec.source.helm` block, rendered as Argo CD would.

An app with `spec.source.helm` never reaches a plugin (Argo CD's ApplicationSource.ExplicitType
decides first), so moving such an app onto sidecar-policy means moving that block into this
parameter. The command line follows argoproj/argo-cd (v2.14 to v3.5):
- reposerver/repository/repository.go `helmTemplate`: release name (app name without the
  `<namespace>_` qualifier, else `releaseName`), namespace, kube and API versions (the
  source's own override first), value files resolved in the repository after `Envsubst`,
  `values`/`valuesObject` as one more values file after them, `parameters` as --set or
  --set-string and `fileParameters` as --set-file, their values passed through `Envsubst`.
- util/helm/cmd.go `template`: the flag order, `cleanSetParameters` (commas escaped unless the
  value is a `{a,b}` list), --include-crds unless skipCrds, --skip-schema-validation, --skip-tests.
- pkg/apis/application/v1alpha1/types.go `Env.Envsubst` (Go's os.Expand over the build
  environment, `$$` for a literal `$`, unknown names empty).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from postrender.argocd.env import BUILD_ENV_NAMES, AppEnv, resolve_in_repository
from postrender.core.errors import UsageError

HELM_PARAMETER = "helm"
_STRINGS = ("releaseName", "namespace", "kubeVersion", "values", "version")
_FLAGS = ("skipCrds", "skipTests", "skipSchemaValidation", "passCredentials", "ignoreMissingValueFiles")
_LISTS = ("valueFiles", "apiVersions")
_KNOWN = {*_STRINGS, *_FLAGS, *_LISTS, "valuesObject", "parameters", "fileParameters"}


@dataclass(frozen=True)
class HelmSource:
    """The fields of Argo CD's ApplicationSourceHelm the plugin honours (all of them but `version`)."""

    value_files: tuple[str, ...] = ()
    ignore_missing_value_files: bool = False
    values_yaml: str = ""  # valuesObject (as YAML) when set, else values
    set: tuple[tuple[str, str], ...] = ()
    set_string: tuple[tuple[str, str], ...] = ()
    set_file: tuple[tuple[str, str], ...] = ()
    release_name: str = ""
    namespace: str = ""
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    skip_crds: bool = False
    skip_tests: bool = False
    skip_schema_validation: bool = False
    pass_credentials: bool = False


def helm_source(env: AppEnv) -> HelmSource:
    """The `helm` parameter parsed and checked; an empty source when it is not set."""
    parameter = env.parameter(HELM_PARAMETER)
    text = (parameter.string or "") if parameter else ""
    if not text.strip():
        return HelmSource()
    from postrender.core import yamlnodes  # guarded: the Application is user input

    try:
        block = yamlnodes.load(text)
    except yamlnodes.NodeError as error:
        raise UsageError(f"plugin parameter {HELM_PARAMETER!r}: {error}") from None
    if block is None:
        return HelmSource()
    if not isinstance(block, dict):
        raise UsageError(f"plugin parameter {HELM_PARAMETER!r} must be a spec.source.helm mapping")
    unknown = sorted(set(block) - _KNOWN, key=str)
    if unknown:
        raise UsageError(f"plugin parameter {HELM_PARAMETER!r}: unknown field {unknown[0]!r} (not in spec.source.helm)")
    for name in _STRINGS:
        _check(isinstance(block.get(name, ""), str), name, "a string")
    for name in _FLAGS:
        _check(isinstance(block.get(name, False), bool), name, "true or false")
    for name in _LISTS:
        _check(_is_string_list(block.get(name, [])), name, "a list of strings")
    values_object = block.get("valuesObject")
    _check(values_object is None or isinstance(values_object, dict), "valuesObject", "a mapping")
    parameters = _entries(block, "parameters", ("name", "value"), ("forceString",))
    files = _entries(block, "fileParameters", ("name", "path"), ())
    return HelmSource(
        value_files=tuple(block.get("valueFiles", ())),
        ignore_missing_value_files=block.get("ignoreMissingValueFiles", False),
        values_yaml=_dump(values_object) if values_object else block.get("values", ""),
        set=tuple((p["name"], p.get("value", "")) for p in parameters if not p.get("forceString")),
        set_string=tuple((p["name"], p.get("value", "")) for p in parameters if p.get("forceString")),
        set_file=tuple((p["name"], p.get("path", "")) for p in files),
        release_name=block.get("releaseName", ""),
        namespace=block.get("namespace", ""),
        kube_version=block.get("kubeVersion", ""),
        api_versions=tuple(block.get("apiVersions", ())),
        skip_crds=block.get("skipCrds", False),
        skip_tests=block.get("skipTests", False),
        skip_schema_validation=block.get("skipSchemaValidation", False),
        pass_credentials=block.get("passCredentials", False),
    )


def _check(ok: bool, field: str, what: str) -> None:
    if not ok:
        raise UsageError(f"plugin parameter {HELM_PARAMETER!r}: {field} must be {what}")


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _entries(block: dict, field: str, strings: tuple[str, ...], flags: tuple[str, ...]) -> list[dict]:
    entries: list[dict] = block.get(field, [])
    _check(isinstance(entries, list) and all(isinstance(e, dict) for e in entries), field, "a list of mappings")
    for entry in entries:
        _check(set(entry) <= {*strings, *flags} and isinstance(entry.get("name"), str) and entry["name"] != "",
               field, f"entries with a name and only {', '.join(strings[1:] + flags)}")
        _check(all(isinstance(entry.get(s, ""), str) for s in strings), field, "entries of strings")
        _check(all(isinstance(entry.get(f, False), bool) for f in flags), field, "entries whose flags are true or false")
    return entries


def _dump(values: dict) -> str:
    import yaml

    return yaml.safe_dump(values, sort_keys=True, default_flow_style=False, allow_unicode=True)


def envsubst(text: str, environ: dict[str, str]) -> str:
    """Argo CD's Env.Envsubst: Go's os.Expand (src/os/env.go) over the build environment only."""

    def value(name: str) -> str:
        return "$" if name == "$" else environ.get(name, "") if name in BUILD_ENV_NAMES else ""

    out: list[str] = []
    start = index = 0
    while index < len(text):
        if text[index] == "$" and index + 1 < len(text):
            out.append(text[start:index])
            name, width = _shell_name(text[index + 1:])
            if name:
                out.append(value(name))
            elif width == 0:  # `$` not followed by a name stays
                out.append("$")
            index += width
            start = index + 1
        index += 1
    return "".join(out) + text[start:] if out else text


_SPECIAL = set("*#$@!?-0123456789")


def _shell_name(rest: str) -> tuple[str, int]:
    """os.Expand's getShellName: the name after `$` and how many characters it took."""
    if rest[0] == "{":
        if len(rest) > 2 and rest[1] in _SPECIAL and rest[2] == "}":
            return rest[1], 3
        close = rest.find("}", 1)
        if close == -1:
            return "", 1  # `${` without `}`: dropped
        return ("", 2) if close == 1 else (rest[1:close], close + 1)
    if rest[0] in _SPECIAL:
        return rest[0], 1
    match = re.match(r"[A-Za-z0-9_]*", rest)
    return rest[: match.end()], match.end()  # type: ignore[union-attr]


def clean_set_value(value: str) -> str:
    """util/helm/cmd.go cleanSetParameters: one value per key, except helm's `{a,b}` list syntax."""
    if value.startswith("{") and value.endswith("}"):
        return value
    return re.sub(r"(?<!\\),", r"\\,", value)


def resolved_value_files(source: HelmSource, app_dir: Path, repo_root: Path, environ: dict[str, str]) -> list[str]:
    """valueFiles as helm gets them: in the repository, de-duplicated, missing ones dropped if asked."""
    files: list[str] = []
    for raw in source.value_files:
        _refuse_other_sources(raw)
        path = envsubst(raw, environ)
        if any(char in path for char in "*?["):
            raise UsageError(f"Helm value file {raw!r}: glob patterns are not supported by the plugin; list the files")
        try:
            resolved = str(resolve_in_repository(app_dir, repo_root, path, "Helm value file"))
        except UsageError:
            if source.ignore_missing_value_files and not _exists_anywhere(app_dir, repo_root, path):
                continue
            raise
        if resolved not in files:
            files.append(resolved)
    return files


def _exists_anywhere(app_dir: Path, repo_root: Path, path: str) -> bool:
    base = repo_root if path.startswith("/") else app_dir
    return (base / path.lstrip("/")).exists() or (base / path.lstrip("/")).is_symlink()


def _refuse_other_sources(path: str) -> None:
    name = re.match(r"^\$([A-Za-z0-9_]+)/", path)
    if name and name.group(1) not in BUILD_ENV_NAMES:
        raise UsageError(
            f"Helm value file {path!r} refers to another source (${name.group(1)}): "
            "a plugin receives only its own source's files; copy the file into this repository"
        )
