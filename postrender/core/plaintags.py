"""The tag PyYAML's Resolver gives a plain scalar, for the scalars whose tag needs none of its patterns.

yaml.resolver.Resolver tags a plain scalar by the regular expressions registered for its first
character (YAML 1.1's bool, float, int, merge, null, timestamp, value and yaml). Compiling those took
more of a small chart's run than composing it (valgrind, docs/performance.md), yet most scalars of a
manifest are words and numbers whose tag is plain to see: `name`, `true`, `80`, `100m`. `tag_of`
gives the tag of those and None for the rest, which the Resolver decides. It reasons from the
patterns below (PyYAML 6, resolver.py), and yamlnodes uses it only while the Resolver has exactly
these first characters and tags; tests/test_plaintags.py checks it against the Resolver.
"""

from __future__ import annotations

_TAG = "tag:yaml.org,2002:"
STR, BOOL, INT, FLOAT, NULL = (_TAG + name for name in ("str", "bool", "int", "float", "null"))
# The Resolver's table: first character -> tags tried in order ("" is the empty scalar).
RESOLVER_TABLE = {
    **{first: ["bool"] for first in "yYtTfFoO"},
    **{first: ["bool", "null"] for first in "nN"},
    **{first: ["float", "int"] for first in "-+"},
    **{first: ["float", "int", "timestamp"] for first in "0123456789"},
    ".": ["float"], "<": ["merge"], "~": ["null"], "": ["null"], "=": ["value"], "!": ["yaml"], "&": ["yaml"], "*": ["yaml"],
}
# bool: ^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$
_BOOL_WORDS = frozenset("yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF".split())
_NULL_WORDS = frozenset(["null", "Null", "NULL"])  # null: ^(?: ~ |null|Null|NULL | )$ (verbose: ~, the words, "")
_AFTER_SIGN = frozenset("0123456789.")
_EXACT = {"<<": _TAG + "merge", "=": _TAG + "value", "!": _TAG + "yaml", "&": _TAG + "yaml", "*": _TAG + "yaml",
          "~": NULL}


def tag_of(value: str) -> str | None:
    """The tag of this plain scalar, or None: the Resolver must match it."""
    if "\n" in value:  # `$` also matches before a final line break; a plain scalar never ends with one
        return None
    if not value:
        return NULL
    first = value[0]
    if first not in RESOLVER_TABLE:
        return STR
    if first in "yYnNtTfFoO":  # the bool and null patterns are whole words
        return BOOL if value in _BOOL_WORDS else NULL if value in _NULL_WORDS else STR
    if first in "<=!&*~":  # patterns that match one string each
        return _EXACT.get(value, STR)
    if first in "-+":  # float and int: a sign is followed by a digit or `.` (`-.inf`); not so: `--flag=x`
        return None if value[1:2] in _AFTER_SIGN else STR
    if first in "123456789" and value.isascii() and value.replace(".", "").isalnum():
        # Digits, letters and dots after a digit other than 0 (`80`, `100m`, `1.5`, `1.29.3`). int is
        # [1-9][0-9_]* (`:` for base 60, 0b/0x/0 octal start with 0); float is [0-9][0-9_]*\.[0-9_]*
        # ([eE][-+][0-9]+ needs a sign; the other forms need `:`, a sign or a leading `.`); a timestamp needs `-`.
        dots, digits = value.count("."), value.replace(".", "").isdigit()
        return (INT if digits else STR) if dots == 0 else FLOAT if dots == 1 and digits else STR
    return INT if value == "0" else None
