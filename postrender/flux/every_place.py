"""Kinds whose pods take their metadata from several places, or from every item of a list or mapping.

A kustomize target selects whole objects, and a patch cannot say "every item of this list": a
strategic merge replaces a list of a custom resource whole (kustomize knows no merge keys for
it), and an RFC 6902 path names one index. A strategic merge would also create a pod template
that is optional (a RayJob's submitterPodTemplate) or pod metadata the operator merges. So such a
kind (core/workloads.py: a kind whose template_path is None) is never patched target-wide:

- without the rendered chart, a rule that names it is refused, and for rules that may select it
  without naming it (a catch-all, the fallback) one patch fails the kustomize build, naming the
  kind, if such an object comes through: never a patch that silently misses items;
- with `--rendered FILE`, each such object the engine decided gets one RFC 6902 patch made from
  the object as rendered and as the engine wrote it (rendered.py), preceded by tests that each list
  and mapping its places walk still has exactly the items it had: a changed chart fails the build
  instead of leaving a new item out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from postrender.core.errors import UsageError
from postrender.core.globs import escape
from postrender.core.policy import Match
from postrender.core.workloads import ITEMS, VALUES, TemplateKind, format_path
from postrender.flux.patch_text import Patch, marked_json6902

SCRATCH = "/sidecarPolicyCheck"  # a top-level field no object has, for the length of one patch


def describe(entry: TemplateKind) -> str:
    return ", ".join(format_path(target.path) + (" (with " + ", ".join(format_path(p) for p in target.merged_with) + ")"
                                                 if target.merged_with else "") for target in entry.targets)


def selects(match: Match, entry: TemplateKind) -> bool:
    return match.kinds is None or entry.kind in match.kinds


def refuse_named(deciders: Iterable[tuple[str, Match]], placed: Iterable[TemplateKind], fixed: Iterable[str]) -> None:
    """Refuse the rules that name such a kind, with no fixed kind of that name in another group (`Job`
    also names batch's): without the rendered chart no patch can do what they say."""
    named = [entry for entry in placed if entry.kind not in set(fixed)]
    problems = [f"{where} selects {entry.kind}, whose pods get their metadata from {describe(entry)}"
                for where, match in deciders if match.kinds is not None for entry in named if entry.kind in match.kinds]
    if problems:
        raise UsageError("; ".join(problems) + ": a kustomize patch cannot reach such places item by item; pass "
                         "--rendered FILE (the chart rendered once) for one exact patch per object")


def guards(kinds: Iterable[TemplateKind]) -> list[Patch]:
    """Patches that fail the build, naming the kind, when an object of these kinds comes through: one
    per API group (a target's kind regex, with its group, selects no other kind)."""
    by_group: dict[str | None, list[TemplateKind]] = {}
    for entry in kinds:
        for group in sorted(entry.groups) if entry.groups is not None else [None]:
            by_group.setdefault(group, []).append(entry)
    patches = []
    for group, entries in sorted(by_group.items(), key=lambda item: item[0] or ""):
        names = sorted({entry.kind for entry in entries})
        target = {} if group is None else {"group": f"^{escape(group)}$"}
        target["kind"] = f"^{escape(names[0])}$" if len(names) == 1 else "^(" + "|".join(escape(n) for n in names) + ")$"
        message = (f"sidecar-policy cannot patch every pod template of a {' or '.join(names)} without the rendered "
                   "chart: regenerate the patches with --rendered FILE")
        origin = (f"{', '.join(names)}{' (' + group + ')' if group else ''}: pod templates in lists or several places "
                  "cannot be patched target-wide; this patch fails the build if such an object comes")
        operation = {"op": "test", "path": "/" + _pointer_part(message), "value": True}
        patches.append(Patch(target, marked_json6902(origin, [operation]), origin))
    return patches


def membership_tests(obj: dict, paths: Iterable[tuple[str, ...]]) -> list[dict]:
    """RFC 6902 operations that fail unless every list and mapping the paths walk holds exactly the
    items it holds in `obj`: copy it aside, remove those items, test that nothing is left, remove it."""
    operations: list[dict] = []
    seen: set[str] = set()
    for path in paths:
        for pointer, container in _containers(obj, path, ""):
            if pointer in seen:
                continue
            seen.add(pointer)
            members = [str(i) for i in reversed(range(len(container)))] if isinstance(container, list) else sorted(container)
            operations += [{"op": "copy", "from": pointer, "path": SCRATCH}]
            operations += [{"op": "remove", "path": f"{SCRATCH}/{_pointer_part(member)}"} for member in members]
            operations += [{"op": "test", "path": SCRATCH, "value": [] if isinstance(container, list) else {}},
                           {"op": "remove", "path": SCRATCH}]
    return operations


def _containers(node: object, path: tuple[str, ...], pointer: str) -> Iterator[tuple[str, list | dict]]:
    """(JSON pointer, the list or mapping) for each `[*]` and `*` step the path takes through `node`."""
    if not path:
        return
    step, rest = path[0], path[1:]
    if step == ITEMS and isinstance(node, list):
        yield pointer, node
        for index, item in enumerate(node):
            yield from _containers(item, rest, f"{pointer}/{index}")
    elif step == VALUES and isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from _containers(value, rest, f"{pointer}/{_pointer_part(str(key))}")
    elif isinstance(node, dict) and step in node:
        yield from _containers(node[step], rest, f"{pointer}/{_pointer_part(step)}")


def _pointer_part(text: str) -> str:
    """One reference token of a JSON pointer (RFC 6901)."""
    return text.replace("~", "~0").replace("/", "~1")
