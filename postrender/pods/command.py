"""`sidecar-policy pods`: which running pods run another istio-proxy form than new pods would get,
and what to restart. Reads the live cluster with kubectl (livecluster.py), or a dump: what
`kubectl get pods,replicasets,deployments,... -A -o json` prints, from files or piped in.

Which one: FILE arguments (`-` for stdin) are dumps; without them, piped or redirected stdin is a
dump, and otherwise (a terminal, /dev/null, a closed stdin, or any of kubectl's --kubeconfig,
--context, -n, -A) the live cluster is read.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from io import BytesIO
from typing import TYPE_CHECKING

from postrender.core import options
from postrender.core.diagnostics import Diagnostics
from postrender.core.errors import EXIT_CHECK, EXIT_OK, InputError, UsageError
from postrender.core.meshes import ISTIO, LINKERD, NAMES
from postrender.core.policy import MESH_DEFAULTS
from postrender.core.workloads import BUILTIN_KINDS, KindTable
from postrender.pods import clusterdump, restarts, sidecar_forms

if TYPE_CHECKING:
    from postrender.core.engine import Outcome
    from postrender.core.options import Input
    from postrender.core.policy import Policy

DUMP_COMMAND = "kubectl get pods,replicasets,deployments,statefulsets,daemonsets,jobs,cronjobs -A -o json"
LIVE_TIMEOUT = "2m"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)?$")
_SECONDS = {"s": 1, "m": 60, "h": 3600}


def pods(argv: Sequence[str], diagnostics: Diagnostics) -> int:
    """Show, per workload, the proxy form (istio-proxy, linkerd-proxy) its running pods have and the one new
    pods would get, and the command that replaces the stale ones."""
    from postrender.pods import formats as pod_formats

    parser = options.ArgumentParser(
        prog="sidecar-policy pods", description=pods.__doc__,
        epilog=f"input: the live cluster, read with kubectl, when no FILE is given and nothing is piped in; else what "
               f"`{DUMP_COMMAND}` prints (JSON or YAML, a List or a stream; FILE `-` is stdin)\n"
               "exit codes: 0 ok, 1 bad input, 2 bad usage or policy, 3 --fail-on-restart and a restart is needed, "
               "4 kubectl failed")
    parser.add_argument("--mesh", choices=NAMES, default=None,
                        help="the mesh: istio (default), or linkerd (the default with --linkerd-version, or the "
                             "policy's spec.mesh)")
    parser.add_argument("--mesh-default", choices=MESH_DEFAULTS,
                        help="the form the mesh injects into pods without the annotation")
    parser.add_argument("--istio-version", metavar="X.Y",
                        help="derive the mesh default: regular before Istio 1.27, native from 1.27 (regular "
                             "with --kube-version below 1.33); with compatibilityVersion set, pass that")
    options.add_linkerd_version(parser, "derive Linkerd's default: regular before 2.20, native from 2.20 "
                                "(edge-26.5.2); also the release whose annotation key a --policy writes")
    parser.add_argument("--kube-version", metavar="X.Y", default=os.environ.get("KUBE_VERSION"),
                        help="the kubelets' Kubernetes version, for Istio's `auto` mode (default: $KUBE_VERSION)")
    parser.add_argument("--policy", metavar="PATH",
                        help="preview: judge pods against the templates as this policy would leave them")
    parser.add_argument("-o", "--output", choices=sorted(pod_formats.FORMATS), default="table",
                        help="table (default), json, or markdown")
    parser.add_argument("--fail-on-restart", action="store_true", help="exit 3 when any workload needs a restart")
    parser.add_argument("--log-file", metavar="PATH", default=None, help="also append errors to this file")
    parser.add_argument("files", nargs="*", metavar="FILE", help="read these dumps (`-`: stdin), not the live cluster")
    _add_live_options(parser)
    args = parser.parse_args(argv)
    diagnostics.configure(args)
    policy = options.require_policy(args) if args.policy else None
    mesh = _mesh(args, policy)
    default = sidecar_forms.mesh_default(args.mesh_default, args.istio_version, options.parse_kube_version(args.kube_version),
                                         mesh, args.linkerd_version or _policy_version(policy))
    kinds = policy.kinds if policy is not None else KindTable(BUILTIN_KINDS)
    templates = None if policy is None else (lambda holders: preview_templates(policy, holders))
    # A dump's objects are trees, with no cycles for the collector to find; its full passes over the
    # growing heap made a large dump cost more per pod than a small one (./dev bench, pods rows).
    gc.disable()
    try:
        found = restarts.rows(restarts.ClusterIndex(_objects(args, kinds, diagnostics)), kinds, default, templates)
    finally:
        gc.enable()
    sys.stdout.write(pod_formats.FORMATS[args.output](found, pod_formats.Context(default, args), sys.stdout))
    return EXIT_CHECK if args.fail_on_restart and any(row.restart for row in found) else EXIT_OK


def _mesh(args: argparse.Namespace, policy: Policy | None) -> str:
    """--mesh, else the policy's, else linkerd when --linkerd-version says so, else istio."""
    if policy is not None and args.mesh not in (None, policy.mesh):
        raise UsageError(f"--mesh {args.mesh}, but the policy {policy.origin} drives {policy.mesh}")
    if args.mesh or policy is not None:
        return args.mesh or policy.mesh  # type: ignore[union-attr]  # one of them is set
    return LINKERD if args.linkerd_version else ISTIO


def _policy_version(policy: Policy | None) -> str | None:
    return str(policy.linkerd_version) if policy is not None and policy.linkerd_version is not None else None


def _add_live_options(parser: argparse.ArgumentParser) -> None:
    live = parser.add_argument_group("the live cluster (kubectl's flags, passed on to it)")
    live.add_argument("--kubeconfig", metavar="PATH", help="the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    live.add_argument("--context", metavar="NAME", help="the kubeconfig context (default: the current one)")
    live.add_argument("-n", "--namespace", metavar="NS", help="read this namespace (default: the context's)")
    live.add_argument("-A", "--all-namespaces", action="store_true", help="read every namespace")
    live.add_argument("--timeout", metavar="DURATION", type=duration, default=duration(LIVE_TIMEOUT),
                      help=f"give up when kubectl has not answered after this long: 90s, 2m, 1h (default: {LIVE_TIMEOUT})")


def duration(text: str) -> float:
    """`90`, `90s`, `2m`, `1.5h` -> seconds (argparse names the option when this raises)."""
    match = _DURATION.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(text)
    return float(match.group(1)) * _SECONDS[match.group(2) or "s"]


def _objects(args: argparse.Namespace, kinds: KindTable, diagnostics: Diagnostics) -> Iterable[clusterdump.DumpObject]:
    """The live cluster's objects, or the dumps': see the module's docstring for which."""
    live_flags = [flag for flag, value in (("--kubeconfig", args.kubeconfig), ("--context", args.context),
                                           ("--namespace", args.namespace), ("--all-namespaces", args.all_namespaces))
                  if value]
    if args.files and live_flags:
        raise UsageError(f"{live_flags[0]} is for reading the live cluster: give it without FILE, or leave it out "
                         "to read the dump")
    if args.files or (not live_flags and _stdin_brings_input()):
        files = [] if args.files == ["-"] else args.files
        return (obj for name, source in options.inputs(files) for obj in _read(source, name))
    from postrender.pods import livecluster

    connection = livecluster.Connection(args.kubeconfig, args.context, args.namespace, args.all_namespaces)
    return livecluster.read_objects(connection, kinds, args.timeout, diagnostics)


def _stdin_brings_input() -> bool:
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


def preview_templates(policy: Policy, holders: list[clusterdump.DumpObject]) -> list[dict | None]:
    """The templates as the engine leaves them: each holder runs through the engine as a document of
    its own (small documents: the engine's edits stay linear), and its Outcome's template is kept."""
    from postrender.core.engine import Options, run
    from postrender.reports.command import NullSink

    stream = b"".join(b"---\n" + json.dumps(holder.data, default=str).encode("utf-8") + b"\n" for holder in holders)
    templates: list[dict | None] = [None] * len(holders)

    def keep(outcome: Outcome) -> None:
        templates[outcome.workload.document - 1] = outcome.template

    try:
        run(policy, BytesIO(stream), NullSink(), Options(input_name="<dump>"), on_outcome=keep)
    except InputError as error:  # say where the object is in the user's input, not in our stream
        document = error.location.document if error.location else None
        holder = holders[document - 1] if document and document <= len(holders) else None
        raise InputError(error.message, holder.location if holder else error.location) from None
    return templates
