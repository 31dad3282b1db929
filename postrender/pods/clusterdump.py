"""Objects from what `kubectl get ... -o json` or `-o yaml` prints: a `List`, one object, or a stream.

The stream reader splits documents (so every error names the document and its line). A JSON
document is read with the json module (several times faster than YAML on the megabytes a
cluster dump holds); anything else, or JSON the json module refuses, goes through the guarded
YAML composer, which bounds depth and alias expansion for untrusted input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

from yaml.nodes import MappingNode, Node, SequenceNode

from postrender.core import yamlnodes
from postrender.core.errors import InputError, Location
from postrender.core.stream import Document, Source, read_documents
from postrender.core.workloads import is_list_kind


class DumpObject(NamedTuple):
    """One Kubernetes object of the dump, as plain data, and where it is."""

    data: dict
    location: Location

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    @property
    def metadata(self) -> dict:
        return self.data.get("metadata") or {}

    @property
    def namespace(self) -> str:
        return self.metadata.get("namespace") or ""

    @property
    def name(self) -> str:
        return self.metadata.get("name") or ""


def read_objects(source: Source, input_name: str) -> Iterator[DumpObject]:
    """Every object of the stream in order, `List` items in place of their list.

    kubectl prints a List even when nothing matches, so an input without any document is refused:
    it is what `kubectl get ... > cluster.json` leaves when kubectl fails, and reading it as an
    empty cluster would pass a `--fail-on-restart` gate."""
    empty = True
    for document in read_documents(source):
        location = Location(input_name, document.index, "", document.line)
        text = _decode(document, location)
        data = _load_json(text)
        if data is not _NOT_JSON:
            empty = empty and data is None
            yield from _objects(data, location)
            continue
        root = _compose(text, document, location)
        if root is not None:
            empty = False
            yield from _objects_from_node(root, document, location)
    if empty:
        raise InputError("no Kubernetes object in it: kubectl prints a List even when nothing matches; did the "
                         "`kubectl get` that wrote it fail?", Location(input_name))


_NOT_JSON = object()


def _load_json(text: str) -> Any:
    if not text.lstrip(" \t\r\n\ufeff").startswith("{"):
        return _NOT_JSON
    try:
        return json.loads(text.lstrip("\ufeff"))
    except (ValueError, RecursionError):  # flow-style YAML, or too deep: the YAML reader decides and locates
        return _NOT_JSON


def _objects(data: Any, location: Location) -> Iterator[DumpObject]:
    """From a whole JSON document: its items when it is a list, else itself."""
    if data is None:
        return
    _require_object(data, location)
    if is_list_kind(data["kind"]) and "items" in data:
        items = data["items"] or []
        if not isinstance(items, list):
            raise InputError(f"{data['kind']}: items is not a list", location)
        for position, item in enumerate(items, 1):
            _require_object(item, location, f"item {position} of the {data['kind']}")
            yield DumpObject(item, location)
    else:
        yield DumpObject(data, location)


def _objects_from_node(root: Node, document: Document, location: Location) -> Iterator[DumpObject]:
    """From a composed YAML document: list items are constructed one by one, each with its own line."""
    kind = yamlnodes.scalar_text(yamlnodes.get(root, "kind")) if isinstance(root, MappingNode) else None
    items = yamlnodes.get(root, "items") if kind and is_list_kind(kind) else None
    if not isinstance(items, SequenceNode):
        yield from _objects(_construct(root, document, location), _at(location, document, root))
        return
    for position, item in enumerate(items.value, 1):
        where = _at(location, document, item)
        data = _construct(item, document, where)
        _require_object(data, where, f"item {position} of the {kind}")
        yield DumpObject(data, where)


def _require_object(data: object, location: Location, what: str = "the document") -> None:
    if not isinstance(data, dict):
        raise InputError(f"{what} is not a Kubernetes object (a mapping)", location)
    if not isinstance(data.get("kind"), str) or not data["kind"]:
        raise InputError(f"{what} has no kind", location)
    if not isinstance(data.get("apiVersion", ""), str):
        raise InputError(f"{what}: apiVersion is not a string", location)
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InputError(f"{what}: metadata is not a mapping", location)
    for key in ("name", "namespace"):
        value = (metadata or {}).get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{what}: metadata.{key} is not a string", location)


def _decode(document: Document, location: Location) -> str:
    try:
        return document.raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = document.line + document.raw[: error.start].count(b"\n")
        raise InputError(f"not UTF-8: byte 0x{document.raw[error.start]:02x} cannot be decoded",
                         location._replace(line=line)) from None


def _compose(text: str, document: Document, location: Location) -> Node | None:
    try:
        return yamlnodes.compose(text.lstrip("\ufeff"))
    except yamlnodes.NodeError as error:
        raise _node_error(error, document, location) from None


def _construct(node: Node, document: Document, location: Location) -> Any:
    try:
        return yamlnodes.construct(node)
    except yamlnodes.NodeError as error:
        raise _node_error(error, document, location) from None


def _node_error(error: yamlnodes.NodeError, document: Document, location: Location) -> InputError:
    line = location.line if error.line is None else document.line + error.line
    column = None if error.column is None else error.column + 1
    return InputError(error.message, location._replace(line=line, column=column))


def _at(location: Location, document: Document, node: Node) -> Location:
    return location._replace(line=document.line + node.start_mark.line)
