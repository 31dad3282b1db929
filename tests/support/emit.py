"""Write data as YAML text in the styles people and tools use: block with any indentation,
comments and quoting, anchors for shared objects, flow, JSON, and PyYAML's own dumps.

Every choice is drawn from hypothesis, so a failure shrinks to the smallest text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import yaml

Draw = Callable

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
_COMMENTS = ["# a comment", "# Source: not/this/one.yaml", "#", "# kind: Deployment"]


def _plain_is_string(text: str) -> bool:
    return bool(_PLAIN.match(text)) and yaml.safe_load(text) == text


class BlockEmitter:
    """Block style, written by hand so every styling choice can vary."""

    def __init__(self, draw: Draw, st, indent: int, indent_sequences: bool, comments: bool, alias_strings: bool = True):
        self.draw, self.st = draw, st
        self.alias_strings = alias_strings
        self.indent, self.indent_sequences, self.comments = indent, indent_sequences, comments
        self.anchors: dict[int, str] = {}
        self.seen: set[int] = set()
        self.shared: set[int] = set()
        # Strings written more than once: some get an anchor where first written and aliases after.
        self.repeats: dict[str, int] = {}
        self.string_anchors: dict[str, str | None] = {}  # string -> its anchor name (None: written out)
        self.aliased_strings = False

    def document(self, data: object) -> str:
        self._find_shared(data, set())
        if isinstance(data, dict) and data:
            lines = self.mapping(data, 0)
        elif isinstance(data, list) and data:
            lines = self.sequence(data, 0)
        else:
            lines = [self.scalar(data)]
        return "\n".join(lines) + "\n"

    def _find_shared(self, data: object, path: set[int]) -> None:
        if isinstance(data, str) and "\n" not in data:
            self.repeats[data] = self.repeats.get(data, 0) + 1
        if isinstance(data, (dict, list)):
            if id(data) in self.seen:
                self.shared.add(id(data))
                return
            self.seen.add(id(data))
            for key in data if isinstance(data, dict) else ():
                self._find_shared(key, path)
            for child in data.values() if isinstance(data, dict) else data:
                self._find_shared(child, path)

    def _string(self, value: object) -> str:
        """A scalar as written: a repeated string maybe `&sN text` where first written, `*sN` after."""
        if not isinstance(value, str) or self.repeats.get(value, 0) < 2 or not self.alias_strings:
            return self.scalar(value)
        if value not in self.string_anchors:
            anchored = self.draw(self.st.integers(0, 2)) == 0
            self.string_anchors[value] = f"s{len(self.string_anchors) + 1}" if anchored else None
            return f"&{self.string_anchors[value]} {self.scalar(value)}" if anchored else self.scalar(value)
        if self.string_anchors[value] is None:
            return self.scalar(value)
        self.aliased_strings = True
        return f"*{self.string_anchors[value]}"

    def _comment(self, pad: str) -> list[str]:
        if self.comments and self.draw(self.st.integers(0, 5)) == 0:
            return [self.draw(self.st.sampled_from([pad, ""])) + self.draw(self.st.sampled_from(_COMMENTS))]
        return []

    def _trailing(self) -> str:
        return "  # note" if self.comments and self.draw(self.st.integers(0, 6)) == 0 else ""

    def _prefix(self, value: object) -> tuple[str, bool]:
        """`&aN ` before a shared collection's first use; (`*aN`, True) at a later one."""
        if id(value) not in self.shared:
            return "", False
        if id(value) in self.anchors:
            return f"*{self.anchors[id(value)]}", True
        self.anchors[id(value)] = f"a{len(self.anchors) + 1}"
        return f"&{self.anchors[id(value)]} ", False

    def mapping(self, data: dict, column: int, first_comment: bool = True) -> list[str]:
        pad = " " * column
        lines: list[str] = []
        for position, (key, value) in enumerate(data.items()):
            if position or first_comment:
                lines += self._comment(pad)
            key_text = self._string(key)
            lines += self.entry(f"{pad}{key_text}{' ' * key_text.startswith('*')}:", value, column)
        return lines

    def entry(self, head: str, value: object, column: int) -> list[str]:
        if isinstance(value, (dict, list)) and value:
            prefix, is_alias = self._prefix(value)
            if is_alias:
                return [f"{head} {prefix}{self._trailing()}"]
            if isinstance(value, dict):
                return [f"{head} {prefix}".rstrip() + self._trailing()] + self.mapping(value, column + self.indent)
            inner = column + (self.indent if self.indent_sequences else 0)
            return [f"{head} {prefix}".rstrip() + self._trailing()] + self.sequence(value, inner)
        if isinstance(value, str) and "\n" in value and not value[0].isspace() and self.draw(self.st.booleans()):
            chomp = "" if value.endswith("\n") and not value.endswith("\n\n") else "-"
            if chomp == "-" and value.endswith("\n"):
                return [f"{head} {json.dumps(value)}"]
            body = [(" " * (column + self.indent) + line) if line else "" for line in value.rstrip("\n").split("\n")]
            return [f"{head} |{chomp}"] + body
        text = self._string(value)
        return [f"{head} {text}{self._trailing()}" if text else head]

    def sequence(self, data: list, column: int) -> list[str]:
        pad = " " * column
        lines: list[str] = []
        for item in data:
            lines += self._comment(pad)
            nested = isinstance(item, (dict, list)) and item and id(item) not in self.shared
            if nested:  # the first entry shares the dash's line: `- key: value`, `- - item`
                inner = self.mapping(item, column + 2, first_comment=False) if isinstance(item, dict) else self.sequence(item, column + 2)
                lines.append(pad + "- " + inner[0][column + 2 :])
                lines += inner[1:]
            else:
                lines += [line.replace(f"{pad}-:", f"{pad}-", 1) for line in self.entry(f"{pad}-:", item, column)]
        return lines

    def scalar(self, value: object) -> str:
        if value is None:
            return self.draw(self.st.sampled_from(["", "null", "~"]))
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, dict):
            return "{}"
        if isinstance(value, list):
            return "[]"
        style = self.draw(self.st.sampled_from(["plain", "single", "double"]))
        if style == "plain" and _plain_is_string(value):
            return value
        if style == "single" and "\n" not in value:
            return "'" + value.replace("'", "''") + "'"
        return json.dumps(value)


def flow(data: object, draw: Draw, st) -> str:
    """One-line or one-entry-per-line flow style, JSON-compatible quoting."""
    if draw(st.booleans()):
        return json.dumps(data, indent=draw(st.sampled_from([None, 2, 4]))) + "\n"
    return yaml.safe_dump(data, default_flow_style=True, width=draw(st.sampled_from([60, 10_000])), sort_keys=False)


def pyyaml_block(data: object, draw: Draw, st) -> str:
    """PyYAML's block dump (shared objects become &id001 anchors)."""
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False, width=10_000,
                          indent=draw(st.sampled_from([2, 4])), explicit_start=False)
