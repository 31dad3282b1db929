"""JSON's surrogate-pair escapes (`"\\ud83d\\ude80"`), which libyaml refuses and kubectl reads.

JSON writes a character beyond U+FFFF as two escapes (Python's json.dumps does), and kubectl's
JSON reader reads them (encoding/json decode.go); libyaml refuses surrogates in an escape.
"""

from __future__ import annotations

import re
from collections.abc import Callable


def may_hold_pairs(text: str) -> bool:
    """Whether the text has surrogate-pair escapes and none of the stand-ins used for them."""
    return bool(_SURROGATE_PAIR.search(text)) and not _STAND_INS.search(text)


_SURROGATE_PAIR = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")
# Same-length stand-ins from the private use area (U+E800-U+EFFF), so every mark keeps its position.
_STAND_INS = re.compile(r"[\ue800-\uefff]|\\u[eE][89a-fA-F]")
_STAND_IN_PAIR = re.compile(r"([\ue800-\uebff])([\uec00-\uefff])")


def stand_in_pairs(text: str) -> tuple[str, Callable[[str], str]]:
    """The text with each pair written as a pair of private-use stand-ins of the same length, which
    libyaml accepts, and what turns a composed scalar's value back into the real character."""
    originals: dict[str, str] = {}

    def stand_in(match: re.Match[str]) -> str:
        replacement = f"\\ue{match.group(1)[1:]}\\ue{match.group(2)[1:]}"
        originals[replacement] = match.group(0)  # where it was no escape (a plain scalar), it stays as written
        return replacement

    replaced = _SURROGATE_PAIR.sub(stand_in, text)
    literal = re.compile("|".join(map(re.escape, originals)))

    def restore(value: str) -> str:
        return literal.sub(lambda match: originals[match.group(0)], _STAND_IN_PAIR.sub(_combine, value))

    return replaced, restore


def _combine(match: re.Match[str]) -> str:
    high, low = (ord(character) - 0x1000 for character in match.groups())  # back to the surrogates
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
