"""Safe composing of one YAML document into nodes, and small lookups on them.

Nodes keep their marks (positions), which the surgical edits need. Composing is guarded: the
C composer recurses per nesting level and crashes the interpreter on very deep input, and
aliases can make a small text stand for a huge tree (billion laughs).
"""

from __future__ import annotations

import re
from typing import Iterator

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 1000  # Kubernetes objects nest a few dozen levels; this leaves ample room
MAX_EXPANDED_NODES = 1_000_000  # what a document may stand for once its aliases are expanded



class _Loader(yaml.CSafeLoader):
    """libyaml's safe loader, with the tag resolution it calls back into Python for memoized.

    The C composer asks Resolver.resolve for every node (~15% of a run); the answer depends only
    on its arguments while no path resolvers are registered, and most values repeat.
    """

    _resolved: dict = {}

    def resolve(self, kind, value, implicit):
        if value is not None and len(value) > 40:  # long values rarely repeat: not worth memory
            return super().resolve(kind, value, implicit)
        key = (kind, value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            if len(self._resolved) >= 10_000:  # a few MB at most, even on a stream of unique values
                self._resolved.clear()
            tag = self._resolved[key] = super().resolve(kind, value, implicit)
        return tag


assert not _Loader.yaml_path_resolvers, "tag resolution would depend on the path: no memoizing"
_ALIAS = re.compile(r"\*[0-9A-Za-z_-]")  # libyaml accepts only these characters in anchor names
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class NodeError(ValueError):
    """Something wrong with the YAML itself; `node` (when known) gives the position."""

    def __init__(self, message: str, node: Node | None = None, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        if node is not None:
            line, column = node.start_mark.line, node.start_mark.column
        self.line = line  # 0-based, relative to the composed text
        self.column = column


def compose(text: str) -> Node | None:
    """Compose one document (None when it has no content); raise NodeError on bad or hostile YAML."""
    if _depth_bound(text) > MAX_DEPTH:
        _check_depth(text)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or "invalid YAML"
        if error.context:
            problem = f"{error.context}: {problem}" if "while" not in error.context else f"{problem} ({error.context})"
        raise NodeError(problem, line=mark.line if mark else None, column=mark.column if mark else None) from None
    except yaml.YAMLError as error:  # e.g. "expected a single document"
        raise NodeError(str(error).splitlines()[0]) from None
    if root is not None and _ALIAS.search(text):  # without an alias the tree is no larger than the text
        _check_expansion(root)
    return root


def _depth_bound(text: str) -> int:
    """A cheap upper bound of the nesting depth: flow brackets plus two levels per column."""
    flow = text.count("[") + text.count("{")
    if flow > MAX_DEPTH:
        return flow
    return flow + 2 * max(map(len, text.split("\n")))


def _check_depth(text: str) -> None:
    """Measure the depth with libyaml's event parser, which does not recurse."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise NodeError(f"nesting deeper than {MAX_DEPTH} levels", line=mark.line, column=mark.column)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return  # composing reports the syntax error with its position


def _check_expansion(root: Node) -> None:
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done or not children:
            sizes[id(node)] = 1 + sum(sizes.get(id(child), 0) for child in children)
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                raise NodeError(
                    f"YAML aliases expand this document to more than {MAX_EXPANDED_NODES:,} nodes "
                    "(an alias bomb?)",
                    node,
                )
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG)


def scalar_text(node: Node | None) -> str | None:
    """The text of a scalar that is not null; None otherwise."""
    if isinstance(node, ScalarNode) and node.tag != _NULL_TAG:
        return node.value
    return None


def is_string(node: Node | None, value: str) -> bool:
    """True when the node is the YAML string `value` (a plain `true` is a boolean, not a string)."""
    return isinstance(node, ScalarNode) and node.tag == _STR_TAG and node.value == value


def entries(mapping: MappingNode) -> Iterator[tuple[ScalarNode, Node]]:
    """Key/value pairs, merge keys (`<<`) resolved the way YAML constructors do."""
    for key, value in mapping.value:
        if key.tag == _MERGE_TAG:
            for source in value.value if isinstance(value, SequenceNode) else [value]:
                if isinstance(source, MappingNode):
                    yield from entries(source)
        else:
            yield key, value


def lookup(mapping: Node | None, key: str) -> tuple[ScalarNode, Node] | None:
    """The (key node, value node) of `key` in a mapping; None when absent or not a mapping.

    A key given twice is an error: Kubernetes would silently keep one of them.
    """
    if not isinstance(mapping, MappingNode):
        return None
    found = None
    for key_node, value_node in entries(mapping):
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            if found is not None:
                raise NodeError(f"duplicate key {key!r}", key_node)
            found = (key_node, value_node)
    return found


def get(mapping: Node | None, *path: str) -> Node | None:
    """The value node at a path of keys, or None when any step is absent."""
    node = mapping
    for key in path:
        pair = lookup(node, key)
        if pair is None:
            return None
        node = pair[1]
    return node


def string_map(node: Node | None) -> dict[str, str]:
    """A mapping of scalars as text (labels, annotations); other shapes give an empty map."""
    if not isinstance(node, MappingNode):
        return {}
    result: dict[str, str] = {}
    for key_node, value_node in entries(node):
        if isinstance(key_node, ScalarNode):
            if key_node.value in result:
                raise NodeError(f"duplicate key {key_node.value!r}", key_node)
            result[key_node.value] = scalar_text(value_node) or ""
    return result


def construct(node: Node):
    """Plain Python data for a node (safe tags only), as SafeConstructor builds it.

    SafeConstructor spends most of a post-render run on findings' pod templates; the common tags
    take a direct path, anything else (merge keys, sets, binary, bad values) the constructor itself.
    """
    try:
        return _construct_common(node)
    except Exception:  # noqa: BLE001 - the real constructor gives the verdict, and the error
        return yaml.constructor.SafeConstructor().construct_document(node)


class _Uncommon(Exception):
    pass


_SAFE = yaml.constructor.SafeConstructor()
_SCALARS = {
    _STR_TAG: lambda node: node.value,
    _NULL_TAG: lambda node: None,
    "tag:yaml.org,2002:bool": lambda node: _SAFE.bool_values[node.value.lower()],
    "tag:yaml.org,2002:int": _SAFE.construct_yaml_int,
    "tag:yaml.org,2002:float": _SAFE.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": _SAFE.construct_yaml_timestamp,
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_VALUE_TAG = "tag:yaml.org,2002:value"


def _construct_common(root: Node):
    """Without recursion (nesting may be deep); a node met twice (an alias) gives the same object."""
    made: dict[int, object] = {}
    pending: list[tuple[Node, object]] = []

    def value(node: Node):
        if type(node) is ScalarNode:
            if node.tag not in _SCALARS:
                raise _Uncommon
            return _SCALARS[node.tag](node)
        if id(node) not in made:
            if type(node) is MappingNode and node.tag == _MAP_TAG:
                made[id(node)] = {}
            elif type(node) is SequenceNode and node.tag == _SEQ_TAG:
                made[id(node)] = []
            else:
                raise _Uncommon
            pending.append((node, made[id(node)]))
        return made[id(node)]

    result = value(root)
    while pending:
        node, data = pending.pop()
        if isinstance(data, list):
            data.extend(value(item) for item in node.value)
            continue
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode or key_node.tag in (_MERGE_TAG, _VALUE_TAG):
                raise _Uncommon
            data[value(key_node)] = value(value_node)
    return result
