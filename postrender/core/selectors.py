"""Kubernetes label selectors: the string form (`a=b,c in (x,y),!d`) and the LabelSelector object.

Semantics follow k8s.io/apimachinery/pkg/labels (selector.go): `!=` and `notin` also match
objects that lack the key; an empty selector matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import NamedTuple

# Label keys: optional DNS-subdomain prefix, then a name of up to 63 characters.
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY_RE = re.compile(rf"^([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}$")
_VALUE_RE = re.compile(rf"^({_NAME})?$")
_TOKEN_RE = re.compile(r"\s*(==|!=|=|!|\(|\)|,|[^\s=!(),]+)")
_BLANK_RE = re.compile(r"\s*\Z")
_PUNCTUATION = frozenset({"==", "!=", "=", "!", "(", ")", ","})

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class SelectorError(ValueError):
    """A selector that Kubernetes would reject; the message says what is wrong."""


class Requirement(NamedTuple):
    key: str
    operator: str  # one of OPERATORS
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values

    def __str__(self) -> str:
        ordered = sorted(self.values)
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        if self.operator == "In":
            return f"{self.key}={ordered[0]}" if len(ordered) == 1 else f"{self.key} in ({','.join(ordered)})"
        return f"{self.key}!={ordered[0]}" if len(ordered) == 1 else f"{self.key} notin ({','.join(ordered)})"


class Selector(NamedTuple):
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(requirement.matches(labels) for requirement in self.requirements)

    def __str__(self) -> str:
        """The canonical string form, as kubectl's -l and kustomize's labelSelector accept it."""
        return ",".join(str(requirement) for requirement in self.requirements)


def _check_key(key: str) -> str:
    if not _KEY_RE.match(key):
        raise SelectorError(f"invalid label key {key!r}")
    return key


def _check_values(key: str, values: list[str]) -> frozenset[str]:
    for value in values:
        if not isinstance(value, str) or not _VALUE_RE.match(value):
            raise SelectorError(f"invalid label value {value!r} for key {key!r}")
    return frozenset(values)


def parse_string(text: str) -> Selector:
    """Parse Kubernetes' string form; raise SelectorError naming the offending part."""
    tokens = _tokenize(text)
    requirements: list[Requirement] = []
    position = 0

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise SelectorError(f"unexpected end of selector {text!r}")
        position += 1
        return tokens[position - 1]

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    while position < len(tokens):
        token = take()
        if token == "!":
            requirements.append(Requirement(_check_key(take()), "DoesNotExist"))
        else:
            key = _check_key(token)
            operator = peek()
            if operator in (None, ","):
                requirements.append(Requirement(key, "Exists"))
            elif operator in ("=", "==", "!="):
                take()
                # `a=` means the empty value (apimachinery pkg/labels/selector.go, parseExactValue)
                value = "" if peek() in (None, ",") else take()
                op = "NotIn" if operator == "!=" else "In"
                requirements.append(Requirement(key, op, _check_values(key, [value])))
            elif operator in ("in", "notin"):
                take()
                requirements.append(Requirement(key, "In" if operator == "in" else "NotIn", _parse_set(key, take, peek)))
            else:
                raise SelectorError(f"expected an operator after {key!r} in {text!r}, found {operator!r}")
        if peek() is not None and take() != ",":
            raise SelectorError(f"expected ',' between requirements in {text!r}")
        if peek() is None and tokens[-1] == ",":  # as apimachinery: a comma must be followed by a requirement
            raise SelectorError(f"expected a requirement after the last ',' in {text!r}")
    return Selector(tuple(requirements))


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(text):
        if _BLANK_RE.match(text, position):  # a match, not a slice: a 1 MB selector stays linear
            break
        match = _TOKEN_RE.match(text, position)
        if not match:  # pragma: no cover - the pattern matches any non-blank character
            raise SelectorError(f"cannot read selector {text!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def _parse_set(key: str, take: Callable[[], str], peek: Callable[[], str | None]) -> frozenset[str]:
    """The value set after in/notin, read as apimachinery reads it (pkg/labels/selector.go parseValues,
    parseIdentifiersList): `()` is the empty value, and commas stand for empty values with its quirks
    (`(a,)` holds a and "", `(,,)` is an error)."""
    if take() != "(":
        raise SelectorError(f"expected '(' after 'in'/'notin' for key {key!r}")
    if peek() == ")":
        take()
        return _check_values(key, [""])
    values: list[str] = []
    while True:
        token = take()
        if token == ",":
            if not values:
                values.append("")
            if peek() == ")":
                take()
                return _check_values(key, [*values, ""])
            if peek() == ",":
                take()
                values.append("")
        elif token in _PUNCTUATION:
            raise SelectorError(f"expected a value, ',' or ')' in the value set of {key!r}, found {token!r}")
        else:
            values.append(token)
            if peek() == ")":
                take()
                return _check_values(key, values)
            if peek() is None:
                take()  # raises: the selector ended inside the set
            if peek() != ",":
                raise SelectorError(f"expected ',' or ')' in the value set of {key!r}")


def from_object(value: Mapping) -> Selector:
    """Build a selector from a LabelSelector object (matchLabels, matchExpressions)."""
    unknown = set(value) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"unknown field {sorted(unknown)[0]!r}: a selector has matchLabels and matchExpressions")
    requirements: list[Requirement] = []
    match_labels = value.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels must be a mapping of label keys to values")
    for key, label_value in match_labels.items():
        requirements.append(Requirement(_check_key(str(key)), "In", _check_values(str(key), [label_value])))
    expressions = value.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise SelectorError("matchExpressions must be a list")
    for expression in expressions:
        requirements.append(_expression(expression))
    return Selector(tuple(requirements))


def _expression(expression: object) -> Requirement:
    if not isinstance(expression, Mapping):
        raise SelectorError("each matchExpressions entry must be a mapping with key, operator and values")
    unknown = set(expression) - {"key", "operator", "values"}
    if unknown:
        raise SelectorError(f"unknown field {sorted(unknown)[0]!r} in a matchExpressions entry")
    key = _check_key(str(expression.get("key", "")))
    operator = expression.get("operator")
    if operator not in OPERATORS:
        raise SelectorError(f"operator of {key!r} must be one of {', '.join(OPERATORS)}, not {operator!r}")
    values = expression.get("values") or []
    if not isinstance(values, list):
        raise SelectorError(f"values of {key!r} must be a list")
    if operator in ("In", "NotIn") and not values:
        raise SelectorError(f"operator {operator} of {key!r} needs at least one value")
    if operator in ("Exists", "DoesNotExist") and values:
        raise SelectorError(f"operator {operator} of {key!r} takes no values")
    return Requirement(key, operator, _check_values(key, values))
