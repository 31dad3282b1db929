"""Real Helm: `helm template` of a `helm create` chart, with sidecar-policy as its post-renderer and without.

Helm 3 runs the program it finds on PATH (`--post-renderer sidecar-policy`), as the README says. Helm 4
runs the plugin of helm-plugin/, installed with `helm plugin install` into a Helm home of its own (Helm 4
beside Helm 3 needs one, README), and its launcher finds the program on PATH: the launcher's cost counts.
The binaries are the tests' (tests/support/helm.py), fetched or built once into the shared cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from measure import Command

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "helm-plugin"
ANNOTATION = b"sidecar.istio.io/nativeSidecar"


def binaries() -> tuple[dict[str, Path], list[str]]:
    """{version: helm} for the newest Helm 3 and Helm 4, and a note for each that cannot be had."""
    sys.path.insert(0, str(ROOT))
    try:
        import pytest

        from tests.support import helm
    finally:
        sys.path.remove(str(ROOT))
    found, notes = {}, []
    for version in (helm.HELM3_NEWEST, helm.HELM4_NEWEST):
        try:
            found[version] = helm.helm_binary(version)
        except (pytest.skip.Exception, pytest.fail.Exception) as missing:  # no Go, no module proxy
            notes.append(f"Helm {version} left out: {missing}")
    return found, notes


def commands(versions: dict[str, Path], bin_dir: Path, policy: Path, work: Path) -> list[tuple[str, Command, Command]]:
    """(version, without, with) for each Helm: `helm template` of the same chart, in a home of its own."""
    pairs = []
    for version, binary in versions.items():
        home = work / f"helm-{version}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        env = _environment(home, bin_dir)
        subprocess.run([str(binary), "create", "app"], cwd=home, env=env, check=True, capture_output=True)
        if version.startswith("4."):
            subprocess.run([str(binary), "plugin", "install", str(PLUGIN_DIR)], env=env, check=True, capture_output=True)
        template = [str(binary), "template", "bench", str(home / "app")]
        post_render = ["--post-renderer", "sidecar-policy", f"--post-renderer-args=--policy={policy}"]
        pairs.append((version, Command(f"helm {version}", template, Path(os.devnull), env=env),
                      Command(f"helm {version} + sidecar-policy", template + post_render, Path(os.devnull),
                              home / "post-rendered.yaml", env=env)))
    return pairs


def post_rendered(command: Command) -> bool:
    """Whether the measured run's output carries the annotation: the post-renderer ran and decided."""
    return command.output is not None and ANNOTATION in command.output.read_bytes()


def _environment(home: Path, bin_dir: Path) -> dict[str, str]:
    """A user's shell: sidecar-policy on PATH, Helm's directories under `home`, no other virtualenv."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("SIDECAR_POLICY", "HELM_", "XDG_")) and name not in ("VIRTUAL_ENV", "KUBECONFIG")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_DATA_HOME=str(home / ".local" / "share"), KUBECONFIG=str(home / "no-cluster"),
               PATH=os.pathsep.join([str(bin_dir), env.get("PATH", "")]))
    return env
