"""`sidecar-policy pods`: which running pods run another istio-proxy form than new pods would get,
and what to restart. Reads the live cluster with kubectl, or a dump: what `kubectl get
pods,replicasets,deployments,... -A -o json` prints (sources.py says which)."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Sequence
from io import BytesIO
from typing import TYPE_CHECKING

from postrender.core import admission, options
from postrender.core.diagnostics import Diagnostics
from postrender.core.errors import EXIT_CHECK, EXIT_OK, InputError, UsageError
from postrender.core.meshes import ISTIO, LINKERD, NAMES
from postrender.core.policy import MESH_DEFAULTS, Workload, load_policy
from postrender.core.workloads import BUILTIN_KINDS, KindTable
from postrender.pods import clusterdump, restarts, sidecar_forms, sources
from postrender.pods.dump_resources import dump_command

if TYPE_CHECKING:
    from postrender.core.policy import Policy

DUMP_COMMAND = dump_command()


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
    parser.add_argument("--admission-policy", metavar="PATH",
                        help="the cluster runs this policy at admission (`sidecar-policy admission`): judge pods "
                             "against what it makes of a new pod from each template")
    admission.add_settings_options(parser)
    parser.add_argument("-o", "--output", choices=sorted(pod_formats.FORMATS), default="table",
                        help="table (default), json, or markdown")
    parser.add_argument("--fail-on-restart", action="store_true", help="exit 3 when any workload needs a restart")
    parser.add_argument("--log-file", metavar="PATH", default=None, help="also append errors to this file")
    sources.add_options(parser)
    args = parser.parse_args(argv)
    diagnostics.configure(args)
    policy = options.require_policy(args) if args.policy else None
    mesh = _mesh(args, policy)
    default = sidecar_forms.mesh_default(args.mesh_default, args.istio_version, options.parse_kube_version(args.kube_version),
                                         mesh, args.linkerd_version or _policy_version(policy))
    kinds = policy.kinds if policy is not None else KindTable(BUILTIN_KINDS)
    preview = None if policy is None else (lambda holders: preview_holders(policy, holders))
    admit = None
    if args.admission_policy:
        admit = admitted_template(admission.Admission(load_policy(args.admission_policy), admission.settings_from(args)))
    # A dump's objects are trees, with no cycles for the collector to find; its full passes over the
    # growing heap made a large dump cost more per pod than a small one (./dev bench, pods rows).
    gc.disable()
    try:
        found = restarts.rows(restarts.ClusterIndex(sources.objects(args, kinds, diagnostics)), kinds, default, preview, admit)
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


def admitted_template(model: admission.Admission) -> restarts.Admit:
    """A pod template as the admission policy leaves a pod created from it now."""
    import time

    minutes = int(time.time()) // 60

    def admit(holder: clusterdump.DumpObject, template: dict) -> dict:
        labels = {str(key): str(value) for key, value in ((template.get("metadata") or {}).get("labels") or {}).items()}
        workload = Workload(holder.kind, holder.data.get("apiVersion"), holder.name, holder.namespace, {}, labels, 0, "", 0)
        return model.admitted(template, model.decide(admission.pod_of(workload, template, minutes), holder.namespace))

    return admit


def preview_holders(policy: Policy, holders: list[clusterdump.DumpObject]) -> list[dict | None]:
    """The holders of pod templates as the engine leaves them: each runs through the engine as a document
    of its own (small documents: the engine's edits stay linear), and what it writes is read back, so a
    kind with several places has each of them decided."""
    from postrender.core.engine import Options, run
    from postrender.core.yamlnodes import load

    stream = b"".join(b"---\n" + json.dumps(holder.data, default=str).encode("utf-8") + b"\n" for holder in holders)
    written: list[bytes] = []
    try:
        run(policy, BytesIO(stream), _Collect(written), Options(input_name="<dump>"))
    except InputError as error:  # say where the object is in the user's input, not in our stream
        document = error.location.document if error.location else None
        holder = holders[document - 1] if document and document <= len(holders) else None
        raise InputError(error.message, holder.location if holder else error.location) from None
    return [load(document.decode("utf-8")) for document in written]


class _Collect:
    def __init__(self, written: list[bytes]):
        self.written = written

    def write(self, document: bytes) -> None:
        self.written.append(document)
