"""YAML anchors and aliases: which nodes stand in more than one place."""

from __future__ import annotations

from yaml.nodes import Node

from postrender.core import yamlnodes


def shared_nodes(root: Node | None, text: str) -> set[int]:
    """Ids of the nodes that stand in more than one place (anchored and aliased), and of everything
    inside them: an edit there changes every place. Empty when the text has no alias."""
    if root is None or not yamlnodes.has_alias(text):
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
