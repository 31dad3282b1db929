"""Reader and writer of a KRM ResourceList, keeping its text: unwrap the items, wrap them again.

kustomize and kpt write the list in block style with `items:` at column 0 and one `- ` line
per item, so the items are found by their lines, as the stream splitter finds documents,
and only the rest of the list (apiVersion, kind, functionConfig) is parsed: composing a list
that carries a chart's CRDs would cost seconds. Any other layout (JSON, flow style) is composed.
Each item becomes a document at column 0 for the engine; its edited text goes back in its place,
every other byte of the list unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from yaml.nodes import MappingNode, Node, SequenceNode

from postrender.core import yamlnodes
from postrender.core.errors import InputError, Location
from postrender.core.textedit import DocumentText, Splice, leaf_end

API_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1beta1")
INPUT = "<ResourceList>"
_TOP_KEY = re.compile(r"^(?![\s#\-{\[]|\.\.\.|---)([^:\n]+?)[ \t]*:(?=[ \t]|\r?$)", re.MULTILINE)
_CONTENT = re.compile(r"^([ \t]*)([^\s#]|#)", re.MULTILINE)


class Item(NamedTuple):
    start: int  # its first character (after `- ` in block style)
    end: int
    column: int  # the column its content sits at


class ResourceList(NamedTuple):
    text: str
    items: list[Item]
    function_config: str  # its text, padded so that line numbers are those of the list ("" when there is none)
    results: tuple[int, int] | None  # span of an existing top-level `results` entry
    flow: bool  # JSON or flow style: results are written as a JSON member


def read(text: str) -> ResourceList:
    keys = _top_keys(text)
    if "items" in keys and not text.lstrip().startswith(("{", "[")):
        found = _read_block(text, keys)
        if found is not None:
            return found
    return _read_composed(text)


def document(resource_list: ResourceList, item: Item) -> str:
    """The item as a document at column 0, ending with a newline."""
    body = " " * item.column + resource_list.text[item.start : item.end]
    lines = [line[min(item.column, len(line) - len(line.lstrip(" "))) :] for line in body.splitlines(keepends=True)]
    result = "".join(lines)
    return result if result.endswith("\n") else result + "\n"


def write(resource_list: ResourceList, documents: list[str], results_text: str) -> str:
    """The list with each item's text replaced by its (edited) document, and `results` set."""
    text = resource_list.text
    splices = []
    for item, edited in zip(resource_list.items, documents):
        if edited == document(resource_list, item):
            continue  # untouched: not even a comment's indentation may change
        original = text[item.start : item.end]
        lines = edited.splitlines(keepends=True)
        new = "".join(lines[:1] + [(" " * item.column + line) if line.strip() else line for line in lines[1:]])
        if not original.endswith("\n"):
            new = new[:-1]
        if new != original:
            splices.append(Splice(item.start, item.end, new))
    if resource_list.results is not None:
        splices.append(Splice(*resource_list.results, ""))
    if results_text:
        splices.append(_results_splice(resource_list, results_text))
    return DocumentText(text).apply(splices)


def item_node(resource_list: ResourceList, item: Item) -> Node | None:
    """The item composed on its own (for the names a result points at); None if it cannot be."""
    try:
        return yamlnodes.compose(document(resource_list, item))
    except yamlnodes.NodeError:
        return None


def _results_splice(resource_list: ResourceList, results_text: str) -> Splice:
    text = resource_list.text
    if resource_list.flow:  # one more member before the closing brace
        closing = text.rindex("}")
        return Splice(closing, closing, f', "results": {results_text}')
    return Splice(len(text), len(text), ("" if text.endswith("\n") or not text else "\n") + results_text)


def _top_keys(text: str) -> dict[str, int]:
    keys: dict[str, int] = {}
    for match in _TOP_KEY.finditer(text):
        keys.setdefault(match.group(1).strip("\"'"), match.start())
    return keys


def _read_block(text: str, keys: dict[str, int]) -> ResourceList | None:
    """Items found by their lines; None when the layout is not the usual one (then compose)."""
    starts = sorted(keys.values())
    items_key = keys["items"]
    region_start = text.find("\n", items_key) + 1 or len(text)
    later = [start for start in starts if start > items_key]
    region_end = later[0] if later else len(text)
    if text[items_key:region_start].split(":", 1)[1].split("#", 1)[0].strip():
        return None  # `items: []` or a flow list on the key's line
    items = _block_items(text, region_start, region_end)
    if items is None:
        return None
    skeleton = text[:region_start] + text[region_end:]
    root = _root(skeleton)
    items_line = text.count("\n", 0, region_start)  # the skeleton's lines from here on moved up by:
    removed_lines = text.count("\n", region_start, region_end)

    def original(position: int) -> int:
        return position if position < region_start else position + region_end - region_start

    function_config = _function_config(skeleton, root, lambda line: line + (removed_lines if line >= items_line else 0))
    results = _results_span(skeleton, root)
    if results is not None:
        results = (original(results[0]), original(results[1]))
    return ResourceList(text, items, function_config, results, flow=False)


def _block_items(text: str, start: int, end: int) -> list[Item] | None:
    first = _CONTENT.search(text, start, end)
    if first is None:
        return []
    indent = len(first.group(1))
    if first.group(2) != "-":
        return None
    dash = re.compile(rf"^ {{{indent}}}-(?=[ \t]|\r?$)", re.MULTILINE)
    dashes = [match.start() for match in dash.finditer(text, start, end)]
    items = []
    for index, line_start in enumerate(dashes):
        item_end = dashes[index + 1] if index + 1 < len(dashes) else end
        first_char = _first_content(text, line_start + indent + 1, item_end)
        if first_char is None:
            return None
        column = first_char - (text.rfind("\n", 0, first_char) + 1)
        if column <= indent:
            return None
        items.append(Item(first_char, item_end, column))
    return items


def _first_content(text: str, position: int, end: int) -> int | None:
    """The first character that is not blank, on the rest of this line or the lines after."""
    rest_of_line = re.compile(r"[ \t]*([^\s])").match(text, position, end)
    if rest_of_line is not None:
        return rest_of_line.start(1)
    later = _CONTENT.search(text, position, end)
    return None if later is None else later.start(2)


def _read_composed(text: str) -> ResourceList:
    root = _root(text)
    node = yamlnodes.get(root, "items")
    items: list[Item] = []
    if node is not None and not yamlnodes.is_null(node):
        if not isinstance(node, SequenceNode):
            raise InputError("items must be a list", Location(INPUT, line=node.start_mark.line + 1))
        for item in node.value:
            if not isinstance(item, MappingNode):
                raise InputError("each item must be an object", Location(INPUT, line=item.start_mark.line + 1))
            end = item.end_mark.index if item.flow_style else DocumentText(text).line_after(leaf_end(item))
            items.append(Item(item.start_mark.index, end, 0 if item.flow_style else item.start_mark.column))
    return ResourceList(text, items, _function_config(text, root, lambda line: line), _results_span(text, root), root.flow_style)


def _root(text: str) -> MappingNode:
    try:
        root = yamlnodes.compose(text)
    except yamlnodes.NodeError as error:
        line = None if error.line is None else error.line + 1
        raise InputError(error.message, Location(INPUT, line=line)) from None
    kind = yamlnodes.scalar_text(yamlnodes.get(root, "kind")) if isinstance(root, MappingNode) else None
    api_version = yamlnodes.scalar_text(yamlnodes.get(root, "apiVersion")) if isinstance(root, MappingNode) else None
    if kind != "ResourceList" or api_version not in API_VERSIONS:
        raise InputError(f"stdin must be a ResourceList ({' or '.join(API_VERSIONS)}), not {api_version}/{kind}",
                         Location(INPUT, line=1))
    assert isinstance(root, MappingNode)
    return root


def _function_config(text: str, root: MappingNode, line_of: Callable[[int], int]) -> str:
    node = yamlnodes.get(root, "functionConfig")
    if node is None or yamlnodes.is_null(node):
        return ""  # optional to the KRM functions spec; the function says what it needs, in a result
    start = node.start_mark
    end = node.end_mark.index if getattr(node, "flow_style", True) else DocumentText(text).line_after(leaf_end(node))
    return "\n" * line_of(start.line) + " " * start.column + text[start.index : end]


def _results_span(text: str, root: MappingNode) -> tuple[int, int] | None:
    pair = yamlnodes.lookup(root, "results")
    if pair is None:
        return None
    if root.flow_style:
        raise InputError("a flow-style ResourceList must not carry results already", Location(INPUT))
    doc = DocumentText(text)
    return doc.line_start(pair[0].start_mark.index), doc.line_after(leaf_end(pair[1]))
