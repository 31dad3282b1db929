"""Real tools built from Go source for the tests, built once and cached.

Two kinds:
- `harness(name)`: a Go module of ours under tests/harness/<name>/ (go.mod, go.sum, *.go) that imports
  upstream code (Argo CD, Istio, sigs.k8s.io/yaml ...) as module dependencies. Its binary is cached under
  a hash of the module's files, so an edit rebuilds it and nothing else does.
- `installed(module, version, command)`: `go install module/command@version` (Helm, istioctl ...). The Go
  module proxy's downloads are checked against go.sum / the checksum database, which is our checksum.

The cache is $SIDECAR_POLICY_CACHE, else ~/.cache/sidecar-policy: outside the checkout, so a fresh clone on
the same machine reuses it. Without Go a test that needs one of these is skipped with a message that says
so; under CI (CI set) it fails instead, because CI must run them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
HARNESSES = TESTS / "harness"
CACHE = Path(os.environ.get("SIDECAR_POLICY_CACHE") or Path.home() / ".cache" / "sidecar-policy")


def required(command: str, why: str) -> str:
    """The path of `command`, or a skip (a failure under CI) that says `why` the test needs it."""
    found = shutil.which(command)
    if found is None:
        message = f"{command} is not installed: {why}"
        if os.environ.get("CI"):
            pytest.fail(message + " — CI must run them", pytrace=False)
        pytest.skip(message)
    return found


def go() -> str:
    """The go command, or a skip (a failure under CI) that says why the test cannot run."""
    return required("go", "tests against real Helm/Argo CD/Istio/Kubernetes code need it (https://go.dev/dl)")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time per cache entry (parallel sessions share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(args, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed in {cwd}:\n{result.stderr[-4000:]}", pytrace=False)


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def harness(name: str, modfile: str = "go.mod", tags: tuple[str, ...] = ()) -> Path:
    """The binary of tests/harness/<name>, built (once per content) with the go.sum it carries.

    `modfile` names another go.mod in that folder (with its own .sum beside it), and `tags` the build
    tags that pick the files for it: one harness source built against two releases of its upstream,
    e.g. harness("istioinject", "go.istio-1.24.mod"), or harness("argocd", "go.argocd-2.14.mod",
    ("argocd_v2",)) where the release's import paths differ (/v2, /v3).
    """
    source = HARNESSES / name
    parts = ([] if modfile == "go.mod" else [Path(modfile).stem]) + list(tags)
    variant = "".join("-" + part.replace(".", "_") for part in parts)  # no dot: .lock and .partial are suffixes
    binary = CACHE / "harness" / f"{name}{variant}-{_digest(source)}"
    if not binary.exists():
        go_command = go()
        with _locked(binary):
            if not binary.exists():
                partial = binary.with_suffix(".partial")
                command = [go_command, "build", "-trimpath", f"-modfile={modfile}", f"-tags={','.join(tags)}"]
                command += ["-o", str(partial), "."]
                _run(command, source, {"GOFLAGS": "-mod=readonly"})
                partial.rename(binary)
    return binary


def installed(module: str, version: str, command: str) -> Path:
    """`go install <module>/<command>@<version>`'s binary, e.g. installed("helm.sh/helm/v3", "v3.22.0", "cmd/helm")."""
    name = Path(command).name
    folder = CACHE / "bin" / f"{module.replace('/', '_')}@{version}"
    binary = folder / name
    if not binary.exists():
        go_command = go()
        with _locked(binary):
            if not binary.exists():
                _run([go_command, "install", f"{module}/{command}@{version}"], binary.parent, {"GOBIN": str(folder), "GOFLAGS": ""})
    return binary
