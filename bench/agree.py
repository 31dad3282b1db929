"""Check that the kustomize baseline does the same thing: same annotation on every workload."""

from __future__ import annotations

from pathlib import Path

import yaml
from kustomize import ANNOTATION, POD_METADATA_PATH

Key = tuple[str, str, str]  # kind, namespace, name


def sidecar_annotations(stream: Path) -> dict[Key, str | None]:
    """The annotation's value on each workload's pod metadata (None when absent), by identity."""
    found: dict[Key, str | None] = {}
    with stream.open("rb") as source:
        for document in yaml.load_all(source, Loader=yaml.CSafeLoader):
            if not isinstance(document, dict) or document.get("kind") not in POD_METADATA_PATH:
                continue
            metadata = document.get("metadata") or {}
            node = document
            for key in POD_METADATA_PATH[document["kind"]]:
                node = node.get(key) or {}
            annotations = (node.get("metadata") or {}).get("annotations") or {}
            found[(document["kind"], metadata.get("namespace", ""), metadata["name"])] = annotations.get(ANNOTATION)
    return found


def compare(what: str, ours: Path, theirs: Path) -> str:
    """One line for the report: agreement, or the first few differences."""
    mine, kustomized = sidecar_annotations(ours), sidecar_annotations(theirs)
    differences = [f"{kind}/{name}: sidecar-policy {mine.get(key)!r}, kustomize {kustomized.get(key)!r}"
                   for key in sorted(set(mine) | set(kustomized))
                   for kind, _, name in [key] if mine.get(key, "<missing>") != kustomized.get(key, "<missing>")]
    if differences:
        return (f"WARNING: kustomize patches and sidecar-policy disagree on {len(differences)} of {len(mine)} "
                f"workloads of {what}: " + "; ".join(differences[:3]))
    return f"kustomize patches and sidecar-policy set the same annotation on all {len(mine):,} workloads of {what}"
