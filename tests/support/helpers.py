"""Shared test helpers: run the engine in-process, or the installed command as a process."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from postrender.core.engine import Options, Outcome, run
from postrender.core.policy import Policy, parse_policy

POLICY_HEADER = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\n"
NATIVE_FOR_ALL = POLICY_HEADER + "spec:\n  fallback: native\n"


def policy(text: str = NATIVE_FOR_ALL) -> Policy:
    """A policy from its whole text."""
    return parse_policy(text, "policy.yaml")


def policy_of(spec: str):
    """A policy from the text of its spec (indented by two spaces under `spec:`)."""
    return parse_policy(POLICY_HEADER + "spec:\n" + spec, "policy.yaml")


def post_render(data: bytes, policy, options: Options = Options()) -> tuple[bytes, list[Outcome]]:
    sink = io.BytesIO()
    outcomes: list[Outcome] = []
    run(policy, io.BytesIO(data), sink, options, outcomes.append)
    return sink.getvalue(), outcomes


def render(policy_: Policy, data: bytes, namespace: str = "", outcomes: list[Outcome] | None = None) -> bytes:
    """The engine's output for `data`; errors propagate. Without `outcomes` no callback is given,
    which is the engine's other path (nothing built for reports)."""
    sink = io.BytesIO()
    run(policy_, io.BytesIO(data), sink, Options(namespace=namespace), outcomes.append if outcomes is not None else None)
    return sink.getvalue()


def installed_command() -> str:
    """The `sidecar-policy` console script of the environment running the tests."""
    candidate = Path(sys.executable).with_name("sidecar-policy")
    found = str(candidate) if candidate.exists() else shutil.which("sidecar-policy")
    assert found, "sidecar-policy is not installed in the test environment (pip install -e .)"
    return found


def run_command(args: list[str], stdin: bytes = b"", env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    full_env = {key: value for key, value in os.environ.items() if not key.startswith(("SIDECAR_POLICY", "HELM_", "ARGOCD_", "KUBE_"))}
    full_env.update(env or {})
    return subprocess.run([installed_command(), *args], input=stdin, capture_output=True, env=full_env, cwd=cwd, timeout=120)


class Completed(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: str


def run_cli(args: list[str], stdin: bytes = b"", cwd: Path | None = None, env: dict[str, str] | None = None) -> Completed:
    """`python -m postrender` in a child process, as Helm runs a program: no shell, stdin to stdout."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SIDECAR_POLICY")}
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "postrender", *args],
        input=stdin, capture_output=True, cwd=cwd, env=environment, timeout=600,
    )
    return Completed(result.returncode, result.stdout, result.stderr.decode("utf-8", "replace"))
