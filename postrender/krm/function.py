"""`sidecar-policy krm`: the post-renderer as a KRM function for kustomize and kpt.

A ResourceList (config.kubernetes.io/v1) comes in on stdin, its functionConfig is the
SidecarPolicy itself, and a ResourceList goes out (kubernetes-sigs/kustomize
cmd/config/docs/api-conventions/functions-spec.md). The reader unwraps the items and hands each
to the core engine as one document, and the writer puts the engine's edited texts back in
place of the items: the edits are the engine's own, and every other byte of the list stays,
with the items' config.kubernetes.io/* and internal.config.kubernetes.io/* annotations and
their comments. Warnings, decisions and errors go to `results`: on an error the list goes out
too, its items unchanged, with the error as a result and a non-zero exit code, as kyaml's
framework.Execute does (kubernetes-sigs/kustomize kyaml/fn/framework/framework.go), so kpt shows
the result beside stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from postrender.core import yamlnodes
from postrender.core.diagnostics import Diagnostics
from postrender.core.engine import Engine, Options, Outcome
from postrender.core.errors import InputError, Location, SidecarPolicyError, UsageError
from postrender.core.options import ArgumentParser, options_from
from postrender.core.policy import parse_policy
from postrender.core.stream import Document
from postrender.krm import resourcelist

ITEMS = "items"  # the engine's input name: errors located there point at an item

_ACTIONS = {"set": "set", "replaced": "set", "removed": "removed", "converted": "converted"}


def krm(argv: Sequence[str], diagnostics: Diagnostics) -> int:
    """Run as a KRM function: ResourceList on stdin, ResourceList with results on stdout."""
    parser = ArgumentParser(
        prog="sidecar-policy krm", description=krm.__doc__,
        epilog="example:\n  kpt fn eval --exec 'sidecar-policy krm' --fn-config policy.yaml .",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The policy is the functionConfig; these two may come from the environment (kpt fn eval --env).
    parser.add_argument("--namespace", metavar="NS", default=None,
                        help="namespace of items that leave metadata.namespace out (default: $ARGOCD_APP_NAMESPACE; "
                             "without it, a namespace rule meeting such an item is an error)")
    parser.add_argument("--kube-version", metavar="X.Y", default=os.environ.get("KUBE_VERSION"),
                        help="the target cluster's Kubernetes version, for convertInjected (default: $KUBE_VERSION)")
    args = parser.parse_args(argv)
    options = options_from(args, ITEMS)
    resource_list = resourcelist.read(_read_stdin())
    try:
        documents, results = _apply(resource_list, options)
    except SidecarPolicyError as error:
        original = [resourcelist.document(resource_list, item) for item in resource_list.items]
        sys.stdout.write(resourcelist.write(resource_list, original, _dump(resource_list, [_error_result(error, resource_list)])))
        raise
    for result in results:
        if result["severity"] == "warning":
            diagnostics.warn(result["message"])
    sys.stdout.write(resourcelist.write(resource_list, documents, _dump(resource_list, results)))
    return 0


def _read_stdin() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError("the ResourceList is not UTF-8", Location(resourcelist.INPUT, line=line)) from None


def _apply(resource_list: resourcelist.ResourceList, options: Options) -> tuple[list[str], list[dict[str, Any]]]:
    """Hand each item to the engine as one document; their edited texts and the results."""
    _require_policy(resource_list.function_config)
    policy = parse_policy(resource_list.function_config, "functionConfig")
    outcomes: list[Outcome] = []
    engine = Engine(policy, options, on_outcome=outcomes.append)
    documents = []
    line = 1  # items are numbered as if they were one stream, each after a `---` line
    for index, item in enumerate(resource_list.items, start=1):
        raw = ("---\n" + resourcelist.document(resource_list, item)).encode("utf-8")
        documents.append(engine.process(Document(index, raw, line)).decode("utf-8")[len("---\n") :])
        line += raw.count(b"\n")
    results = [_outcome_result(outcome, resource_list) for outcome in outcomes if outcome.action in _ACTIONS]
    results += [{"message": f"{rule.label} matched no workload", "severity": "warning"}
                for rule in engine.summary.unmatched_rules(policy)]
    return documents, results


def _require_policy(function_config: str) -> None:
    """The functionConfig is optional to the KRM functions spec, and kpt gives a ConfigMap of its
    `-- key=value` arguments when --fn-config is not given: either way there is no policy."""
    node = yamlnodes.compose(function_config) if function_config else None
    kind = yamlnodes.scalar_text(yamlnodes.get(node, "kind"))
    if node is None or kind == "ConfigMap":
        given = "is missing" if node is None else "is a ConfigMap (kpt gives one when --fn-config is not)"
        raise UsageError(f"functionConfig {given}: it must be the SidecarPolicy (kpt fn eval --fn-config policy.yaml)",
                         Location(resourcelist.INPUT))


def _outcome_result(outcome: Outcome, resource_list: resourcelist.ResourceList) -> dict:
    workload = outcome.workload
    setting = outcome.switch.setting(outcome.mode)
    if setting:
        message = "set " + ", ".join(f"{key}: \"{value}\"" for key, value in setting)
    else:
        message = f"{_ACTIONS[outcome.action]} {', '.join(outcome.switch.all_keys)}"
    message += f" at {workload.target}" if workload.target else ""
    message += f" ({outcome.rule.label})" if outcome.rule else " (fallback)"
    result = {"message": message, "severity": "info",
              "resourceRef": _ref(workload.api_version, workload.kind, workload.name, workload.namespace)}
    return _with_file(result, resource_list, workload.document)


def _error_result(error: SidecarPolicyError, resource_list: resourcelist.ResourceList) -> dict:
    result: dict = {"message": str(error), "severity": "error"}
    location = error.location
    if location is None or location.file != ITEMS or not location.document or location.document > len(resource_list.items):
        return result
    node = resourcelist.item_node(resource_list, resource_list.items[location.document - 1])
    metadata = yamlnodes.get(node, "metadata")
    result["resourceRef"] = _ref(
        yamlnodes.scalar_text(yamlnodes.get(node, "apiVersion")),
        yamlnodes.scalar_text(yamlnodes.get(node, "kind")) or "",
        yamlnodes.scalar_text(yamlnodes.get(metadata, "name")) or "",
        yamlnodes.scalar_text(yamlnodes.get(metadata, "namespace")) or "",
    )
    return _with_file(result, resource_list, location.document)


def _ref(api_version: str | None, kind: str, name: str, namespace: str) -> dict:
    ref = {"apiVersion": api_version or "", "kind": kind, "name": name}
    if namespace:
        ref["namespace"] = namespace
    return ref


def _with_file(result: dict, resource_list: resourcelist.ResourceList, document: int) -> dict:
    """Add the item's file (path, index), from the annotations the orchestrator put on it."""
    node = resourcelist.item_node(resource_list, resource_list.items[document - 1])
    try:
        annotations = yamlnodes.string_map(yamlnodes.get(node, "metadata", "annotations"))
    except yamlnodes.NodeError:
        return result
    path = annotations.get("internal.config.kubernetes.io/path") or annotations.get("config.kubernetes.io/path")
    if path:
        index = annotations.get("internal.config.kubernetes.io/index") or annotations.get("config.kubernetes.io/index") or "0"
        result["file"] = {"path": path, "index": int(index) if index.isdigit() else 0}
    return result


def _dump(resource_list: resourcelist.ResourceList, results: list[dict]) -> str:
    if not results:
        return ""
    if resource_list.flow:
        return json.dumps(results)
    import yaml

    return yaml.dump({"results": results}, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False, width=1 << 16)
