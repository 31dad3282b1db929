"""Kustomize patches that never give a pod template to an object that borrows one.

An Argo Rollout with spec.workloadRef takes its pod template from the Deployment it names and
must have none of its own (core/workloads.py BORROWED_TEMPLATES). A kustomize target cannot see spec
fields, only group, kind, name, labels and annotations (kubernetes-sigs/kustomize
api/types/selector.go), and a strategic merge creates the maps it patches, so any patch that
selects Rollouts would give such a one `spec.template.metadata.annotations`.

The only patch operations that carry an object's own data from one place to another are RFC 6902
`copy` and `move`, and an annotationSelector reads annotations; so, before the policy's patches,
four patches turn "has a reference" into an annotation that every later target excludes:

1. strategic merge: MARK on every such object, and an empty reference where there is none;
2. RFC 6902: metadata.annotations moved aside, the reference copied in their place;
3. strategic merge, selecting `!name` (a reference names its object; the empty one does not):
   MARK and the empty reference deleted again;
4. RFC 6902: the annotations moved back.

After the policy's patches, one more removes MARK. The objects come out as they went in, which
tests/test_kustomize_equivalence.py checks with `kubectl kustomize` and
tests/test_flux_helm_controller.py with the kustomize version helm-controller builds with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from postrender.core.globs import escape
from postrender.core.workloads import BORROWED_TEMPLATES
from postrender.flux.patch_text import (
    MARKER_NAME,
    Patch,
    dump_yaml,
    marked_json6902,
)

MARK = "sidecar-policy/borrows-pod-template"
_SAVED = "sidecarPolicySavedAnnotations"  # beside the reference, a field no kind has, for a moment
_MARK_POINTER = "/metadata/annotations/" + MARK.replace("~", "~0").replace("/", "~1")


def guard(patches: Sequence[Patch]) -> list[Patch]:
    """The patches, those that may select a borrowing kind excluding its borrowers, inside the guard."""
    borrowing = [(group, kind, reference) for (group, kind), reference in sorted(BORROWED_TEMPLATES.items())
                 if any(_may_select(patch.target, group, kind) for patch in patches)]
    if not borrowing:
        return list(patches)
    guarded = [patch._replace(target={**patch.target, "annotationSelector": f"!{MARK}"})
               if any(_may_select(patch.target, group, kind) for group, kind, _ in borrowing) else patch
               for patch in patches]
    before = [patch for group, kind, reference in borrowing for patch in _mark(group, kind, reference)]
    after = [_unmark(group, kind, reference) for group, kind, reference in borrowing]
    return before + guarded + after


def _may_select(target: dict[str, str], group: str, kind: str) -> bool:
    """Our targets are anchored regexes in the subset where Python's re and Go's RE2 agree."""
    return (re.fullmatch(target.get("group", ".*"), group) is not None
            and re.fullmatch(target.get("kind", ".*"), kind) is not None)


def _mark(group: str, kind: str, reference: tuple[str, ...]) -> list[Patch]:
    target = {"group": f"^{escape(group)}$", "kind": f"^{escape(kind)}$"}
    origin = f"a {kind} with {'.'.join(reference)} borrows its pod template: marked, so that no patch below gives it one"
    parent, field = reference[:-1], reference[-1]
    saved = "/" + "/".join(parent + (_SAVED,))
    return [
        Patch(target, _merge(kind, {"annotations": {MARK: "true"}}, parent, {field: {}}), f"{origin} (1/4)"),
        Patch(target, marked_json6902(f"{origin} (2/4)", [
            {"op": "move", "from": "/metadata/annotations", "path": saved},
            {"op": "copy", "from": "/" + "/".join(reference), "path": "/metadata/annotations"},
        ]), f"{origin} (2/4)"),
        Patch({**target, "annotationSelector": "!name"},
              _merge(kind, {}, parent, {field: None, _SAVED: {MARK: None}}), f"{origin} (3/4)"),
        Patch(target, marked_json6902(f"{origin} (4/4)", [
            {"op": "remove", "path": "/metadata/annotations"},
            {"op": "move", "from": saved, "path": "/metadata/annotations"},
        ]), f"{origin} (4/4)"),
    ]


def _merge(kind: str, metadata: dict, parent: tuple[str, ...], fields: dict) -> str:
    """A strategic-merge patch text: these metadata, and these fields under `parent`."""
    body: dict = fields
    for step in reversed(parent):
        body = {step: body}
    return dump_yaml({"kind": kind, "metadata": {"name": MARKER_NAME, **metadata}, **body})


def _unmark(group: str, kind: str, reference: tuple[str, ...]) -> Patch:
    target = {"group": f"^{escape(group)}$", "kind": f"^{escape(kind)}$", "annotationSelector": MARK}
    origin = f"a {kind} with {'.'.join(reference)} borrows its pod template: its mark removed"
    return Patch(target, marked_json6902(origin, [{"op": "remove", "path": _MARK_POINTER}]), origin)
