"""Istio's real sidecar injector (tests/harness/istioinject), one build per Istio release.

`inject` is `istioctl kube-inject` with Istio's own chart defaults plus mesh-wide settings given as
`istioctl install --set` flags; `read` reads a stream as Kubernetes does (sigs.k8s.io/yaml), so
an output is compared as the API server would see it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from tests.support import gotools

# The oldest release that reads the pod's sidecar.istio.io/nativeSidecar annotation and that the
# module proxy still builds (Istio 1.24: pkg/kube/inject/inject.go, "The
# sidecar.istio.io/nativeSidecar annotation takes precedence over the global feature flag"), and the newest.
# Each release's go.mod in tests/harness/istioinject, and the build tags of the files written for it.
BUILDS = {"1.24": ("go.istio-1.24.mod", ("istio_1_24",)), "1.31": ("go.mod", ())}
VERSIONS = tuple(BUILDS)
# Istio 1.24 drops a pod's own init containers when it injects a regular sidecar without traffic
# interception (interceptionMode NONE: its injection template then renders an empty
# `initContainers:`); later releases keep them, and so does a conversion. Batches for these
# releases give such pods no init containers; test_istio_oracle.py shows the difference.
DROPS_INIT_CONTAINERS_WITHOUT_INTERCEPTION = frozenset({"1.24"})
INTERCEPT_NONE = "meshConfig.defaultConfig.interceptionMode=NONE"


class MeshSettings(NamedTuple):
    """Mesh-wide settings the manifest cannot show: Istio's install flags and the policy's view of them."""

    name: str
    flags: tuple[str, ...] = ()
    hold_application: str = "false"  # what the policy's holdApplicationUntilProxyStarts must say

    @property
    def intercepts(self) -> bool:
        return INTERCEPT_NONE not in self.flags

    @property
    def sets_proxy_lifecycle(self) -> bool:
        """values.global.proxy.lifecycle: the proxy's hooks in both forms, under the user's own."""
        return any(flag.startswith("values.global.proxy.lifecycle") for flag in self.flags)


class Injector:
    def __init__(self, binary: Path, version: str):
        self.binary = binary
        self.version = version

    def inject(self, stream: bytes, settings: MeshSettings, form: str) -> bytes:
        """The stream as `istioctl kube-inject` writes it for a mesh with these settings, `form` its default.

        istiod's ENABLE_NATIVE_SIDECARS picks the mesh's default form (1.24: pilot/pkg/features
        experimental.go; 1.31: pilot.go); a pod's nativeSidecar annotation wins over it, but
        kube-inject reads a CronJob's annotations from spec.jobTemplate.metadata, not its pod
        template (pkg/kube/inject/inject.go IntoObject), so only the mesh default reaches those.
        """
        args = [arg for flag in settings.flags for arg in ("--set", flag)]
        return self._run(["inject", *args], stream, {"ENABLE_NATIVE_SIDECARS": str(form == "native").lower()})

    def read(self, stream: bytes) -> list[Any]:
        """Each document as Kubernetes reads it (JSON data), empty documents left out."""
        lines = self._run(["read"], stream).splitlines()
        return [document for document in map(json.loads, lines) if document is not None]

    def _run(self, args: Sequence[str], stream: bytes, env: dict[str, str] | None = None) -> bytes:
        environment = {**os.environ, **(env or {})}
        result = subprocess.run([str(self.binary), *args], input=stream, capture_output=True, env=environment, check=False)
        if result.returncode != 0:
            raise AssertionError(f"istioinject {self.version} {' '.join(args)}: {result.stderr.decode()[-2000:]}")
        return result.stdout


def binary(version: str) -> Path:
    """The harness built against Istio `version` (once per content; skipped without Go)."""
    modfile, tags = BUILDS[version]
    return gotools.harness("istioinject", modfile, tags)


def injector(version: str) -> Injector:
    """Istio `version`'s injector, built once per content of the harness (skipped without Go)."""
    return Injector(binary(version), version)
