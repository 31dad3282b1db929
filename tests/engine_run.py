"""Run the engine or the installed command on bytes: shared by the property, hostile-input and fuzz tests."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from postrender.engine import Options, Outcome, run
from postrender.policy import Policy, parse_policy

POLICY_HEADER = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\n"
NATIVE_FOR_ALL = POLICY_HEADER + "spec:\n  fallback: native\n"


def policy(text: str = NATIVE_FOR_ALL) -> Policy:
    return parse_policy(text, "policy.yaml")


def render(policy_: Policy, data: bytes, namespace: str = "", outcomes: list[Outcome] | None = None) -> bytes:
    """The engine's output for `data`; errors propagate."""
    sink = io.BytesIO()
    run(policy_, io.BytesIO(data), sink, Options(namespace=namespace), outcomes.append if outcomes is not None else None)
    return sink.getvalue()


class Completed(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: str


def run_cli(args: list[str], stdin: bytes = b"", cwd: Path | None = None, env: dict[str, str] | None = None) -> Completed:
    """The installed entry point in a child process, as Helm runs it: no shell, stdin to stdout."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SIDECAR_POLICY")}
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "postrender", *args],
        input=stdin, capture_output=True, cwd=cwd, env=environment, timeout=600,
    )
    return Completed(result.returncode, result.stdout, result.stderr.decode("utf-8", "replace"))
