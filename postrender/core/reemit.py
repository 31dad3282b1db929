"""Write a converted document back in the style of its own text.

A conversion moves whole containers, which no line edit can do, so the document is dumped again:
key order as in the data, the document's mapping indent and sequence style, JSON kept JSON, and
the comment lines before and after its body (`# Source:`, the `---` marker) kept verbatim.
Comments inside the body are lost: PyYAML drops them when it loads.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

import yaml
from yaml.nodes import Node

from postrender.core import podshape, yamlnodes

_DROPPED_TAGS = {
    "tag:yaml.org,2002:timestamp",  # keep `2024-01-01T00:00:00Z` a string, written back as it was
    "tag:yaml.org,2002:value",  # PyYAML's `=` scalar has no constructor: keep it a string
}


def _without_dropped_tags(resolvers: dict) -> dict:
    return {first: [(tag, rx) for tag, rx in entries if tag not in _DROPPED_TAGS] for first, entries in resolvers.items()}


class _Loader(yaml.CSafeLoader):
    """CSafeLoader that leaves timestamps as strings, so they survive a reload and dump unchanged."""


_Loader.yaml_implicit_resolvers = _without_dropped_tags(yaml.CSafeLoader.yaml_implicit_resolvers)


def load_document(text: str) -> Any:
    """The data of one YAML (or JSON) document, for a conversion that `reemit` writes back."""
    return yaml.load(text, Loader=_Loader)


class _Constructor(yaml.constructor.SafeConstructor):
    """Builds data from nodes composed elsewhere, leaving timestamps and `=` strings as written."""


for _tag in _DROPPED_TAGS:
    # types-PyYAML binds add_constructor's function to the subclass; a SafeConstructor method serves it all the same.
    _Constructor.add_constructor(_tag, yaml.constructor.SafeConstructor.construct_yaml_str)  # type: ignore[type-var]
# A plain `<<` anywhere but as a mapping key is the string "<<" to Kubernetes (go-yaml), and
# kube-inject writes it unquoted; PyYAML tags it as a merge key, which has no constructor.
_Constructor.add_constructor("tag:yaml.org,2002:merge", yaml.constructor.SafeConstructor.construct_yaml_str)  # type: ignore[type-var]


def construct(root: Node) -> tuple[Any, dict[int, Any]]:
    """The data of a composed document, and the object built for each node (by the node's id)."""
    constructor = _Constructor()
    try:
        data = constructor.construct_object(root, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as error:
        # The document is input: a tag with no plain-data meaning (`!true`, `!!int x`) or nesting
        # deeper than a deep construction can follow is an input error, not a crash.
        mark = getattr(error, "problem_mark", None) or root.start_mark
        problem = getattr(error, "problem", None) or type(error).__name__
        if isinstance(error, RecursionError):
            problem = "nested too deeply to convert"
        raise yamlnodes.NodeError(f"cannot read the document's data to convert it: {problem}", line=mark.line, column=mark.column) from None
    return data, {id(node): value for node, value in constructor.constructed_objects.items()}


class Style(NamedTuple):
    json: bool
    indent: int  # spaces per nested mapping level (JSON: per level, 0 = one line)
    indent_sequences: bool  # `key:\n  - item` rather than `key:\n- item`


_KEY_LINE = re.compile(r"^(?P<lead>\s*(?:- +)*)(?P<key>[^#\s-][^#]*?|-[^\s#][^#]*?):\s*(?:#.*)?$")


def detect_style(body: str) -> Style:
    """The layout of a document's body, from the first nested mapping and sequence it shows."""
    stripped = body.lstrip()
    if stripped.startswith(("{", "[")):
        lines = [line for line in body.splitlines() if line.strip()]
        json_indent = len(lines[1]) - len(lines[1].lstrip()) if len(lines) > 1 else 0
        return Style(json=True, indent=json_indent, indent_sequences=False)
    indent: int | None = None
    indent_sequences: bool | None = None
    lines = [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for line, following in zip(lines, lines[1:]):
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        key_column = len(match.group("lead"))
        next_column = len(following) - len(following.lstrip())
        if following.lstrip().startswith("- ") or following.strip() == "-":
            if indent_sequences is None:
                indent_sequences = next_column > key_column
        elif indent is None and next_column > key_column:
            indent = next_column - key_column
        if indent is not None and indent_sequences is not None:
            break
    return Style(json=False, indent=indent or 2, indent_sequences=bool(indent_sequences))


def split_document(text: str) -> tuple[str, str, str]:
    """(leading lines, body, trailing lines): comments, blank lines, `---`/`...` and directives around the body."""
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines) and _is_frame_line(lines[start]):
        start += 1
    end = len(lines)
    while end > start and _is_frame_line(lines[end - 1]):
        end -= 1
    return "".join(lines[:start]), "".join(lines[start:end]), "".join(lines[end:])


def _is_frame_line(line: str) -> bool:
    text = line.strip()
    if not text or text.startswith("#"):
        return True
    if line.startswith("%"):
        return True
    for marker in ("---", "..."):
        if line.startswith(marker) and (text == marker or text[3:4].isspace() and text[4:].lstrip().startswith("#")):
            return True
    return False


def reemit(original_text: str, data: Any) -> str:
    """`data` written in the style of `original_text`, with its surrounding comment lines kept."""
    leading, body, trailing = split_document(original_text)
    style = detect_style(body)
    newline = "\r\n" if "\r\n" in original_text else "\n"
    text = _dump_json(data, style, body) if style.json else _dump_yaml(data, style)
    if not body.endswith(("\n", "\r")) and not trailing:
        text = text.rstrip("\n")
    return leading + text.replace("\n", newline) + trailing


def _dump_json(data: Any, style: Style, body: str) -> str:
    if style.indent:
        text = json.dumps(data, indent=style.indent, ensure_ascii=False)
    else:
        compact = '":' in body.replace(" ", "") and '": ' not in body
        text = json.dumps(data, separators=(",", ":") if compact else (", ", ": "), ensure_ascii=False)
    return _NOT_YAML_TEXT.sub(_escape, text) + "\n"


# What JSON may hold raw but a YAML reader may not (go-yaml refuses DEL and C1 controls) or reads
# as a line break (NEL, LS, PS): Helm reads a JSON document with sigs.k8s.io/yaml.
_NOT_YAML_TEXT = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _dump_yaml(data: Any, style: Style) -> str:
    dumper = _IndentedSequenceDumper if style.indent_sequences else _Dumper
    return yaml.dump(
        data,
        Dumper=dumper,
        indent=style.indent,
        width=80,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
    )


_TYPED_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float", "null", "merge")}


def _represent_str(dumper: yaml.representer.SafeRepresenter, value: str) -> yaml.ScalarNode:
    """Quote like Kubernetes' own YAML: "double" where a plain scalar would read as another type,
    to Kubernetes (go-yaml) or to PyYAML."""
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    implicit = dumper.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[attr-defined]
    style = '"' if implicit in _TYPED_TAGS or podshape.go_yaml_reads_as_non_string(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _Dumper(yaml.CSafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # shared objects are written out in full, never as &id001 anchors


class _IndentedSequenceDumper(yaml.SafeDumper):
    """The pure-Python emitter: only it can indent a block sequence under its key."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


for _dumper_class in (_Dumper, _IndentedSequenceDumper):
    _dumper_class.yaml_implicit_resolvers = _without_dropped_tags(yaml.SafeDumper.yaml_implicit_resolvers)
    _dumper_class.add_representer(str, _represent_str)
