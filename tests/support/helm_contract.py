"""What Helm 3 and Helm 4 do around a post-renderer, emulated from Helm's source for the tests.

Helm cannot be installed on the test machines, so each function here follows a named file of
helm/helm (Helm 4 as of v4.2.4 and main; Helm 3 as of v3.21.4) or of kustomize's kyaml, which
Helm 4 uses to build and split the stream. The sources are cited, not copied.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from tests.support.paths import ROOT

PLUGIN_DIR = ROOT / "helm-plugin"

# internal/plugin/metadata_v1.go, struct MetadataV1: the yaml tags are the only top-level keys;
# internal/plugin/loader.go (loadMetadataV1) decodes with KnownFields(true) since 4.1.
V1_METADATA_KEYS = frozenset(
    {"apiVersion", "name", "type", "runtime", "version", "sourceURL", "config", "runtimeConfig"}
)
# internal/plugin/runtime_subprocess.go, RuntimeConfigSubprocess, and subprocess_commands.go, PlatformCommand.
SUBPROCESS_RUNTIME_KEYS = frozenset({"platformCommand", "platformHooks", "protocolCommands"})
PLATFORM_COMMAND_KEYS = frozenset({"os", "arch", "command", "args"})
# internal/plugin/plugin.go, validPluginName.
PLUGIN_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# internal/plugin/metadata.go checks the version with Masterminds semver's StrictNewVersion:
# SemVer 2.0.0 exactly (three numbers, no leading zeros, no "v" prefix).
_IDENT = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
STRICT_SEMVER = re.compile(
    r"^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
    rf"(?:-{_IDENT}(?:\.{_IDENT})*)?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
# pkg/action/action.go, filenameAnnotation: set on every document before post-rendering.
FILENAME_ANNOTATION = "postrenderer.helm.sh/postrender-filename"
HOOK_ANNOTATION = "helm.sh/hook"


def load_plugin_yaml() -> dict[str, Any]:
    return yaml.load((PLUGIN_DIR / "plugin.yaml").read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


# --- How Helm 4 runs a postrenderer/v1 subprocess plugin -------------------------------------


def select_platform_command(
    entries: Sequence[Mapping[str, Any]], goos: str, goarch: str
) -> tuple[list[str], list[str]]:
    """internal/plugin/subprocess_commands.go getPlatformCommand: an exact os+arch match wins, then
    the first os-only match, then the first entry with neither; an entry with an arch but another
    os is skipped. `command` is split on single spaces; `args` are taken as they are."""
    chosen: Mapping[str, Any] | None = None
    chosen_by_os = False
    for entry in entries:
        os_name, arch = str(entry.get("os") or ""), str(entry.get("arch") or "")
        if os_name.lower() == goos and arch.lower() == goarch:
            chosen = entry
            break
        if (os_name and os_name.lower() != goos) or arch:
            continue
        if os_name and not chosen_by_os:
            chosen, chosen_by_os = entry, True
        elif chosen is None:
            chosen = entry
    if chosen is None:
        return [], []
    return str(chosen.get("command") or "").split(" "), [str(arg) for arg in chosen.get("args") or []]


def go_expand(text: str, env: Mapping[str, str]) -> str:
    """Go's os.Expand for the forms a plugin.yaml uses: ${NAME} and $NAME; unknown names expand to ""."""
    return re.sub(r"\$\{([^}]*)\}|\$([A-Za-z0-9_]+)", lambda m: env.get(m.group(1) or m.group(2), ""), text)


def helm4_env(plugin_dir: Path, name: str, base_env: Mapping[str, str]) -> dict[str, str]:
    """internal/plugin/runtime_subprocess.go runPostrenderer: Helm's own environment plus
    HELM_PLUGIN_NAME and HELM_PLUGIN_DIR, nothing else. (CLI plugins also get HELM_NAMESPACE & co.
    from pkg/cmd/load_plugins.go; post-renderers do not.) The directory is the entry under
    $HELM_PLUGINS, which `helm plugin install ./dir` makes a symlink (installer/local_installer.go)."""
    return {**base_env, "HELM_PLUGIN_NAME": name, "HELM_PLUGIN_DIR": str(plugin_dir)}


def helm4_argv(
    plugin: Mapping[str, Any], env: Mapping[str, str], extra_args: Sequence[str], goos: str = "linux", goarch: str = "amd64"
) -> list[str]:
    """internal/plugin/subprocess_commands.go PrepareCommands: expand every part of the command and
    every arg with the plugin environment, then append the --post-renderer-args unexpanded."""
    command, args = select_platform_command(plugin["runtimeConfig"]["platformCommand"], goos, goarch)
    if not command or not command[0]:
        raise AssertionError("Helm 4 would fail: no plugin command is applicable")
    return [go_expand(part, env) for part in command + args] + list(extra_args)


class PluginRun(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: bytes  # Helm 4 throws this away; the tests read it only to explain a failure


def run_like_helm4(
    plugin_dir: Path, manifests: bytes, extra_args: Sequence[str], base_env: Mapping[str, str], cwd: Path | None = None
) -> PluginRun:
    """Run the plugin as internal/plugin/runtime_subprocess.go does: exec (no shell) of the prepared
    argv in Helm's working directory, manifests on stdin, stdout collected, stderr collected and dropped."""
    plugin = yaml.load((plugin_dir / "plugin.yaml").read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    env = helm4_env(plugin_dir, plugin["name"], base_env)
    argv = helm4_argv(plugin, env, extra_args)
    done = subprocess.run(argv, input=manifests, capture_output=True, env=env, cwd=cwd, shell=False, check=False)
    return PluginRun(done.returncode, done.stdout, done.stderr)


def helm4_accepts(run: PluginRun) -> dict[str, list[dict[str, Any]]]:
    """What Helm 4 does with the plugin's answer, or the error it stops with.

    pkg/postrenderer/postrenderer.go: a non-zero exit, or output that is only whitespace, fails.
    pkg/action/action.go splitAndDeannotate: every document is regrouped by its filename
    annotation (one without it lands in a made-up generated-by-postrender-N.yaml) and the
    annotation is stripped. Returns filename -> the documents Helm would install from it.
    """
    if run.returncode != 0:
        reason = run.stderr.decode(errors="replace").strip()
        raise AssertionError(f"Helm 4 would fail: plugin exited with {run.returncode} ({reason})")
    if not run.stdout.strip():
        raise AssertionError("Helm 4 would fail: the post-renderer produced empty output")
    files: dict[str, list[dict[str, Any]]] = {}
    documents = [doc for doc in yaml.load_all(run.stdout, Loader=yaml.CSafeLoader) if doc is not None]
    for index, doc in enumerate(documents):
        annotations = (doc.get("metadata") or {}).get("annotations") or {}
        filename = annotations.pop(FILENAME_ANNOTATION, "") or f"generated-by-postrender-{index}.yaml"
        if not annotations:
            doc["metadata"].pop("annotations", None)
        files.setdefault(filename, []).append(doc)
    return files


# --- The stream Helm 4 hands a post-renderer --------------------------------------------------


class _SingleQuoted(str):
    """kyaml's AnnotationSetter writes the filename annotation single-quoted."""


def _dumper() -> type[yaml.CSafeDumper]:
    class Dumper(yaml.CSafeDumper):
        pass

    def single_quoted(dumper: yaml.CSafeDumper, value: _SingleQuoted) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="'")

    Dumper.add_representer(_SingleQuoted, single_quoted)
    return Dumper


def split_rendered(text: str) -> list[tuple[str, str]]:
    """Split `helm template` output into (source path, document text without the `# Source:` line);
    empty documents are dropped. A document without a `# Source:` line gets ""."""
    pieces: list[tuple[str, str]] = []
    for chunk in re.split(r"^---[ \t]*\n", text, flags=re.MULTILINE):
        source_match = re.search(r"^# Source: (.+)\n", chunk, flags=re.MULTILINE)
        body = chunk.replace(source_match.group(0), "", 1) if source_match else chunk
        if yaml.load(body, Loader=yaml.CSafeLoader) is None:
            continue
        pieces.append((source_match.group(1).strip() if source_match else "", body))
    return pieces


def _leading_comments(body: str) -> list[str]:
    lines = []
    for line in body.lstrip("\n").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def helm4_stream(rendered: list[tuple[str, str]], sourceless_name: str) -> bytes:
    """pkg/action/action.go annotateAndMerge: files in sorted name order, documents in file order,
    each parsed and re-encoded by kyaml (kio.ParseAll / kio.StringAll: 2-space indent, compact
    sequences, documents joined by `---`, no `# Source:` comments, head comments kept) with the
    filename annotation added at the end of metadata.annotations. A document that did not come from
    a chart template (the corpus' kustomize-added Namespace) is given `sourceless_name`."""
    by_file: dict[str, list[str]] = {}
    for source, body in rendered:
        by_file.setdefault(source or sourceless_name, []).append(body)
    dumper = _dumper()
    encoded: list[str] = []
    for filename in sorted(by_file):
        for body in by_file[filename]:
            head_comments = "".join(f"{line}\n" for line in _leading_comments(body))
            doc = yaml.load(body, Loader=yaml.CSafeLoader)
            metadata = doc.setdefault("metadata", {})
            if not metadata.get("annotations"):
                # kyaml's ClearEmptyAnnotations drops an empty `annotations:`; it is re-created last.
                metadata.pop("annotations", None)
            metadata.setdefault("annotations", {})[FILENAME_ANNOTATION] = _SingleQuoted(filename)
            text = yaml.dump(doc, Dumper=dumper, sort_keys=False, indent=2, width=1 << 16, allow_unicode=True)
            encoded.append(head_comments + text)
    return "---\n".join(encoded).encode("utf-8")


# --- Helm 3 -----------------------------------------------------------------------------------


def helm3_stream(rendered: list[tuple[str, str]]) -> bytes:
    """pkg/action/action.go (v3.21.4) renderResources: hooks are sorted out first and never reach the
    post-renderer; every other manifest is written as `---`, `# Source: <path>`, its text."""
    parts = []
    for source, body in rendered:
        doc = yaml.load(body, Loader=yaml.CSafeLoader)
        if source and HOOK_ANNOTATION not in ((doc.get("metadata") or {}).get("annotations") or {}):
            parts.append(f"---\n# Source: {source}\n{body.rstrip(chr(10))}\n")
    return "".join(parts).encode("utf-8")


def run_like_helm3(
    program: str, manifests: bytes, post_renderer_args: Sequence[str], env: Mapping[str, str], cwd: Path
) -> PluginRun:
    """pkg/postrender/exec.go (v3.21.4): a name without a path separator is looked up on PATH
    (exec.LookPath) and made absolute; Helm then execs it with the --post-renderer-args, no shell,
    its own environment, the manifests on stdin, and reads stdout (stderr only for its error)."""
    if os.sep in program:
        binary = str((cwd / program).resolve())
    else:
        found = shutil.which(program, path=env.get("PATH", ""))
        if found is None:
            raise AssertionError(f"Helm 3 would fail: unable to find binary at {program}")
        binary = os.path.abspath(found)
    done = subprocess.run(
        [binary, *post_renderer_args], input=manifests, capture_output=True, env=dict(env), cwd=cwd, shell=False, check=False
    )
    return PluginRun(done.returncode, done.stdout, done.stderr)
