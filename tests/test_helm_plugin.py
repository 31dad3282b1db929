"""The Helm 4 plugin: helm-plugin/plugin.yaml against Helm 4's rules, and its launcher run as Helm 4
runs it.

Helm cannot be installed here, so these tests follow Helm's source (helm/helm v4.2.4 and main);
tests/helm_contract.py emulates it and names the file each step comes from:
internal/plugin/{metadata_v1.go,loader.go,metadata.go,plugin.go,schema/postrenderer.go} for the
rules, internal/plugin/{runtime_subprocess.go,subprocess_commands.go} for how the command is chosen,
expanded and run, internal/plugin/installer/local_installer.go for where the plugin lives.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import postrender
from tests.support.helm_contract import (
    PLATFORM_COMMAND_KEYS,
    PLUGIN_DIR,
    PLUGIN_NAME,
    STRICT_SEMVER,
    SUBPROCESS_RUNTIME_KEYS,
    V1_METADATA_KEYS,
    go_expand,
    helm4_argv,
    helm4_env,
    load_plugin_yaml,
    run_like_helm4,
    select_platform_command,
)

# --- plugin.yaml against Helm 4's rules ---------------------------------------------------------


def test_plugin_yaml_uses_only_keys_helm4_knows() -> None:
    plugin = load_plugin_yaml()
    assert set(plugin) <= V1_METADATA_KEYS, "Helm 4.1+ refuses to load a plugin.yaml with unknown keys"
    # ConfigPostRendererV1 (internal/plugin/schema/postrenderer.go) has no fields and is decoded strictly.
    assert plugin.get("config") in (None, {})
    assert set(plugin["runtimeConfig"]) <= SUBPROCESS_RUNTIME_KEYS
    for entry in plugin["runtimeConfig"]["platformCommand"]:
        assert set(entry) <= PLATFORM_COMMAND_KEYS


def test_plugin_yaml_is_a_subprocess_post_renderer_named_for_the_flag() -> None:
    plugin = load_plugin_yaml()
    assert plugin["apiVersion"] == "v1"
    assert plugin["type"] == "postrenderer/v1"
    assert plugin["runtime"] == "subprocess"
    # `--post-renderer NAME` finds the plugin by this name (pkg/postrenderer/postrenderer.go).
    assert plugin["name"] == "sidecar-policy"
    assert PLUGIN_NAME.match(plugin["name"])


def test_plugin_version_is_the_package_version_in_strict_semver() -> None:
    version = load_plugin_yaml()["version"]
    assert isinstance(version, str), "an unquoted 1.0 would be a YAML float"
    assert version == postrender.__version__
    assert STRICT_SEMVER.match(version), "Helm 4.2+ rejects a version that is not full semver"


@pytest.mark.parametrize("version", ["0.1", "v0.1.0", "0.1.0.dev1", "01.1.0", "0.1.0rc1", "1.0.0-01"])
def test_semver_check_rejects_what_helm_rejects(version: str) -> None:
    assert not STRICT_SEMVER.match(version)


@pytest.mark.parametrize("version", ["0.1.0", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha-1+build.5"])
def test_semver_check_accepts_what_helm_accepts(version: str) -> None:
    assert STRICT_SEMVER.match(version)


@pytest.mark.parametrize(
    ("goos", "goarch"), [("linux", "amd64"), ("linux", "arm64"), ("darwin", "arm64"), ("darwin", "amd64")]
)
def test_command_is_an_executable_inside_the_installed_plugin_dir(tmp_path: Path, goos: str, goarch: str) -> None:
    # `helm plugin install ./helm-plugin` symlinks the directory into $HELM_PLUGINS; a space in that
    # path must not matter, because Helm splits `command` before expanding ${HELM_PLUGIN_DIR}.
    installed = tmp_path / "helm data" / "plugins" / "helm-plugin"
    installed.parent.mkdir(parents=True)
    installed.symlink_to(PLUGIN_DIR, target_is_directory=True)
    plugin = load_plugin_yaml()
    env = helm4_env(installed, plugin["name"], {})
    argv = helm4_argv(plugin, env, ["--policy=policy.yaml"], goos, goarch)
    program = Path(argv[0])
    assert program.parent == installed
    assert program.is_file() and os.access(program, os.X_OK)
    assert argv[1:] == ["--policy=policy.yaml"]


def test_windows_runs_the_console_script_from_path() -> None:
    command, args = select_platform_command(load_plugin_yaml()["runtimeConfig"]["platformCommand"], "windows", "amd64")
    # Go's exec.LookPath finds sidecar-policy.exe, the script pip and pipx install, on PATH.
    assert command == ["sidecar-policy"] and args == []
    assert (Path(sys.executable).parent / "sidecar-policy").is_file()


def test_go_expand_matches_os_expand_for_plugin_paths() -> None:
    env = {"HELM_PLUGIN_DIR": "/p d"}
    assert go_expand("${HELM_PLUGIN_DIR}/launch.sh", env) == "/p d/launch.sh"
    assert go_expand("$HELM_PLUGIN_DIR/x", env) == "/p d/x"
    assert go_expand("${UNSET}/x", env) == "/x"



# --- The launcher finds sidecar-policy, run exactly as Helm 4 runs the plugin --------------------

# Stands in for sidecar-policy: names itself, echoes its arguments and stdin, exits with $STUB_EXIT.
# Shell builtins only, so the tests can give the launcher a PATH with nothing else on it.
STUB = """#!/bin/sh
printf 'program %s\\n' "$0"
for argument in "$@"; do printf 'arg %s\\n' "$argument"; done
while IFS= read -r line; do printf 'stdin %s\\n' "$line"; done
exit "${STUB_EXIT:-0}"
"""
MANIFESTS = b"apiVersion: v1\nkind: ConfigMap\n"


def make_program(directory: Path, name: str = "sidecar-policy", text: str = STUB) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / name
    program.write_text(text)
    program.chmod(0o755)
    return program


def bare_env(tmp_path: Path, *path_dirs: Path, **extra: str) -> dict[str, str]:
    """An environment with nothing of this machine's: only the given PATH, and a HOME without ~/.local/bin."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.pathsep.join(str(d) for d in (*path_dirs, empty)), "HOME": str(home), **extra}


def test_launcher_execs_sidecar_policy_from_path_with_args_and_stdin(tmp_path: Path) -> None:
    program = make_program(tmp_path / "bin")
    env = bare_env(tmp_path, tmp_path / "bin")
    run = run_like_helm4(PLUGIN_DIR, MANIFESTS, ["--policy=policy.yaml", "--quiet"], env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode().splitlines() == [
        f"program {program}",
        "arg --policy=policy.yaml",
        "arg --quiet",
        "stdin apiVersion: v1",
        "stdin kind: ConfigMap",
    ]


def test_launcher_passes_the_exit_code_through(tmp_path: Path) -> None:
    make_program(tmp_path / "bin")
    run = run_like_helm4(PLUGIN_DIR, MANIFESTS, [], bare_env(tmp_path, tmp_path / "bin", STUB_EXIT="2"))
    assert run.returncode == 2


def test_virtualenv_is_preferred_to_path(tmp_path: Path) -> None:
    make_program(tmp_path / "bin")
    in_venv = make_program(tmp_path / "venv" / "bin")
    env = bare_env(tmp_path, tmp_path / "bin", VIRTUAL_ENV=str(tmp_path / "venv"))
    run = run_like_helm4(PLUGIN_DIR, MANIFESTS, [], env)
    assert run.stdout.decode().splitlines()[0] == f"program {in_venv}"


def test_sidecar_policy_bin_is_preferred_to_everything(tmp_path: Path) -> None:
    make_program(tmp_path / "bin")
    chosen = make_program(tmp_path / "elsewhere", "my-sidecar-policy")
    env = bare_env(tmp_path, tmp_path / "bin", VIRTUAL_ENV=str(tmp_path / "bin"), SIDECAR_POLICY_BIN=str(chosen))
    run = run_like_helm4(PLUGIN_DIR, MANIFESTS, [], env)
    assert run.stdout.decode().splitlines()[0] == f"program {chosen}"


def test_a_wrong_sidecar_policy_bin_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    make_program(tmp_path / "bin")
    env = bare_env(tmp_path, tmp_path / "bin", SIDECAR_POLICY_BIN=str(tmp_path / "missing"))
    run = run_like_helm4(PLUGIN_DIR, MANIFESTS, [], env)
    assert (run.returncode, run.stdout) == (127, b"")
    assert "SIDECAR_POLICY_BIN" in run.stderr.decode() and str(tmp_path / "missing") in run.stderr.decode()


def test_pipx_bin_dir_is_found_when_path_lacks_it(tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    pipx_installed = make_program(Path(env["HOME"]) / ".local" / "bin")
    run = run_like_helm4(PLUGIN_DIR, MANIFESTS, [], env)
    assert run.stdout.decode().splitlines()[0] == f"program {pipx_installed}"


def test_python_with_the_package_is_the_last_resort(tmp_path: Path) -> None:
    # A `python3` on PATH that is this test's interpreter (which has the package), and no sidecar-policy.
    make_program(tmp_path / "py", "python3", f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    # Run from a directory holding a broken postrender/ (as a checkout without its dependencies
    # would): the installed package must still be the one that runs.
    shadow = tmp_path / "cwd" / "postrender"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('the working directory was imported')\n")
    run = run_like_helm4(PLUGIN_DIR, b"", ["--version"], bare_env(tmp_path, tmp_path / "py"), cwd=shadow.parent)
    assert run.returncode == 0, run.stderr
    assert postrender.__version__ in run.stdout.decode()


def test_not_found_says_how_to_install_in_one_line(tmp_path: Path) -> None:
    run = run_like_helm4(PLUGIN_DIR, MANIFESTS, ["--policy=policy.yaml"], bare_env(tmp_path))
    assert (run.returncode, run.stdout) == (127, b"")
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 1
    assert "pipx install sidecar-policy" in lines[0] and "pip install sidecar-policy" in lines[0]


@pytest.mark.parametrize("how", ["--log-file=PATH", "--log-file PATH", "SIDECAR_POLICY_LOG_FILE"])
def test_not_found_is_written_to_the_log_file_because_helm4_drops_stderr(tmp_path: Path, how: str) -> None:
    log = tmp_path / "logs" / "sidecar-policy.log"
    log.parent.mkdir()
    log.write_text("earlier line\n")
    args, extra = ["--policy=policy.yaml"], {}
    if how == "--log-file=PATH":
        args.append(f"--log-file={log}")
    elif how == "--log-file PATH":
        args += ["--log-file", str(log)]
    else:
        extra["SIDECAR_POLICY_LOG_FILE"] = str(log)
    run = run_like_helm4(PLUGIN_DIR, MANIFESTS, args, bare_env(tmp_path, **extra))
    assert run.returncode == 127
    logged = log.read_text().splitlines()
    assert logged[0] == "earlier line", "the log is appended to, never truncated"
    assert len(logged) == 2 and "pipx install sidecar-policy" in logged[1]
