"""YAML anchors and aliases: which nodes stand in more than one place."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import Node

from postrender.core import yamlnodes


def shared_nodes(root: Node | None, text: str) -> set[int]:
    """Ids of the nodes that stand in more than one place (anchored and aliased), and of everything
    inside them: an edit there changes every place. Empty when the text has no alias."""
    if root is None or not yamlnodes.ALIAS.search(text):
        return set()
    references: dict[int, int] = {}
    pending, nodes = [root], {id(root): root}
    while pending:
        for child in yamlnodes.child_nodes(pending.pop()):
            references[id(child)] = references.get(id(child), 0) + 1
            if id(child) not in nodes:
                nodes[id(child)] = child
                pending.append(child)
    shared: set[int] = set()
    pending = [nodes[key] for key, count in references.items() if count > 1]
    while pending:
        node = pending.pop()
        if id(node) not in shared:
            shared.add(id(node))
            pending.extend(yamlnodes.child_nodes(node))
    return shared


def refuse_removed_anchors(text: str, removed: list[tuple[int, int]]) -> None:
    """Raise NodeError when text that an edit removes defines an anchor that an alias outside it
    still names: the output would name an anchor that no longer exists (go-yaml and libyaml refuse
    it), whatever node carried it (a key, a mapping, a value, in block or flow style)."""
    removed = [(start, end) for start, end in removed if end > start]
    if not removed or not yamlnodes.ALIAS.search(text):
        return
    from postrender.core import surrogates  # only here: few documents get this far

    if surrogates.may_hold_pairs(text):  # libyaml refuses them; the stand-ins keep every position
        text = surrogates.stand_in_pairs(text)[0]
    inside: dict[str, Any] = {}  # anchor name -> where the removed text defines it (a yaml Mark)
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        name, mark = getattr(event, "anchor", None), event.start_mark
        if name is None or mark is None:
            continue
        gone = any(start <= mark.index < end for start, end in removed)
        if isinstance(event, yaml.AliasEvent):
            if name in inside and not gone:
                defined = inside[name]
                lines = mark.line - defined.line
                where = "on the same line" if not lines else f"{lines} line{'s' * (lines > 1)} below"
                raise yamlnodes.NodeError(
                    f"the YAML anchor &{name} goes with the annotation the policy removes, but an alias {where} "
                    "still names it: write that value out in full, without the anchor", line=defined.line, column=defined.column)
        elif gone:
            inside[name] = mark
        else:
            inside.pop(name, None)  # redefined where it stays: later aliases name this one
