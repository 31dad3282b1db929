"""The alternative users reach for: `kubectl kustomize` with patches that do what the policy does.

Kustomize applies every patch in order, so the last one to touch a workload wins; the policy's
first matching rule wins. Writing the fallback first and the rules in reverse gives the same result.
Only the match fields the benchmark policy uses are translated (kinds, names, labels).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ANNOTATION = "sidecar.istio.io/nativeSidecar"
VALUES: dict[str, str | None] = {"native": "true", "regular": "false", "default": None}  # None deletes

# Where each workload kind keeps its pod metadata (the same table the policy engine knows).
POD_METADATA_PATH: dict[str, tuple[str, ...]] = {
    "Pod": (), "CronJob": ("spec", "jobTemplate", "spec", "template"),
    **{kind: ("spec", "template") for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job")},
}


def glob_to_regex(glob: str) -> str:
    """Shell glob to the Go regexp kustomize anchors itself (`^(?:...)$`)."""
    return "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in glob)


def strategic_merge_patch(path: tuple[str, ...], value: str | None) -> str:
    """A patch whose kind and name do not matter: with a target, kustomize applies it to every match."""
    patch: dict[str, Any] = {"apiVersion": "v1", "kind": "Any", "metadata": {"name": "any"}}
    node = patch
    for key in path:
        node = node.setdefault(key, {})
    node.setdefault("metadata", {})["annotations"] = {ANNOTATION: value}
    return yaml.safe_dump(patch, sort_keys=False)


def rule_patches(match: dict[str, Any], mode: str) -> list[dict[str, Any]]:
    """One patch per pod-metadata path among the kinds the rule can match."""
    kinds = [kind for kind in POD_METADATA_PATH if not match.get("kinds") or kind in match["kinds"]]
    by_path: dict[tuple[str, ...], list[str]] = {}
    for kind in kinds:
        by_path.setdefault(POD_METADATA_PATH[kind], []).append(kind)
    patches = []
    for path, path_kinds in by_path.items():
        target: dict[str, str] = {"kind": "|".join(path_kinds)}
        if match.get("names"):
            target["name"] = "|".join(glob_to_regex(glob) for glob in match["names"])
        if match.get("labels"):
            target["labelSelector"] = match["labels"]
        patches.append({"target": target, "patch": strategic_merge_patch(path, VALUES[mode])})
    return patches


def kustomization(policy: dict[str, Any]) -> dict[str, Any]:
    spec = policy["spec"]
    patches = []
    if spec.get("fallback", "keep") != "keep":
        patches += rule_patches({}, spec["fallback"])
    for rule in reversed(spec["rules"]):
        unsupported = set(rule["match"]) - {"kinds", "names", "labels"}
        if unsupported:
            raise ValueError(f"bench/kustomize.py cannot translate match fields {sorted(unsupported)}")
        patches += rule_patches(rule["match"], rule["sidecar"])
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": ["stream.yaml"], "patches": patches}


def prepare(directory: Path, stream: Path, policy_path: Path) -> Path:
    """A kustomization directory whose only resource is (a hard link to) the stream."""
    directory.mkdir(parents=True, exist_ok=True)
    resource = directory / "stream.yaml"
    resource.unlink(missing_ok=True)
    try:
        os.link(stream, resource)
    except OSError:
        shutil.copyfile(stream, resource)
    policy = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization(policy), sort_keys=False))
    return directory


def command(directory: Path) -> list[str]:
    return ["kubectl", "kustomize", str(directory)]


def version() -> str | None:
    """kustomize's version as kubectl reports it, or None when kubectl is not installed."""
    if shutil.which("kubectl") is None:
        return None
    done = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True, check=False)
    found = re.search(r"Kustomize Version:\s*(\S+)", done.stdout)
    return found.group(1) if found else "unknown"
