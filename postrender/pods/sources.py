"""Where `pods` reads the cluster from: the live cluster (through kubectl: livecluster.py), or dumps.

FILE arguments are dumps (`-` is stdin). Without them, stdin is a dump when something is piped or
redirected into it and none of kubectl's --kubeconfig, --context, -n, -A is given; otherwise (a
terminal, /dev/null, a closed stdin, or any of those flags) the live cluster is read. kubectl's flags
with a FILE are a usage error: they have no meaning for a dump.
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from postrender.core import options
from postrender.core.diagnostics import Diagnostics
from postrender.core.errors import UsageError
from postrender.core.workloads import KindTable
from postrender.pods import clusterdump

if TYPE_CHECKING:
    from postrender.core.options import Input

LIVE_TIMEOUT = "2m"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)?$")
_SECONDS = {"s": 1, "m": 60, "h": 3600}


class Connection(NamedTuple):
    """kubectl's flags that say which cluster and which namespaces, as the user gave them."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False

    @property
    def given(self) -> bool:
        return any(self)

    def flags_given(self) -> list[str]:
        return [f"--{field.replace('_', '-')}" for field, value in zip(self._fields, self) if value]

    def cluster_flags(self) -> list[str]:
        flags = ["--kubeconfig", self.kubeconfig] if self.kubeconfig else []
        return flags + (["--context", self.context] if self.context else [])

    def scope_flags(self) -> list[str]:
        """-A, -n NS, or nothing: kubectl then reads the context's namespace, as `kubectl get` does."""
        if self.all_namespaces:
            return ["--all-namespaces"]
        return ["--namespace", self.namespace] if self.namespace else []


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE", help="read these dumps (`-`: stdin), not the live cluster")
    live = parser.add_argument_group("the live cluster (kubectl's flags, passed on to it)")
    live.add_argument("--kubeconfig", metavar="PATH", help="the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    live.add_argument("--context", metavar="NAME", help="the kubeconfig context (default: the current one)")
    live.add_argument("-n", "--namespace", metavar="NS", help="read this namespace (default: the context's)")
    live.add_argument("-A", "--all-namespaces", action="store_true", help="read every namespace")
    live.add_argument("--timeout", metavar="DURATION", type=duration, default=duration(LIVE_TIMEOUT),
                      help=f"give up reading the live cluster after this long: 90s, 2m, 1h (default: {LIVE_TIMEOUT})")


def duration(text: str) -> float:
    """`90`, `90s`, `2m`, `1.5h` -> seconds (argparse names the option when this raises)."""
    match = _DURATION.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(text)
    return float(match.group(1)) * _SECONDS[match.group(2) or "s"]


def objects(args: argparse.Namespace, kinds: KindTable, diagnostics: Diagnostics) -> Iterable[clusterdump.DumpObject]:
    """The live cluster's objects, or the dumps': the module's docstring says which."""
    connection = Connection(args.kubeconfig, args.context, args.namespace, args.all_namespaces)
    if args.files and connection.given:
        raise UsageError(f"{connection.flags_given()[0]} is for reading the live cluster: give it without FILE, "
                         "or leave it out to read the dump")
    if args.files or (not connection.given and stdin_brings_input()):
        files = [] if args.files == ["-"] else args.files
        return (obj for name, source in options.inputs(files) for obj in _read(source, name))
    from postrender.pods import livecluster  # subprocess, tempfile, threading: only when it runs kubectl

    return livecluster.read_objects(connection.cluster_flags(), connection.scope_flags(), kinds, args.timeout, diagnostics)


def stdin_brings_input() -> bool:
    """A pipe, a file, a socket, or a stream an embedding program set; not a terminal, /dev/null or a closed stdin."""
    if sys.stdin is None:
        return False
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):  # no file descriptor: a stream object put there by the caller
        return True
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


def _read(source: Input, name: str) -> Iterator[clusterdump.DumpObject]:
    with source:
        yield from clusterdump.read_objects(source, name)
