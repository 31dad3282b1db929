"""Kubernetes label selectors: the string form (`a=b,c in (x,y),!d`) and the LabelSelector object.

Semantics follow k8s.io/apimachinery/pkg/labels (selector.go): `!=` and `notin` also match
objects that lack the key; an empty selector matches everything.
"""

from __future__ import annotations

import re  # only for Gt and Lt
from collections.abc import Mapping

from postrender.core.typed import NamedTuple

# Label keys and values (k8s.io/apimachinery/pkg/util/validation validation.go: IsQualifiedName,
# IsDNS1123Subdomain, IsValidLabelValue), checked by hand: as patterns, they cost 3 M instructions to
# compile, 3% of a post-render run (docs/performance.md).
_ALPHANUMERIC = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_CHARACTERS = _ALPHANUMERIC | frozenset("-_.")  # qualifiedNameFmt's middle
_DNS_ALPHANUMERIC = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_DNS_CHARACTERS = _DNS_ALPHANUMERIC | frozenset("-")  # dns1123LabelFmt's middle
# labels.Parse's lexer (pkg/labels/selector.go): whitespace is space, tab, CR, LF; an operator is the
# longest run of =!()<>, that is a token; anything else up to those is an identifier.
_BLANKS = frozenset(" \t\r\n")
_ONE_CHARACTER_SYMBOLS = frozenset("=!(),<>")
_IDENTIFIER_ENDS = _BLANKS | _ONE_CHARACTER_SYMBOLS
_KEYWORDS = ("in", "notin")  # operators after a key, identifiers everywhere else
_SYMBOLS = frozenset(["==", "!=", "=", "!", "(", ")", ",", "<", ">"])

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")  # a LabelSelector object's (metav1)
# The string form also has Gt and Lt (`replicas>2`): an integer label compared with an integer.


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
        if self.operator in ("Gt", "Lt"):
            number, limit = _integer(labels.get(self.key)), _integer(next(iter(self.values)))
            if number is None or limit is None:
                return False
            return number > limit if self.operator == "Gt" else number < limit
        return not present or labels[self.key] not in self.values

    def __str__(self) -> str:
        ordered = sorted(self.values)
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        if self.operator in ("Gt", "Lt"):
            return f"{self.key}{'>' if self.operator == 'Gt' else '<'}{ordered[0]}"
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


def _integer(text: str | None) -> int | None:
    """strconv.ParseInt(text, 10, 64)."""
    if text is None or not re.fullmatch(r"[-+]?[0-9]+", text):
        return None
    number = int(text)
    return number if -(1 << 63) <= number < (1 << 63) else None


def _is_name(text: str) -> bool:
    """A qualified name's name part, or a label value: 1-63 characters, alphanumeric at both ends."""
    return (0 < len(text) <= 63 and text[0] in _ALPHANUMERIC and text[-1] in _ALPHANUMERIC
            and all(character in _NAME_CHARACTERS for character in text))


def _is_dns_subdomain(text: str) -> bool:
    return 0 < len(text) <= 253 and all(
        label and label[0] in _DNS_ALPHANUMERIC and label[-1] in _DNS_ALPHANUMERIC
        and all(character in _DNS_CHARACTERS for character in label)
        for label in text.split("."))


def _check_key(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if not _is_name(name) or slash and not _is_dns_subdomain(prefix):
        raise SelectorError(f"invalid label key {key!r}")
    return key


def _check_values(key: str, values: list[str]) -> frozenset[str]:
    for value in values:
        if not isinstance(value, str) or value and not _is_name(value):
            raise SelectorError(f"invalid label value {value!r} for key {key!r}")
    return frozenset(values)


def parse_string(text: str) -> Selector:
    """Parse Kubernetes' string form as labels.Parse does; raise SelectorError naming the offending part."""
    return _Parser(text).selector()


def _is_identifier(token: str | None) -> bool:
    return token is not None and token not in _SYMBOLS


class _Parser:
    """labels.Parse's grammar over the tokens of one selector."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.position = 0

    def take(self) -> str | None:
        self.position += 1
        return self.tokens[self.position - 1] if self.position <= len(self.tokens) else None

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def end(self) -> SelectorError:
        return SelectorError(f"unexpected end of selector {self.text!r}")

    def selector(self) -> Selector:
        requirements: list[Requirement] = []
        while self.position < len(self.tokens):
            requirements.append(self.requirement())
            separator = self.take()
            if separator is None:
                break
            if separator != ",":
                raise SelectorError(f"expected ',' between requirements in {self.text!r}, found {separator!r}")
            following = self.peek()
            if not _is_identifier(following) and following != "!":
                raise SelectorError(f"expected a requirement after ',' in {self.text!r}")
        return Selector(tuple(requirements))

    def requirement(self) -> Requirement:
        negated = self.peek() == "!"
        if negated:
            self.take()
        key = self.take()
        if key is None:
            raise self.end()
        if not _is_identifier(key):
            raise SelectorError(f"expected a label key in {self.text!r}, found {key!r}")
        _check_key(key)
        if negated or self.peek() in (None, ","):
            return Requirement(key, "DoesNotExist" if negated else "Exists")
        operator = self.take()
        if operator in _KEYWORDS:
            return Requirement(key, "In" if operator == "in" else "NotIn", _check_values(key, self.value_set(key)))
        if operator not in ("=", "==", "!=", ">", "<"):
            raise SelectorError(f"expected an operator after {key!r} in {self.text!r}, found {operator!r}")
        # An exact value may be empty (`app=`, `app!=`): the requirement ends there.
        value = "" if self.peek() in (None, ",") else self.take()
        if value != "" and not _is_identifier(value):
            raise SelectorError(f"expected a value after {key}{operator} in {self.text!r}, found {value!r}")
        assert value is not None
        if operator in (">", "<"):
            if _integer(value) is None:
                raise SelectorError(f"the value of {key}{operator} must be an integer, not {value!r}")
            return Requirement(key, "Gt" if operator == ">" else "Lt", _check_values(key, [value]))
        return Requirement(key, "NotIn" if operator == "!=" else "In", _check_values(key, [value]))

    def value_set(self, key: str) -> list[str]:
        """`(a, b)`; empty entries are the empty value: `()`, `(a,)`, `(,a)` and `(a,,b)` all hold ""."""
        if self.take() != "(":
            raise SelectorError(f"expected '(' after 'in'/'notin' for key {key!r}")
        if ")" not in self.tokens[self.position :]:
            raise self.end()
        close = self.tokens.index(")", self.position)
        inside, self.position = self.tokens[self.position : close], close + 1
        values: list[str] = []
        entry: list[str] = []
        for token in [*inside, ","]:
            if token != ",":
                entry.append(token)
            elif len(entry) > 1 or entry and entry[0] in _SYMBOLS:
                raise SelectorError(f"expected a value, ',' or ')' in the value set of {key!r}, found {' '.join(entry)!r}")
            else:
                values.append(entry[0] if entry else "")
                entry = []
        return values


def _tokenize(text: str) -> list[str]:
    """labels.Parse's lexer: `==` and `!=`, one symbol, or the longest identifier, after blanks."""
    tokens: list[str] = []
    position, end = 0, len(text)
    while True:
        while position < end and text[position] in _BLANKS:
            position += 1
        if position == end:
            return tokens
        start = position
        if text[position] in _ONE_CHARACTER_SYMBOLS:
            position += 2 if text[position : position + 2] in ("==", "!=") else 1
        else:
            while position < end and text[position] not in _IDENTIFIER_ENDS:
                position += 1
        tokens.append(text[start:position])


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
