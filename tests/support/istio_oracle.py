"""Istio's injector as the oracle of a conversion: one batch of generated workloads, checked both ways.

A batch is injected twice by the real injector, once per sidecar form (the nativeSidecar annotation
picks it). Our post-renderer, deciding the other form with convertInjected, must turn one into the
other exactly as Kubernetes reads both, and leave a stream already in the decided form byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.support.helpers import policy_of, post_render
from tests.support.istio_injector import (
    DROPS_INIT_CONTAINERS_WITHOUT_INTERCEPTION,
    INTERCEPT_NONE,
    Injector,
    MeshSettings,
)
from tests.support.istio_workloads import WorkloadGenerator, as_stream, in_form

OTHER = {"native": "regular", "regular": "native"}

# Mesh-wide settings that change the injected form, as `istioctl install --set` flags.
SETTINGS = (
    MeshSettings("defaults"),
    MeshSettings("mesh-hold", ("meshConfig.defaultConfig.holdApplicationUntilProxyStarts=true",), hold_application="true"),
    MeshSettings("values-hold", ("values.global.proxy.holdApplicationUntilProxyStarts=true",), hold_application="always"),
    MeshSettings("cni", ("values.pilot.cni.enabled=true",)),
    MeshSettings("no-probe-rewrite", ("values.sidecarInjectorWebhook.rewriteAppHTTPProbe=false",)),
    MeshSettings("proxy-image-resources", (
        "values.global.hub=registry.example.com/istio", "values.global.tag=9.9.9",
        "values.global.proxy.resources.requests.cpu=50m", "values.global.proxy.resources.limits.memory=512Mi",
    )),
    MeshSettings("intercept-none", (INTERCEPT_NONE,)),
    MeshSettings("proxy-lifecycle", ("values.global.proxy.lifecycle.preStop.exec.command[0]=sleep",)),
)


def check_batch(istio: Injector, settings: MeshSettings, target: str, count: int, seed: int,
                server: Callable[[bytes], str] | None = None) -> str | None:
    """None when converting `count` workloads drawn from `seed` into `target` gives Istio's own `target` form.

    `server`, when given, is the API server's reading of the converted stream: "" when it accepts
    every object (support/server_reading.py), else what it said.
    """
    generator = WorkloadGenerator(seed)
    generator.mesh_intercepts = settings.intercepts
    if settings.sets_proxy_lifecycle:
        # A user preStop would hide the mesh's preStop hook, and the pod would no longer show that the
        # mesh sets one: such a pod converts as if it were Istio's drain hook (docs/conversion.md).
        generator.proxy_override_hooks = ("postStart",)
    generator.init_containers_without_interception = istio.version not in DROPS_INIT_CONTAINERS_WITHOUT_INTERCEPTION
    return check_documents(istio, settings, target, generator.documents(count), f"seed {seed}", server)


def check_documents(istio: Injector, settings: MeshSettings, target: str, workloads: list[dict], name: str,
                    server: Callable[[bytes], str] | None = None) -> str | None:
    """None when converting Istio's injection of `workloads` in the other form gives its `target` form."""
    source = istio.inject(as_stream(in_form(workloads, OTHER[target])), settings, OTHER[target])
    expected = istio.inject(as_stream(in_form(workloads, target)), settings, target)
    policy = policy_of(f"  fallback: {target}\n  convertInjected: true\n"
                       f"  holdApplicationUntilProxyStarts: {settings.hold_application}\n")
    converted, _ = post_render(source, policy)
    where = f"Istio {istio.version}, mesh {settings.name}, to {target}, {name}"
    difference = first_difference(istio.read(converted), istio.read(expected))
    if difference is not None:
        return f"{where}: {difference}"
    refused = server(converted) if server is not None else ""
    if refused:
        return f"{where}: the API server refused the converted stream:\n{refused}"
    unchanged, _ = post_render(expected, policy)
    if unchanged != expected:
        return f"{where}: a stream already {target} was changed"
    return None


def first_difference(actual: list[Any], expected: list[Any]) -> str | None:
    """None when the documents are equal data, else the first document and path where they differ."""
    if len(actual) != len(expected):
        return f"{len(actual)} documents, expected {len(expected)}"
    for index, (got, want) in enumerate(zip(actual, expected)):
        path = _first_path(got, want, "")
        if path is not None:
            name = f"{want.get('kind')}/{(want.get('metadata') or {}).get('name')}" if isinstance(want, dict) else ""
            return (f"document {index} ({name}) differs at {path[0] or '/'}: got {_short(path[1])}, "
                    f"expected {_short(path[2])}\nexpected document: {json.dumps(want)[:6000]}")
    return None


def _first_path(got: Any, want: Any, path: str) -> tuple[str, Any, Any] | None:
    if type(got) is not type(want):
        return path, got, want
    if isinstance(want, dict):
        if list(got) != list(want) and set(got) != set(want):
            missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            return path, f"keys +{extra} -{missing}", sorted(want)
        for key in want:
            found = _first_path(got[key], want[key], f"{path}/{key}")
            if found is not None:
                return found
        return None
    if isinstance(want, list):
        names = [item.get("name") if isinstance(item, dict) else None for item in want]
        if len(got) != len(want) or names != [item.get("name") if isinstance(item, dict) else None for item in got]:
            return path, _names_or_items(got), _names_or_items(want)
        for index, (item_got, item_want) in enumerate(zip(got, want)):
            found = _first_path(item_got, item_want, f"{path}/{index}")
            if found is not None:
                return found
        return None
    return None if got == want else (path, got, want)


def _names_or_items(items: list) -> list:
    return [item["name"] if isinstance(item, dict) and "name" in item else item for item in items]


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 600 else text[:600] + "..."
