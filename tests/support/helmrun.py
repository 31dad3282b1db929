"""Running real Helm in the tests: a clean per-test home, a chart made by `helm create`, a terminal.

Every test gets its own HOME and XDG directories, so Helm's default config, cache and data
directories (plugins included) are the test's own, shared by every Helm the test runs, exactly as
two Helms share them on a user's machine.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import NamedTuple

from tests.support.paths import ROOT

PLUGIN_DIR = ROOT / "helm-plugin"
SIDECAR_POLICY_BIN = Path(sys.executable).parent

# The pod template both of our additions share, block style as charts write it.
POD_TEMPLATE = "template:\n  spec:\n    restartPolicy: Never\n    containers:\n    - {name: task, image: busybox}\n"
HOOK_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "app.fullname" . }}-migrate
  annotations: {"helm.sh/hook": "pre-install,pre-upgrade"}
spec:
""" + textwrap.indent(POD_TEMPLATE, "  ")
CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: '{{ include "app.fullname" . }}-report'}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
""" + textwrap.indent(POD_TEMPLATE, "      ")


class Helm(NamedTuple):
    version: str
    binary: Path

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    def post_renderer(self, *args: str) -> list[str]:
        """The flags that run sidecar-policy: a program on PATH for Helm 3, the plugin's name for Helm 4."""
        return ["--post-renderer", "sidecar-policy", *(f"--post-renderer-args={arg}" for arg in args)]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's shell: sidecar-policy on PATH (this virtualenv), Helm's directories under `home`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SIDECAR_POLICY", "HELM_", "XDG_")) and k not in ("VIRTUAL_ENV", "KUBECONFIG", "CI")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        KUBECONFIG=str(home / "no-cluster"),
        PATH=os.pathsep.join([str(SIDECAR_POLICY_BIN), env.get("PATH", "")]),
    )
    env.update(extra)
    return env


def run(helm: Helm | Path, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = helm.binary if isinstance(helm, Helm) else helm
    # A session of its own: no terminal, so the launcher keeps to stderr (run_at_terminal gives one).
    return subprocess.run([str(binary), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
                          start_new_session=True, check=False)


class TerminalRun(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    terminal: str  # what reached the controlling terminal (/dev/tty), not stdout or stderr


def run_at_terminal(helm: Helm, args: list[str], env: dict[str, str], cwd: Path) -> TerminalRun:
    """Run Helm in a session whose controlling terminal is a pseudo-terminal, stdout and stderr
    still pipes: what a user at a terminal sees, told apart by where it was written."""
    controller, terminal_fd = pty.openpty()
    terminal_name = os.ttyname(terminal_fd)

    def take_terminal() -> None:  # runs in the child: a new session, then this terminal as its own
        os.close(os.open(terminal_name, os.O_RDWR))

    seen: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the last holder of the terminal closed it
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        done = subprocess.run([str(helm.binary), *args], env=env, cwd=cwd, capture_output=True, text=True,
                              start_new_session=True, preexec_fn=take_terminal, timeout=120, check=False)
    finally:
        os.close(terminal_fd)
        reader.join(timeout=5)
        os.close(controller)
    return TerminalRun(done.returncode, done.stdout, done.stderr, b"".join(seen).decode().replace("\r\n", "\n"))


def create_chart(helm: Path, where: Path, env: dict[str, str]) -> Path:
    """`helm create app` with a subchart `db` (also `helm create`), a hook Job and a CronJob."""
    subprocess.run([str(helm), "create", "app"], cwd=where, env=env, check=True, capture_output=True)
    chart = where / "app"
    subprocess.run([str(helm), "create", "db"], cwd=chart / "charts", env=env, check=True, capture_output=True)
    (chart / "templates" / "hook-job.yaml").write_text(HOOK_JOB)
    (chart / "templates" / "cronjob.yaml").write_text(CRONJOB)
    return chart


def install_plugin(helm: Helm, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`helm plugin install ./helm-plugin`, as the README says (Helm 4 links a local directory)."""
    return run(helm, ["plugin", "install", str(PLUGIN_DIR)], env, cwd)
