"""How `pods` prints its rows: an aligned table, JSON, or Markdown, with explain's table and Markdown helpers."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import NamedTuple, TextIO

from postrender.pods.restarts import Row
from postrender.pods.sidecar_forms import GATEWAY, MeshDefault
from postrender.reports.formats import (
    aligned,
    code_span,
    colour_enabled,
    markdown_cell,
    markdown_table,
    paint,
)

_HEADERS = ("NAMESPACE", "KIND", "NAME", "PODS", "ACTUAL", "DESIRED", "RESTART")
_APART_HEADERS = ("NAMESPACE", "KIND", "NAME", "PODS", "WHY")
class Context(NamedTuple):
    default: MeshDefault
    args: argparse.Namespace  # the parsed command line, for the header

    @property
    def mesh(self) -> str:
        args = self.args
        linkerd = self.default.mesh.name == "linkerd"
        version = f"--linkerd-version {self.default.linkerd_version}" if linkerd else f"--istio-version {args.istio_version}"
        source = version if not args.mesh_default else "--mesh-default"
        policy = args.policy
        preview = f"; templates as the policy {policy} leaves them" if policy else ""
        if getattr(args, "admission_policy", None):
            preview += f"; pods as the admission policy {args.admission_policy} leaves them"
        return f"{'Linkerd' if linkerd else 'mesh'} default {self.default.form} ({source}){preview}"

    def why_apart(self, row: Row) -> str:
        if row.actual == GATEWAY:
            return "an Istio gateway: istio-proxy is its main container"
        return f"not injected: no {self.default.mesh.proxy} sidecar"


def _summary(rows: list[Row]) -> str:
    injected = [row for row in rows if not row.apart]
    restart = [row for row in injected if row.restart]
    stale = sum(len(row.stale_pods) for row in restart)
    gateways = sum(1 for row in rows if row.actual == GATEWAY)
    return (f"{len(injected)} workload{'s' if len(injected) != 1 else ''} with injected pods: "
            f"{len(restart)} to restart ({stale} pod{'s' if stale != 1 else ''}); "
            f"reported apart: {len(rows) - len(injected) - gateways} not injected, {gateways} gateway"
            f"{'s' if gateways != 1 else ''}")


def _restart_text(row: Row) -> str:
    return f"yes ({len(row.stale_pods)}/{row.pods})" if row.restart else "no"


def table(rows: list[Row], context: Context, stream: TextIO) -> str:
    colour = colour_enabled(stream)
    injected = [row for row in rows if not row.apart]
    apart = [row for row in rows if row.apart]
    cells = [(row.namespace or "-", row.shown_kind, row.name, str(row.pods), row.actual, row.desired or "-")
             for row in injected]
    restart = [paint(_restart_text(row), "warning", colour) if row.restart else "no" for row in injected]
    lines = [context.mesh, ""] + aligned(_HEADERS, cells, restart, colour)
    commands = [f"  {row.shown_kind} {row.namespace}/{row.name}: {row.command}" for row in injected if row.restart]
    if commands:
        lines += ["", "restart:"] + commands
    if apart:
        lines += ["", "reported apart (never restarted for the sidecar form):"]
        lines += ["  " + line for line in aligned(
            _APART_HEADERS, [(row.namespace or "-", row.shown_kind, row.name, str(row.pods)) for row in apart],
            [context.why_apart(row) for row in apart], colour)]
    lines += ["", _summary(rows)]
    return "\n".join(lines) + "\n"


def to_json(rows: list[Row], context: Context, stream: TextIO) -> str:
    objects = [
        {
            "namespace": row.namespace,
            "kind": row.kind,
            "group": row.group,
            "name": row.name,
            "pods": row.pods,
            "actual": row.actual,
            "desired": row.desired,
            "restart": row.restart,
            "command": row.command,
            "stale_pods": list(row.stale_pods),
        }
        for row in rows
    ]
    return json.dumps(objects, indent=2, ensure_ascii=False) + "\n"


def _fix(row: Row) -> str:
    if not row.restart:
        return "no"
    return code_span(row.command or "") if row.runnable else markdown_cell(row.command or "")


def markdown(rows: list[Row], context: Context, stream: TextIO) -> str:
    injected = [row for row in rows if not row.apart]
    lines = ["### sidecar-policy pods", "", markdown_cell(context.mesh), "", _summary(rows), ""]
    lines += markdown_table(tuple(header.capitalize() for header in _HEADERS), [
        (code_span(row.namespace), row.shown_kind, code_span(row.name), str(row.pods), row.actual, str(row.desired), _fix(row))
        for row in injected])
    apart = [f"- {row.shown_kind} {code_span(row.namespace)}/{code_span(row.name)}: {context.why_apart(row)}"
             for row in rows if row.apart]
    return "\n".join(lines + (["", "#### Reported apart", ""] + apart if apart else [])) + "\n"


FORMATS: dict[str, Callable[[list[Row], Context, TextIO], str]] = {
    "table": table,
    "json": to_json,
    "markdown": markdown,
}
