"""The Kubernetes harnesses share one build: every module they have in common is at one version.

tests/harness/controlplane, podvalidation and kubeyaml are separate Go modules (each builds only
what its program imports), but the Go build cache keys a compiled package by its module version
and its dependencies' builds: aligned, kube-apiserver's build leaves podvalidation and kubeyaml
to link only (docs/development.md has the measurement). A drifted version would compile its
package, and everything above it, twice.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.gotools import HARNESSES

KUBERNETES_HARNESSES = ("controlplane", "podvalidation", "kubeyaml")
_REQUIRE = re.compile(r"^\s*(?:require\s+)?([\w.~/-]+) (v\S+)(?: // indirect)?$", re.M)
_REPLACE = re.compile(r"^\s*(?:replace\s+)?([\w.~/-]+) => ([\w.~/-]+) (v\S+)$", re.M)


def selected_versions(go_mod: Path) -> dict[str, str]:
    text = go_mod.read_text()
    versions = {module: version for module, version in _REQUIRE.findall(text)}
    for module, _target, version in _REPLACE.findall(text):
        if module in versions:
            versions[module] = version
    return versions


def test_shared_modules_are_at_one_version() -> None:
    modules = {name: selected_versions(HARNESSES / name / "go.mod") for name in KUBERNETES_HARNESSES}
    assert all(len(versions) > 10 for versions in modules.values())
    for name, versions in modules.items():
        for other, other_versions in modules.items():
            drifted = {module: (version, other_versions[module]) for module, version in versions.items()
                       if module in other_versions and other_versions[module] != version}
            assert not drifted, f"{name} and {other} disagree: {drifted}"
