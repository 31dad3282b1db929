"""The policy's shell globs in RE2 syntax, for the readers that run Go's regexp instead of ours.

Kustomize targets (the Flux translation) and CEL's `matches()` (the admission policy) both take
RE2. The policy itself matches globs with Python's fnmatch (policy.py); tests hold the two readings
equal (tests/test_patches.py against fnmatch, tests/test_admission_cluster.py on the API server).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def escape(text: str) -> str:
    """Quote RE2 (Go regexp) metacharacters; `-`, `/` and letters stay as they are, for readability."""
    return _RE2_SPECIAL.sub(r"\\\1", text)


def glob_to_regex(pattern: str) -> str:
    """A shell glob as the policy reads it (fnmatch: *, ?, [seq], [!seq]) in RE2 syntax, unanchored.

    Python's fnmatch.translate is not usable: it emits (?s:…)\\Z and atomic groups, which Go's
    regexp rejects.
    """
    out: list[str] = []
    index, length = 0, len(pattern)
    while index < length:
        char = pattern[index]
        index += 1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = index + (pattern[index : index + 1] == "!")
            end += pattern[end : end + 1] == "]"
            end = pattern.find("]", end)
            if end < 0:
                out.append(r"\[")
                continue
            members, index = pattern[index:end], end + 1
            negate = members.startswith("!")
            members = (members[1:] if negate else members).replace("\\", "\\\\").replace("[", "\\[")
            if members.startswith("^"):
                members = "\\" + members
            out.append("[" + ("^" if negate else "") + members + "]")
        else:
            out.append(escape(char))
    return "".join(out)


def whole_match(patterns: Iterable[str]) -> str:
    """One RE2 regex that matches a whole string when any of the globs does, newlines included
    (fnmatch's `*` and `?` match them too), for an unanchored matcher such as CEL's `matches()`."""
    return "^(?s:" + "|".join(f"(?:{glob_to_regex(pattern)})" for pattern in patterns) + ")$"
