"""One kustomize patch as text: its type, how it is written, and the marks that say it is ours.

patches.py (the policy's patches), borrowed_templates.py (the guard around them) and rendered.py
(conversions) all write patches; this module is what they share, so that none imports another
for it.
"""

from __future__ import annotations

from typing import NamedTuple

# metadata.name of our strategic-merge patches: kustomize ignores it when a target is given
# (api/resource/resource.go ApplySmPatch keeps the object's name), so it only marks them as ours.
MARKER_NAME = "sidecar-policy"
# First line of our JSON6902 patches that are not about the annotation (rendered.py,
# borrowed_templates.py): a YAML comment, which kustomize drops when it reads the patch, marks them as ours.
JSON6902_MARK = "# sidecar-policy: "


class Patch(NamedTuple):
    """One entry of a kustomization's `patches:` (fluxcd/pkg apis/kustomize Patch and Selector)."""

    target: dict[str, str]  # group, kind, name, labelSelector: only the fields that select
    patch: str  # YAML text: a strategic-merge patch, or an RFC 6902 operation list
    origin: str  # the rule (or fallback) it comes from, for a comment beside it


def dump_yaml(data: object) -> str:
    import yaml

    return yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False, width=1 << 16)


def marked_json6902(origin: str, operations: list[dict]) -> str:
    """An RFC 6902 patch text that is ours but not about the annotation, saying where it comes from."""
    return f"{JSON6902_MARK}{origin}\n{dump_yaml(operations)}"
