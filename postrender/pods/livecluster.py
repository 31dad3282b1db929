"""Reading the live cluster for `pods`: kubectl lists every kind an owner chain can pass through.

kubectl rather than the API directly: a user's kubeconfig is more than a server and a token
(contexts, exec credential plugins such as gke-gcloud-auth-plugin, `aws eks get-token` or
kubelogin, client certificates, proxies, several files in KUBECONFIG), kubectl reads all of it as
every other tool the user runs does, and it is there wherever a kubectl plugin runs. What it prints
is what `pods` has always read from a dump, so both take the same reader.

Two calls, both bounded by one deadline: `kubectl api-resources` says which resources the server
serves (a Rollout or another kind of the policy's table exists only where its CRD is installed),
then one `kubectl get` lists them all. kubectl's stderr reaches the user as it comes (an exec
credential plugin may ask something there), and its last line goes into our error.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import IO, NamedTuple

from postrender.core.diagnostics import Diagnostics
from postrender.core.errors import ToolError
from postrender.core.workloads import KindTable
from postrender.pods import clusterdump, dump_resources

KUBECTL = "kubectl"


API_RESOURCES = ["api-resources", "--namespaced=true", "--verbs=list", "--no-headers"]


def read_objects(cluster_flags: list[str], scope_flags: list[str], kinds: KindTable, timeout: float,
                 diagnostics: Diagnostics) -> Iterator[clusterdump.DumpObject]:
    """Every object of the kinds the table knows that the server serves. `cluster_flags` go to every
    kubectl call (--kubeconfig, --context), `scope_flags` to the listing (-n NS, -A)."""
    kubectl = _Kubectl(cluster_flags, time.monotonic() + timeout, timeout, diagnostics)
    resources = _discover(kubectl, kinds, diagnostics)
    listed = kubectl.run(["get", ",".join(resources), *scope_flags, "--output", "json"])
    with listed.output:
        if listed.code != 0:
            raise listed.failure()
        yield from clusterdump.read_objects(listed.output, f"<{KUBECTL} get>")


def _discover(kubectl: _Kubectl, kinds: KindTable, diagnostics: Diagnostics) -> list[str]:
    """The resources to list. An aggregated API that does not answer (a metrics-server down) makes
    `kubectl api-resources` exit 1 after listing the rest: when that still holds the core group's
    pods, it is a warning, not the end (the kinds pods follows are the API server's own or CRDs)."""
    ran = kubectl.run(API_RESOURCES)
    with ran.output:
        text = ran.output.read().decode("utf-8", "replace")
    try:
        resources = served_resources(text, kinds)
    except ValueError as unreadable:
        raise ran.failure() if ran.code else ToolError(f"cannot read what `{ran.shown}` printed: {unreadable}") from None
    if ran.code != 0:
        if "pods" not in resources:
            raise ran.failure()
        diagnostics.warn(f"{ran.failure()}; reading the resources it listed")
    if not resources:
        raise ToolError(f"`{ran.shown}` lists none of the kinds pods reads (Pod, Deployment, ...)")
    return resources


def served_resources(api_resources: str, kinds: KindTable) -> list[str]:
    """`kubectl api-resources --no-headers` lines -> the resources to list (`deployments.apps`),
    one per kind of the table or of an owner chain (dump_resources.py). Columns: NAME [SHORTNAMES] APIVERSION NAMESPACED KIND; the short
    names may be missing, so a line is read from both ends. A line of another shape: ValueError."""
    resources = []
    for line in api_resources.splitlines():
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 4 or fields[-2] not in ("true", "false"):
            raise ValueError(f"not a line of `{KUBECTL} api-resources`: {line.strip()!r}")
        name, api_version, kind = fields[0], fields[-3], fields[-1]
        if dump_resources.followed(kind, api_version, kinds):
            group = api_version.rpartition("/")[0]
            resources.append(f"{name}.{group}" if group else name)
    return resources


class _Ran(NamedTuple):
    shown: str  # the command line, as the user would type it
    code: int
    output: IO[bytes]  # its stdout, from the start
    last_line: str  # of its stderr

    def failure(self) -> ToolError:
        return ToolError(f"`{self.shown}` failed with exit code {self.code}: {self.last_line or '(no message)'}")


class _Kubectl:
    """Runs kubectl with the cluster flags until the deadline: a ToolError (exit 4) when it
    cannot start or does not finish in time."""

    def __init__(self, cluster_flags: list[str], deadline: float, timeout: float, diagnostics: Diagnostics):
        self.cluster_flags = cluster_flags
        self.deadline = deadline
        self.timeout = timeout
        self.diagnostics = diagnostics

    def run(self, words: list[str]) -> _Ran:
        argv = [KUBECTL, *words, *self.cluster_flags]
        shown = shlex.join(argv)
        output = tempfile.TemporaryFile()
        try:
            code, last_line = self._wait(argv, shown, output)
        except BaseException:
            output.close()
            raise
        output.seek(0)
        return _Ran(shown, code, output, last_line)

    def _wait(self, argv: list[str], shown: str, output: IO[bytes]) -> tuple[int, str]:
        # At a terminal, kubectl gets it: an exec credential plugin may ask for a code there.
        stdin = None if sys.stdin is not None and sys.stdin.isatty() else subprocess.DEVNULL
        try:
            process = subprocess.Popen(argv, stdin=stdin, stdout=output, stderr=subprocess.PIPE)
        except FileNotFoundError:
            raise ToolError(f"{KUBECTL} is not on PATH: pods reads the live cluster with it (or give a "
                            f"dump: `kubectl get ... -o json > cluster.json`, then `pods cluster.json`)") from None
        stderr = _Tee(process.stderr, self.diagnostics.stream)  # type: ignore[arg-type]  # PIPE gives a stream
        try:
            return process.wait(timeout=max(self.deadline - time.monotonic(), 0.0)), stderr.last_line()
        except subprocess.TimeoutExpired:
            raise ToolError(f"`{shown}` did not finish within {self.timeout:g} s "
                            "(--timeout; raise it for a large cluster)") from None
        finally:
            if process.poll() is None:  # timed out or interrupted: kubectl must not outlive us
                process.kill()
                process.wait()
            stderr.join()


class _Tee:
    """Copies kubectl's stderr to ours as it comes, keeping the last line for the error message."""

    JOIN_TIMEOUT = 5.0  # a credential plugin kubectl started may hold the pipe after kubectl is gone

    def __init__(self, source: IO[bytes], target: IO[str] | None):
        self.last = ""
        self.thread = threading.Thread(target=self._copy, args=(source, target), daemon=True)
        self.thread.start()

    def _copy(self, source: IO[bytes], target: IO[str] | None) -> None:
        with source:
            for raw in source:
                line = raw.decode("utf-8", "replace")
                if line.strip():
                    self.last = line.strip()
                if target is not None:
                    try:
                        target.write(line)
                        target.flush()
                    except (OSError, ValueError):  # stderr closed: kubectl's words are still in our error
                        target = None

    def join(self) -> None:
        self.thread.join(self.JOIN_TIMEOUT)

    def last_line(self) -> str:
        self.join()
        return self.last
