"""Safe composing of one YAML document into nodes, and small lookups on them.

Nodes keep their marks (positions), which the surgical edits need. Composing is guarded: the
C composer recurses per nesting level and crashes the interpreter on very deep input, and
aliases can make a small text stand for a huge tree (billion laughs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 1000  # Kubernetes objects nest a few dozen levels; this leaves ample room
MAX_EXPANDED_NODES = 1_000_000  # what a document may stand for once its aliases are expanded
# Below this many characters a document cannot hold MAX_EXPANDED_NODES nodes (at most about two
# per character); above it the nodes are counted on the event stream before any is built.
_COUNT_NODES_ABOVE = MAX_EXPANDED_NODES // 4



class _Loader(yaml.CSafeLoader):
    """libyaml's safe loader, with the tag resolution it calls back into Python for memoized.

    The C composer asks Resolver.resolve for every node (~15% of a run); the answer depends only
    on its arguments while no path resolvers are registered, and most values repeat.
    """

    _resolved: dict[tuple[type[Node], str | None, tuple[bool, bool] | bool], str] = {}

    def resolve(self, kind: type[Node], value: str | None, implicit: tuple[bool, bool] | bool) -> str:
        if value is not None and len(value) > 40:  # long values rarely repeat: not worth memory
            return super().resolve(kind, value, implicit)  # type: ignore[no-any-return, no-untyped-call]
        key = (kind, value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            if len(self._resolved) >= 10_000:  # a few MB at most, even on a stream of unique values
                self._resolved.clear()
            tag = self._resolved[key] = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return tag


assert not _Loader.yaml_path_resolvers, "tag resolution would depend on the path: no memoizing"
ALIAS = re.compile(r"\*[0-9A-Za-z_-]")  # libyaml accepts only these characters in anchor names
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
    if len(text) > _COUNT_NODES_ABOVE or _depth_bound(text) > MAX_DEPTH:
        _check_events(text)
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or "invalid YAML"
        if error.context:
            problem = f"{error.context}: {problem}" if "while" not in error.context else f"{problem} ({error.context})"
        raise NodeError(problem, line=mark.line if mark else None, column=mark.column if mark else None) from None
    except yaml.reader.ReaderError as error:  # a character YAML does not allow: no mark, a position
        before = text.encode("utf-8")[: error.position]  # libyaml counts bytes of UTF-8
        line = before.count(b"\n")
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace"))
        raise NodeError(f"{error.reason} (character #x{error.character:04x})", line=line, column=column) from None
    except yaml.YAMLError as error:  # e.g. "expected a single document"
        raise NodeError(str(error).splitlines()[0]) from None
    if root is not None and ALIAS.search(text):  # without an alias the tree is no larger than the text
        _check_expansion(root)
    return root


def _compose(text: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        from postrender.core import surrogates  # only here: most runs never meet one

        if "escape code" not in str(error.problem) or not surrogates.may_hold_pairs(text):
            raise
        replaced, restore = surrogates.stand_in_pairs(text)
        root = yaml.compose(replaced, Loader=_Loader)
        for node in each_node(root):
            if isinstance(node, ScalarNode):
                node.value = restore(node.value)
        return root


def _depth_bound(text: str) -> int:
    """A cheap upper bound of the nesting depth: flow brackets plus two levels per column."""
    flow = text.count("[") + text.count("{")
    if flow > MAX_DEPTH:
        return flow
    return flow + 2 * max(map(len, text.split("\n")))


def _check_events(text: str) -> None:
    """Measure depth and node count with libyaml's event parser, which neither recurses nor
    builds a tree: a 100 MB document of small nodes would take gigabytes once composed."""
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    assert mark is not None  # the parser marks every event
                    raise NodeError(f"nesting deeper than {MAX_DEPTH} levels", line=mark.line, column=mark.column)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                continue
            elif not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
                continue
            nodes += 1
            if nodes > MAX_EXPANDED_NODES:
                mark = event.start_mark
                assert mark is not None
                raise NodeError(f"the document has more than {MAX_EXPANDED_NODES:,} YAML nodes", line=mark.line, column=mark.column)
    except yaml.YAMLError:
        return  # composing reports the syntax error with its position


def _check_expansion(root: Node) -> None:
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # on the current path: meeting one again means an alias contains itself
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = child_nodes(node)
        if children_done or not children:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes.get(id(child), 0) for child in children)
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                raise NodeError(
                    f"YAML aliases expand this document to more than {MAX_EXPANDED_NODES:,} nodes "
                    "(an alias bomb?)",
                    node,
                )
        else:
            if id(node) in open_nodes:
                raise NodeError("a YAML alias refers to a node that contains it (a recursive alias)", node)
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)


def child_nodes(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge"))


def foreign_tag(root: Node | None) -> Node | None:
    """The first node with a tag beyond plain data (`!!python/...`, `!custom`, `!!binary`), if any."""
    return next((node for node in each_node(root) if node.tag not in _PLAIN_TAGS), None)


def each_node(root: Node | None) -> Iterator[Node]:
    """Every node once (an aliased one too), in document order, without recursion."""
    pending, seen = [root] if root is not None else [], set()
    while pending:
        node = pending.pop()
        if id(node) not in seen:
            seen.add(id(node))
            yield node
            pending.extend(reversed(child_nodes(node)))


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG)


def scalar_text(node: Node | None) -> str | None:
    """The text of a scalar that is not null; None otherwise."""
    if isinstance(node, ScalarNode) and node.tag != _NULL_TAG:
        return str(node.value)
    return None


def is_string(node: Node | None, value: str) -> bool:
    """True when the node is the YAML string `value` (a plain `true` is a boolean, not a string)."""
    return isinstance(node, ScalarNode) and node.tag == _STR_TAG and node.value == value


def entries(mapping: MappingNode) -> Iterator[tuple[ScalarNode, Node]]:
    """Key/value pairs as YAML constructors see them: the mapping's own keys (duplicates too,
    for lookup to report), then merged keys (`<<`) that no earlier source gave.

    An own key written before a `<<` that gives it too is an error: go-yaml (what Kubernetes
    reads with, sigs.k8s.io/yaml) lets the later one win, PyYAML and the YAML spec the own key.
    """
    seen: set[str] = set()
    before_merge: frozenset[str] | None = None
    for key, value in mapping.value:
        if key.tag == _MERGE_TAG:
            before_merge = frozenset(seen)
        else:
            seen.add(key.value if isinstance(key, ScalarNode) else "")
            yield key, value
    if before_merge is None:
        return
    for key, value in merged_entries(mapping):
        if not isinstance(key, ScalarNode):
            yield key, value
        elif key.value in before_merge:
            raise NodeError(f"key {key.value!r} comes before a merge key (<<) that also gives it: Kubernetes "
                            "reads the merged value, other YAML readers this one (write it after the <<)", key)
        elif key.value not in seen:
            seen.add(key.value)
            yield key, value


def merged_entries(mapping: MappingNode) -> Iterator[tuple[ScalarNode, Node]]:
    """The pairs the mapping's merge keys (`<<`) give, first source first; a key may come twice.

    Iterative, and each merged mapping is read once: merge chains and repeated aliases must
    not recurse nor multiply the work.
    """
    sources = [source for key, value in mapping.value if key.tag == _MERGE_TAG for source in _merge_sources(value)]
    pending = list(reversed(sources))
    visited: set[int] = set()
    while pending:
        source = pending.pop()
        if not isinstance(source, MappingNode) or id(source) in visited:
            continue
        visited.add(id(source))
        nested: list[Node] = []
        for key, value in source.value:
            if key.tag == _MERGE_TAG:
                nested.extend(_merge_sources(value))
            else:
                yield key, value
        pending.extend(reversed(nested))  # a source's own merges come before the next source


def merge_gives(mapping: Node | None, key: str) -> bool:
    """Whether a merge key (`<<`) of the mapping gives `key`, shadowed by an own key or not."""
    if not isinstance(mapping, MappingNode):
        return False
    return any(isinstance(node, ScalarNode) and node.value == key for node, _ in merged_entries(mapping))


def _merge_sources(value: Node) -> list[Node]:
    return list(value.value) if isinstance(value, SequenceNode) else [value]


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


def load(text: str) -> Any:
    """Plain data for one YAML document, with compose's guards (depth, aliases); NodeError otherwise.

    For YAML that comes from input (annotation values, repository files): yaml.load on it has no
    bound, and a billion-laughs string in one annotation would exhaust memory.
    """
    root = compose(text)
    return None if root is None else construct(root)


def construct(node: Node) -> Any:
    """Plain Python data for a node; raise NodeError where YAML data cannot be Python data.

    Unknown tags (`!foo`, `!!python/object/apply:...`) are read as the plain mapping, list or
    string they decorate: never looked up, never constructed into objects, never executed.
    The common tags take a direct path first: SafeConstructor spent ~30% of a post-render run
    on findings' pod templates. Anything else (merge keys, sets, binary, other tags, bad values)
    goes to the constructor, which gives the verdict and the error.
    """
    try:
        return _construct_common(node)
    except Exception:  # noqa: BLE001 - the full constructor decides, and reports
        return _construct_full(node)


def _construct_full(node: Node) -> Any:
    try:
        return _PlainConstructor().construct_document(node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as error:  # e.g. `!!int x`, `? [a]: b`
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        mark = mark or node.start_mark
        raise NodeError(problem, line=mark.line, column=mark.column) from None


class _PlainConstructor(yaml.constructor.SafeConstructor):
    def construct_untagged(self, tag_suffix: str, node: Node) -> Any:
        if isinstance(node, MappingNode):
            return self.construct_mapping(node)
        if isinstance(node, SequenceNode):
            return self.construct_sequence(node)
        assert isinstance(node, ScalarNode)
        return self.construct_scalar(node)


_PlainConstructor.add_multi_constructor("", _PlainConstructor.construct_untagged)


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


def _construct_common(root: Node) -> Any:
    """Without recursion (nesting may be deep); a node met twice (an alias) gives the same object."""
    made: dict[int, Any] = {}
    pending: list[tuple[Node, Any]] = []

    def value(node: Node) -> Any:
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
