"""Surgical edits of a document's own text: set or remove one annotation of a pod template.

The composed nodes give positions; the edit splices new text in at those positions, in the
document's style (block or flow, its indentation, its line ends), and leaves every other byte
alone. Setting an annotation adds one line, plus `annotations:`/`metadata:` lines when those
are missing; removing it removes its line (and a mapping that it leaves empty).
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from postrender.core import yamlnodes

_ALIAS_AFTER_KEY = re.compile(r"[ \t]*:(?:\s|#[^\n]*)*\*[^\s,\[\]{}]+")
_FIRST_CONTENT = re.compile(r"^(?!---|\.\.\.|%)[ \t]*([^\s#])", re.MULTILINE)
_LINE = re.compile(r"[^\n]*\n")
_NESTED_KEY = re.compile(r"^( *)[^\s#-][^\n]*:[ \t]*(?:#[^\n]*)?\r?\n( +)[^\s#-]", re.MULTILINE)


class EditError(ValueError):
    """The document has a shape we cannot edit safely; `node` gives the position."""

    def __init__(self, message: str, node: Node):
        super().__init__(message)
        self.message = message
        self.node = node


class Splice(NamedTuple):
    start: int
    end: int
    text: str


class DocumentText:
    """A document's text plus the style facts that new lines must follow."""

    def __init__(self, text: str):
        self.text = text
        self.newline = "\r\n" if "\r\n" in text else "\n"
        match = _NESTED_KEY.search(text)
        self.indent_step = max(len(match.group(2)) - len(match.group(1)), 1) if match else 2
        first = _FIRST_CONTENT.search(text)
        self.is_json = first is not None and first.group(1) in "{["  # JSON stays JSON: quoted keys

    def key(self, name: str) -> str:
        """A new key as this document writes keys in flow mappings."""
        return json.dumps(name) if self.is_json else name

    def apply(self, splices: list[Splice]) -> str:
        text = self.text
        for splice in sorted(splices, key=lambda s: (s.start, s.end), reverse=True):
            text = text[: splice.start] + splice.text + text[splice.end :]
        return text

    def line_after(self, position: int) -> int:
        """The start of the line after the one holding `position` (a position at a line start stays)."""
        if position > 0 and self.text[position - 1] == "\n":
            return position
        newline = self.text.find("\n", position)
        return len(self.text) if newline < 0 else newline + 1

    def line_start(self, position: int) -> int:
        return self.text.rfind("\n", 0, position) + 1


# Where a pod template keeps its annotations; pod metadata keeps them at ("annotations",), and a target
# that is not there yet is written from its parent (("podMetadata", "annotations")).
TEMPLATE_ANNOTATIONS = ("metadata", "annotations")


def set_annotation(doc: DocumentText, template: MappingNode, key: str, value: str,
                   at: tuple[str, ...] = TEMPLATE_ANNOTATIONS) -> list[Splice]:
    """Splices that make template.<at>[key] the string `value` (none if it is), creating what `at` needs."""
    try:
        return _set_annotation(doc, template, key, value, at)
    except EditError:
        if yamlnodes.is_string(yamlnodes.get(template, *at, key), value):
            return []  # what needs no edit is never refused
        raise


def _set_annotation(doc: DocumentText, template: MappingNode, key: str, value: str, at: tuple[str, ...]) -> list[Splice]:
    owner, path = template, list(at)
    while path:
        pair = _own_pair(owner, path[0])
        if pair is None:
            _refuse_merged(owner, path[0])
            return [_insert(doc, owner, path, key, value)]
        key_node, node = pair
        _refuse_shared(doc, key_node, node)
        if yamlnodes.is_null(node):
            return _fill_null(doc, owner, key_node, node, path[1:], key, value)
        if not isinstance(node, MappingNode):
            raise EditError(f"{path[0]} must be a mapping", node)
        owner, path = node, path[1:]
    pair = _own_pair(owner, key)
    if pair is None:
        _refuse_merged(owner, key)
        return [_insert(doc, owner, [], key, value)]
    key_node, node = pair
    _refuse_shared(doc, key_node, node)
    if yamlnodes.is_string(node, value):
        return []
    end = node.end_mark.index
    tail = doc.newline if isinstance(node, ScalarNode) and node.style in ("|", ">") else ""
    return [Splice(node.start_mark.index, end, _before_value(doc, key_node, node) + json.dumps(value) + tail)]


def remove_annotation(doc: DocumentText, template: MappingNode, key: str,
                      at: tuple[str, ...] = TEMPLATE_ANNOTATIONS) -> list[Splice]:
    """Splices that remove template.<at>[key], and the annotations it leaves empty."""
    chain: list[tuple[MappingNode, ScalarNode, Node]] = []
    owner: Node = template
    for step in (*at, key):
        if not isinstance(owner, MappingNode):
            return []
        pair = _own_pair(owner, step)
        if pair is None:
            if step == key and yamlnodes.lookup(owner, key) is not None:
                raise EditError(f"annotation {key} comes from a YAML merge key (<<) and cannot be removed", owner)
            return []
        chain.append((owner, *pair))
        owner = pair[1]
    for _, key_node, value_node in chain:
        _refuse_shared(doc, key_node, value_node)
    level = len(chain) - 1
    # Removing the only annotation removes `annotations:` too; `metadata:` stays, maybe empty
    # (null), which is how charts often render a template without labels.
    if len(chain[level][0].value) == 1:
        level -= 1
    mapping, key_node, value_node = chain[level]
    if yamlnodes.merge_gives(mapping, key_node.value):  # removing ours would bring the merged one to light
        raise EditError(f"{key_node.value} is also given by a YAML merge key (<<); cannot remove it in place", key_node)
    inner_key = chain[level + 1][1] if level + 1 < len(chain) else None
    return [_remove(doc, mapping, key_node, value_node, inner_key)]


def _own_pair(mapping: MappingNode, key: str) -> tuple[ScalarNode, Node] | None:
    yamlnodes.lookup(mapping, key)  # reports a duplicated key
    for key_node, value_node in mapping.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key and key_node.tag != "tag:yaml.org,2002:merge":
            return key_node, value_node
    return None


def _refuse_merged(mapping: MappingNode, key: str) -> None:
    """A key a merge key (`<<`) gives cannot get an own twin: one reader would keep one, another the other."""
    if yamlnodes.merge_gives(mapping, key):
        raise EditError(f"{key} comes from a YAML merge key (<<), which an own {key} would hide; "
                        "cannot add the annotation in place", mapping)


def _refuse_shared(doc: DocumentText, key_node: Node, node: Node) -> None:
    """Text reached through an alias is elsewhere, and not ours to edit alone. (An anchored node that
    an alias uses elsewhere is refused by the engine, which sees the whole document.)"""
    if node.start_mark.index < key_node.end_mark.index:
        raise EditError(f"{key_node.value} is shared through a YAML anchor/alias; cannot edit it in place", key_node)


def leaf_end(node: Node, doc: DocumentText | None = None) -> int:
    """Where the text of a node really ends (a block mapping's end mark runs past comments).

    With the document's text, an alias at the end is followed to its own end (`key: *name`) or
    refused (a list ending in one); without it (callers outside the edits), the key's end is used.
    """
    while not getattr(node, "flow_style", True) and node.value:
        last = node.value[-1]
        if isinstance(node, SequenceNode):
            if doc is not None and (last.start_mark.index < node.start_mark.index or any(last is item for item in node.value[:-1])):
                raise EditError("a list that ends with a YAML alias; cannot edit after it in place", node)
            node = last
            continue
        key_node, value_node = last
        if _is_alias(key_node, value_node):
            return key_node.end_mark.index if doc is None else _alias_end(doc, key_node)
        node = value_node
    return node.end_mark.index


def _pair_end(doc: DocumentText, key_node: Node, value_node: Node) -> int:
    """Where the text of a key/value pair ends."""
    return _alias_end(doc, key_node) if _is_alias(key_node, value_node) else leaf_end(value_node, doc)


def _is_alias(key_node: Node, value_node: Node) -> bool:
    """An alias value is the anchored node itself, whose marks lie before its key."""
    return value_node.start_mark.index < key_node.end_mark.index


def _alias_end(doc: DocumentText, key_node: Node) -> int:
    """The end of `: *name` after a key (an alias node's marks point at its anchor)."""
    match = _ALIAS_AFTER_KEY.match(doc.text, key_node.end_mark.index)
    if match is None:
        raise EditError("cannot find the end of a YAML alias; cannot edit in place", key_node)
    return match.end()


def _insert(doc: DocumentText, mapping: MappingNode, path: list[str], key: str, value: str) -> Splice:
    """A new entry: last in its mapping, but a template's new `metadata` goes first, where readers look."""
    first_key: int = mapping.value[0][0].start_mark.index if mapping.value else -1
    # (an alias key's marks lie at its anchor, elsewhere in the document)
    leading = path[:1] == ["metadata"] and first_key >= mapping.start_mark.index
    if mapping.flow_style:
        entry = _flow_entry(doc, path, key, value)
        if leading:
            return Splice(first_key, first_key, entry + ", ")
        return _insert_flow(doc, mapping, entry)
    indent = _block_indent(doc, mapping)
    lines = _block_lines(doc, indent, path, key, value)
    if leading and not doc.text[doc.line_start(first_key) : first_key].strip():
        return Splice(doc.line_start(first_key), doc.line_start(first_key), lines)
    position = doc.line_after(leaf_end(mapping, doc))
    if position == len(doc.text) and not doc.text.endswith("\n"):
        return Splice(position, position, doc.newline + lines[: -len(doc.newline)])
    return Splice(position, position, lines)


def _block_indent(doc: DocumentText, mapping: MappingNode) -> int:
    """The column of a block mapping's keys: where its first key written in place starts its entry
    (`? key` puts the key two columns right of the entry; an alias key's marks lie elsewhere)."""
    for key_node, _ in mapping.value:
        start = key_node.start_mark.index
        if start < mapping.start_mark.index:
            continue
        before = doc.text[doc.line_start(start) : start].rstrip(" \t")
        return len(before) - 1 if before.endswith("?") else key_node.start_mark.column
    raise EditError("a mapping whose keys are all YAML aliases; cannot edit it in place", mapping)


def _insert_flow(doc: DocumentText, mapping: MappingNode, entry: str) -> Splice:
    if not mapping.value:
        opening = doc.text.index("{", mapping.start_mark.index)
        return Splice(opening + 1, opening + 1, entry)
    last_key, last_value = mapping.value[-1]
    position = _pair_end(doc, last_key, last_value)
    if last_key.start_mark.line != mapping.start_mark.line:  # one entry per line: keep it so
        return Splice(position, position, f",{doc.newline}{' ' * last_key.start_mark.column}{entry}")
    return Splice(position, position, f", {entry}")


def _fill_null(doc: DocumentText, owner: MappingNode, key_node: ScalarNode, null: Node, path: list[str], key: str, value: str) -> list[Splice]:
    """`metadata:` or `annotations: null` becomes a mapping holding the annotation."""
    if owner.flow_style:
        return [Splice(null.start_mark.index, null.end_mark.index, _before_value(doc, key_node, null) + _flow_value(doc, path, key, value))]
    _refuse_explicit_key(doc, key_node)
    colon = doc.text.index(":", key_node.end_mark.index)
    splices = []
    if null.end_mark.index > colon + 1:
        splices.append(Splice(colon + 1, null.end_mark.index, ""))
    position = doc.line_after(max(colon + 1, null.end_mark.index))
    lines = _block_lines(doc, key_node.start_mark.column + doc.indent_step, path, key, value)
    if position == len(doc.text) and not doc.text.endswith("\n"):
        lines = doc.newline + lines[: -len(doc.newline)]
    splices.append(Splice(position, position, lines))
    return splices


def _before_value(doc: DocumentText, key_node: ScalarNode, value_node: Node) -> str:
    """What a value written over `value_node` needs in front: a key with no value (`key:`, or `{key}`
    in a flow mapping, as Helm renders an unset value) has no space or no colon after it."""
    start = value_node.start_mark.index
    if start != value_node.end_mark.index:
        return ""
    _refuse_explicit_key(doc, key_node)
    return " " if ":" in doc.text[key_node.end_mark.index : start] else ": "


def _refuse_explicit_key(doc: DocumentText, key_node: ScalarNode) -> None:
    """`? key` (YAML's explicit key) may have no `:` at all; its value cannot be written after the key."""
    start = key_node.start_mark.index
    if doc.text[max(start - 64, 0) : start].rstrip(" \t\r\n").endswith("?"):
        raise EditError(f"{key_node.value} is written as an explicit key (`? {key_node.value}`); cannot edit it in place", key_node)


def _remove(doc: DocumentText, mapping: MappingNode, key_node: ScalarNode, value_node: Node, inner_key: Node | None = None) -> Splice:
    if mapping.flow_style:
        pairs = mapping.value
        index = next(i for i, (k, _) in enumerate(pairs) if k is key_node)
        if index + 1 < len(pairs):
            return Splice(key_node.start_mark.index, pairs[index + 1][0].start_mark.index, "")
        if index > 0:
            return Splice(_pair_end(doc, *pairs[index - 1]), leaf_end(value_node, doc), "")
        return Splice(key_node.start_mark.index, leaf_end(value_node, doc), "")
    start = doc.line_start(key_node.start_mark.index)
    if doc.text[start : key_node.start_mark.index].strip():
        raise EditError(f"{key_node.value} does not start its own line; cannot remove it in place", key_node)
    return Splice(start, doc.line_after(leaf_end(value_node, doc)), _comment_lines(doc, key_node, inner_key))


def _comment_lines(doc: DocumentText, outer_key: Node, inner_key: Node | None) -> str:
    """The comment lines between a removed key and the one entry of its mapping: the user's, kept."""
    if inner_key is None:
        return ""
    region = doc.text[doc.line_after(outer_key.end_mark.index) : doc.line_start(inner_key.start_mark.index)]
    return "".join(line for line in _LINE.findall(region) if line.lstrip().startswith("#"))


def _block_lines(doc: DocumentText, indent: int, path: list[str], key: str, value: str) -> str:
    lines = [" " * (indent + depth * doc.indent_step) + f"{step}:" for depth, step in enumerate(path)]
    lines.append(" " * (indent + len(path) * doc.indent_step) + f"{key}: {json.dumps(value)}")
    return doc.newline.join(lines) + doc.newline


def _flow_entry(doc: DocumentText, path: list[str], key: str, value: str) -> str:
    if not path:
        return f"{doc.key(key)}: {json.dumps(value)}"
    return f"{doc.key(path[0])}: {_flow_value(doc, path[1:], key, value)}"


def _flow_value(doc: DocumentText, path: list[str], key: str, value: str) -> str:
    return "{" + _flow_entry(doc, path, key, value) + "}"
