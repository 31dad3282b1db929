"""Surgical edits of a document's own text: set or remove annotations of a pod template.

The composed nodes give positions; the edit splices new text in at those positions, in the
document's style (block or flow, its indentation, its line ends), and leaves every other byte
alone. Setting an annotation adds one line, plus `annotations:`/`metadata:` lines when those
are missing; removing it removes its line (and a mapping that it leaves empty, except pod metadata that a
schema may require: Spark's `driver` keeps `annotations: {}` rather than becoming null). Several
annotations at once (Linkerd's keys, core/meshes.py) are edited so that no two splices overlap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from postrender.core import yamlnodes
from postrender.core.lazyre import compiled_on_use
from postrender.core.typed import NamedTuple

_ALIAS_AFTER_KEY = compiled_on_use(r"[ \t]*:(?:\s|#[^\n]*)*\*[^\s,\[\]{}]+")
_FIRST_CONTENT = re.compile(r"^(?!---|\.\.\.|%)[ \t]*([^\s#])", re.MULTILINE)
_LINE = compiled_on_use(r"[^\n]*\n")
_FLOW_SEPARATOR = compiled_on_use(r"(?:\s|#[^\n]*)*,[ \t]*")  # for removing from a flow mapping
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
        return _json_string(name) if self.is_json else name

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


Entries = Sequence[tuple[str, str]]
# Where a pod template keeps its annotations; pod metadata keeps them at ("annotations",), and a target
# that is not there yet is written from its parent (("podMetadata", "annotations")).
TEMPLATE_ANNOTATIONS = ("metadata", "annotations")


def set_annotation(doc: DocumentText, template: MappingNode, key: str, value: str,
                   at: tuple[str, ...] = TEMPLATE_ANNOTATIONS) -> list[Splice]:
    """Splices that make template.<at>[key] the string `value` (none if it is)."""
    return edit_annotations(doc, template, ((key, value),), (), at)


def remove_annotation(doc: DocumentText, template: MappingNode, key: str,
                      at: tuple[str, ...] = TEMPLATE_ANNOTATIONS) -> list[Splice]:
    """Splices that remove template.<at>[key], and the annotations it leaves empty."""
    return edit_annotations(doc, template, (), (key,), at)


def edit_annotations(doc: DocumentText, template: MappingNode, setting: Entries, removing: Sequence[str],
                     at: tuple[str, ...] = TEMPLATE_ANNOTATIONS, keep_holder: bool = False) -> list[Splice]:
    """Splices that give template.<at> (its metadata.annotations by default) these string values and take
    these keys out (none if it is so already), creating the mappings `at` needs. What is removed leaves
    no `annotations:` empty, unless it was all its holder held and `keep_holder`: then it stays, `{}`,
    so that the holder stays a mapping (an emptied block mapping would read as null); new entries go in
    together."""
    if not setting:
        return _remove_annotations(doc, template, removing, at, keep_holder)
    try:
        return _set_annotations(doc, template, setting, removing, at)
    except EditError:
        annotations = yamlnodes.get(template, *at)
        if (all(yamlnodes.is_string(yamlnodes.get(annotations, key), value) for key, value in setting)
                and not any(yamlnodes.get(annotations, key) is not None for key in removing)):
            return []  # what needs no edit is never refused
        raise


def _set_annotations(doc: DocumentText, template: MappingNode, setting: Entries, removing: Sequence[str],
                     at: tuple[str, ...]) -> list[Splice]:
    owner, path = template, list(at)
    while path:
        pair = _own_pair(owner, path[0])
        if pair is None:
            _refuse_merged(owner, path[0])
            return [_insert(doc, owner, path, setting)]
        key_node, node = pair
        _refuse_shared(doc, key_node, node)
        if yamlnodes.is_null(node):
            return _fill_null(doc, owner, key_node, node, path[1:], setting)
        if not isinstance(node, MappingNode):
            raise EditError(f"{path[0]} must be a mapping", node)
        owner, path = node, path[1:]
    splices: list[Splice] = []
    missing: list[tuple[str, str]] = []
    for key, value in setting:
        pair = _own_pair(owner, key)
        if pair is None:
            _refuse_merged(owner, key)
            missing.append((key, value))
            continue
        key_node, node = pair
        _refuse_shared(doc, key_node, node)
        if not yamlnodes.is_string(node, value):
            tail = doc.newline if isinstance(node, ScalarNode) and node.style in ("|", ">") else ""
            splices.append(Splice(node.start_mark.index, node.end_mark.index,
                                  _before_value(doc, key_node, node) + _json_string(value) + tail))
    dropped = _dropped_pairs(doc, owner, removing)
    if missing and owner.flow_style and dropped and len(dropped) == len(owner.value):
        # every entry goes and new ones come: one splice for the mapping's whole content
        start, end = dropped[0][0].start_mark.index, leaf_end(dropped[-1][1], doc)
        return splices + [Splice(start, end, _flow_entries(doc, [], missing))]
    splices += _remove_entries(doc, owner, dropped)
    if missing:
        splices.append(_insert(doc, owner, [], missing))
    return splices


def _remove_annotations(doc: DocumentText, template: MappingNode, removing: Sequence[str],
                        at: tuple[str, ...], keep_holder: bool) -> list[Splice]:
    chain: list[tuple[MappingNode, ScalarNode, Node]] = []
    owner: Node = template
    for step in at:
        if not isinstance(owner, MappingNode):
            return []
        pair = _own_pair(owner, step, alias_ok=True)  # only what is removed must be written in place
        if pair is None:
            return []
        chain.append((owner, *pair))
        owner = pair[1]
    if not isinstance(owner, MappingNode):
        return []
    dropped = _dropped_pairs(doc, owner, removing)
    if not dropped:
        return []
    for _, key_node, value_node in chain:
        _refuse_shared(doc, key_node, value_node)
    if len(dropped) < len(owner.value):
        return _remove_entries(doc, owner, dropped)
    # Removing every annotation removes `annotations:` too; `metadata:` stays, maybe empty (null),
    # which is how charts often render a template without labels.
    mapping, key_node, value_node = chain[-1]
    _refuse_alias_key(mapping, key_node)  # the line to remove is where the alias is written, not its marks
    if yamlnodes.merge_gives(mapping, key_node.value):  # removing ours would bring the merged one to light
        raise EditError(f"{key_node.value} is also given by a YAML merge key (<<); cannot remove it in place", key_node)
    if keep_holder and len(mapping.value) == 1:
        return [_emptied(doc, key_node, value_node, dropped)]
    return [_remove(doc, mapping, key_node, value_node, dropped)]


def _emptied(doc: DocumentText, key_node: ScalarNode, value_node: Node, inner: Sequence[tuple[Node, Node]]) -> Splice:
    """`annotations: {}` in place of the mapping's value (its comment lines kept)."""
    if getattr(value_node, "flow_style", False):
        return Splice(value_node.start_mark.index, leaf_end(value_node, doc), "{}")
    colon = doc.text.index(":", key_node.end_mark.index)
    return Splice(colon + 1, doc.line_after(leaf_end(value_node, doc)), " {}" + doc.newline + _comment_lines(doc, key_node, inner))


def _dropped_pairs(doc: DocumentText, annotations: MappingNode, removing: Sequence[str]) -> list[tuple[ScalarNode, Node]]:
    """The annotations' own entries for these keys, in the mapping's order."""
    dropped = []
    for key in removing:
        pair = _own_pair(annotations, key)
        if pair is None:
            if yamlnodes.lookup(annotations, key) is not None:
                raise EditError(f"annotation {key} comes from a YAML merge key (<<) and cannot be removed", annotations)
            continue
        _refuse_shared(doc, *pair)
        dropped.append(pair)
    order = {id(key_node): index for index, (key_node, _) in enumerate(annotations.value)}
    return sorted(dropped, key=lambda pair: order[id(pair[0])])


def _remove_entries(doc: DocumentText, mapping: MappingNode, dropped: list[tuple[ScalarNode, Node]]) -> list[Splice]:
    """Splices that take these entries out of a mapping that keeps others; a flow mapping's adjacent
    entries go in one splice, so that no two splices overlap."""
    if not mapping.flow_style:
        return [_remove(doc, mapping, key_node, value_node) for key_node, value_node in dropped]
    gone = {id(key_node) for key_node, _ in dropped}
    pairs = mapping.value
    splices = []
    index = 0
    while index < len(pairs):
        if id(pairs[index][0]) not in gone:
            index += 1
            continue
        last = index
        while last + 1 < len(pairs) and id(pairs[last + 1][0]) in gone:
            last += 1
        if last + 1 < len(pairs) and alias_keys(mapping)[last + 1]:  # the next key's marks lie at its anchor
            separator = _FLOW_SEPARATOR.match(doc.text, _pair_end(doc, mapping, last))
            assert separator is not None  # a flow entry that another follows ends with a comma
            splices.append(Splice(pairs[index][0].start_mark.index, separator.end(), ""))
        elif last + 1 < len(pairs):
            splices.append(Splice(pairs[index][0].start_mark.index, pairs[last + 1][0].start_mark.index, ""))
        elif index > 0:
            splices.append(Splice(_pair_end(doc, mapping, index - 1), leaf_end(pairs[last][1], doc), ""))
        else:
            splices.append(Splice(pairs[0][0].start_mark.index, leaf_end(pairs[last][1], doc), ""))
        index = last + 1
    return splices


def _own_pair(mapping: MappingNode, key: str, alias_ok: bool = False) -> tuple[ScalarNode, Node] | None:
    yamlnodes.lookup(mapping, key)  # reports a duplicated key
    for key_node, value_node in mapping.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key and key_node.tag != "tag:yaml.org,2002:merge":
            if not alias_ok:
                _refuse_alias_key(mapping, key_node)
            return key_node, value_node
    return None


def _refuse_alias_key(mapping: MappingNode, key_node: Node) -> None:
    """A key written as an alias has the marks of its anchor: no position here to edit at."""
    for (node, _), is_alias in zip(mapping.value, alias_keys(mapping)):
        if node is key_node and is_alias:
            raise EditError(f"{key_node.value} is written as a YAML alias (*name) of an anchor elsewhere; cannot edit "
                            "its value in place (write the key out)", mapping)


def alias_keys(mapping: MappingNode) -> list[bool]:
    """Per entry, whether its key is a YAML alias (`*name : value`)."""
    return [key for key, _ in written_as_aliases(mapping)]


def written_as_aliases(mapping: MappingNode) -> list[tuple[bool, bool]]:
    """Per entry, whether its key and its value are written as YAML aliases. An alias node is the
    anchored node itself, whose marks lie where the anchor is, before the place the alias is written;
    the places of a mapping's own entries only grow."""
    cursor = mapping.start_mark.index
    found = []
    for key_node, value_node in mapping.value:
        key = key_node.start_mark.index < cursor
        if not key:
            cursor = key_node.end_mark.index
        value = value_node.start_mark.index < cursor
        if not value:
            cursor = max(cursor, value_node.end_mark.index)
        found.append((key, value))
    return found


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
        if doc is None:
            if _is_alias(key_node, value_node):
                return int(key_node.end_mark.index)
        elif isinstance(node, MappingNode) and written_as_aliases(node)[-1][1]:
            return _pair_end(doc, node, len(node.value) - 1)  # the end of `key: *name`, or a refusal
        node = value_node
    return int(node.end_mark.index)


def _pair_end(doc: DocumentText, mapping: MappingNode, index: int) -> int:
    """Where the text of a mapping's entry ends."""
    key_node, value_node = mapping.value[index]
    key_is_alias, value_is_alias = written_as_aliases(mapping)[index]
    if not value_is_alias:
        return leaf_end(value_node, doc)
    if key_is_alias:  # `*a : *b`: neither node's marks say where this entry is written
        raise EditError("an entry whose key and value are both YAML aliases of anchors elsewhere; cannot edit "
                        "next to it in place", mapping)
    return _alias_end(doc, key_node)


def _is_alias(key_node: Node, value_node: Node) -> bool:
    """An alias value is the anchored node itself, whose marks lie before its key."""
    return value_node.start_mark.index < key_node.end_mark.index


def _alias_end(doc: DocumentText, key_node: Node) -> int:
    """The end of `: *name` after a key (an alias node's marks point at its anchor)."""
    match = _ALIAS_AFTER_KEY.match(doc.text, key_node.end_mark.index)
    if match is None:
        raise EditError("cannot find the end of a YAML alias; cannot edit in place", key_node)
    return match.end()


def _insert(doc: DocumentText, mapping: MappingNode, path: list[str], entries: Entries) -> Splice:
    """A new entry: last in its mapping, but a template's new `metadata` goes first, where readers look."""
    first_key: int = mapping.value[0][0].start_mark.index if mapping.value else -1
    leading = path[:1] == ["metadata"] and bool(mapping.value) and not alias_keys(mapping)[0]
    if mapping.flow_style:
        entry = _flow_entries(doc, path, entries)
        if leading:
            return Splice(first_key, first_key, entry + ", ")
        return _insert_flow(doc, mapping, entry)
    indent = _block_indent(doc, mapping)
    lines = _block_lines(doc, indent, path, entries)
    if leading and not doc.text[doc.line_start(first_key) : first_key].strip():
        return Splice(doc.line_start(first_key), doc.line_start(first_key), lines)
    position = doc.line_after(leaf_end(mapping, doc))
    if position == len(doc.text) and not doc.text.endswith("\n"):
        return Splice(position, position, doc.newline + lines[: -len(doc.newline)])
    return Splice(position, position, lines)


def _block_indent(doc: DocumentText, mapping: MappingNode) -> int:
    """The column of a block mapping's keys: where its first key written in place starts its entry
    (`? key` puts the key two columns right of the entry; an alias key's marks lie elsewhere)."""
    for (key_node, _), is_alias in zip(mapping.value, alias_keys(mapping)):
        if is_alias:
            continue
        start = key_node.start_mark.index
        before = doc.text[doc.line_start(start) : start].rstrip(" \t")
        return len(before) - 1 if before.endswith("?") else key_node.start_mark.column
    raise EditError("a mapping whose keys are all YAML aliases of anchors elsewhere; cannot edit it in place", mapping)


def _insert_flow(doc: DocumentText, mapping: MappingNode, entry: str) -> Splice:
    if not mapping.value:
        opening = doc.text.index("{", mapping.start_mark.index)
        return Splice(opening + 1, opening + 1, entry)
    last_key = mapping.value[-1][0]
    position = _pair_end(doc, mapping, len(mapping.value) - 1)
    if doc.line_start(position) != doc.line_start(mapping.start_mark.index):  # one entry per line: keep it so
        return Splice(position, position, f",{doc.newline}{' ' * last_key.start_mark.column}{entry}")
    return Splice(position, position, f", {entry}")


def _fill_null(doc: DocumentText, owner: MappingNode, key_node: ScalarNode, null: Node, path: list[str], entries: Entries) -> list[Splice]:
    """`metadata:` or `annotations: null` becomes a mapping holding the annotation."""
    if owner.flow_style:
        return [Splice(null.start_mark.index, null.end_mark.index, _before_value(doc, key_node, null) + _flow_value(doc, path, entries))]
    _refuse_explicit_key(doc, key_node)
    colon = doc.text.index(":", key_node.end_mark.index)
    splices = []
    if null.end_mark.index > colon + 1:
        splices.append(Splice(colon + 1, null.end_mark.index, ""))
    position = doc.line_after(max(colon + 1, null.end_mark.index))
    lines = _block_lines(doc, key_node.start_mark.column + doc.indent_step, path, entries)
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


def _remove(doc: DocumentText, mapping: MappingNode, key_node: ScalarNode, value_node: Node,
            inner: Sequence[tuple[Node, Node]] = ()) -> Splice:
    if mapping.flow_style:
        return _remove_entries(doc, mapping, [(key_node, value_node)])[0]
    start = doc.line_start(key_node.start_mark.index)
    if doc.text[start : key_node.start_mark.index].strip():
        raise EditError(f"{key_node.value} does not start its own line; cannot remove it in place", key_node)
    return Splice(start, doc.line_after(leaf_end(value_node, doc)), _comment_lines(doc, key_node, inner))


def _comment_lines(doc: DocumentText, outer_key: Node, inner: Sequence[tuple[Node, Node]]) -> str:
    """The comment lines around the entries of a removed key's mapping (all of them go): the user's, kept."""
    kept = []
    after = doc.line_after(outer_key.end_mark.index)
    for key_node, value_node in inner:
        region = doc.text[after : doc.line_start(key_node.start_mark.index)]
        kept += [line for line in _LINE.findall(region) if line.lstrip().startswith("#")]
        after = doc.line_after(leaf_end(value_node, doc))
    return "".join(kept)


def _block_lines(doc: DocumentText, indent: int, path: list[str], entries: Entries) -> str:
    lines = [" " * (indent + depth * doc.indent_step) + f"{step}:" for depth, step in enumerate(path)]
    lines += [" " * (indent + len(path) * doc.indent_step) + f"{key}: {_json_string(value)}" for key, value in entries]
    return doc.newline.join(lines) + doc.newline


def _flow_entries(doc: DocumentText, path: list[str], entries: Entries) -> str:
    if not path:
        return ", ".join(f"{doc.key(key)}: {_json_string(value)}" for key, value in entries)
    return f"{doc.key(path[0])}: {_flow_value(doc, path[1:], entries)}"


def _flow_value(doc: DocumentText, path: list[str], entries: Entries) -> str:
    return "{" + _flow_entries(doc, path, entries) + "}"


def _json_string(value: str) -> str:
    """What json.dumps writes for a str. Most values need no escape; the others load _json, without the
    rest of json (5 M instructions of start-up), and only then (a library load, 0.4 M)."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    try:
        from _json import encode_basestring_ascii
    except ImportError:  # pragma: no cover - not CPython
        from json import dumps as encode_basestring_ascii
    return encode_basestring_ascii(value)
