"""Tell, without parsing, that a document cannot hold a workload, so it passes through untouched.

Most bytes of a chart are CRDs and RBAC; parsing them would dominate the run. A kind is
trusted only when the document is a block mapping at column 0 with exactly one `kind:` key at
column 0 and a plain value. Anything unusual (flow or JSON documents, indented documents,
tags, anchors, merge keys, quoted or complex keys at column 0, content on the `---` line, line
breaks other than LF and CRLF) is unknown and gets parsed, so a workload is never skipped.
"""

from __future__ import annotations

import re

NO_KIND = b""  # an empty or comment-only document, or a mapping with no top-level kind


class _LineStart:
    """A pattern at the start of any line: a search for it after a newline, and a match on the first
    line with a newline put before it. The leading literal newline lets the regex engine skip ahead
    instead of trying every position of a 200 kB CRD (a MULTILINE `^` pattern is several times slower),
    and one compiled pattern serves both (a second costs start-up 0.5 to 0.9 M instructions). The
    patterns stay within a line, so the first line alone matches as it does in the document."""

    def __init__(self, pattern: bytes):
        self.after_newline = re.compile(b"\n" + pattern)

    def _at_start(self, data: bytes) -> re.Match[bytes] | None:
        end = data.find(b"\n")
        return self.after_newline.match(b"\n" + (data if end < 0 else data[:end]))

    def search(self, data: bytes) -> bool:
        return self._at_start(data) is not None or self.after_newline.search(data) is not None

    def findall(self, data: bytes) -> list[bytes]:
        first = self._at_start(data)
        return ([first.group(1)] if first else []) + self.after_newline.findall(data)


_KIND_KEY = rb"kind[ \t]*:([^\n]*)"
_KIND_VALUE = re.compile(rb"[ \t]*([A-Za-z0-9][A-Za-z0-9_.-]*)(?:[ \t]+#.*)?\r?")
# Lines whose first column could hide a top-level key from the patterns above.
# A byte order mark after `---` hides the key behind it from these patterns, but not from every parser.
_UNUSUAL = rb"(?:[?!&*{\[\"'%@`|><\t]|\xef\xbb\xbf|---[ \t]+[^#\s])"
_KIND_KEY_LINES = _LineStart(_KIND_KEY)
_UNUSUAL_LINES = _LineStart(_UNUSUAL)
_CONTENT = re.compile(rb"^(?!(?:---|\.\.\.)(?:[ \t\r\n]|$))[ \t]*[^\s#]", re.MULTILINE)


def has_other_line_breaks(raw: bytes) -> bool:
    """Whether lines also break at CR, NEL, LS or PS: YAML 1.1 readers (libyaml, go-yaml's
    scannerc.go is_break) break lines there too, so a key can start a line the patterns cannot see."""
    # Single bytes first (memchr: several times faster than a regex or a longer pattern, and this
    # runs on every document); the UTF-8 sequences only when their last byte is there.
    if b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n"):
        return True
    if b"\x85" in raw and b"\xc2\x85" in raw:
        return True
    return (b"\xa8" in raw or b"\xa9" in raw) and (b"\xe2\x80\xa8" in raw or b"\xe2\x80\xa9" in raw)


def sniff_kind(raw: bytes) -> bytes | None:
    """The document's top-level kind when it is certain (NO_KIND when there is none), else None."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if has_other_line_breaks(raw):
        return None
    if _UNUSUAL_LINES.search(raw):  # first: content on the `---` line is the only content _CONTENT skips
        return None
    first = _CONTENT.search(raw)
    if first is None:
        return NO_KIND
    if raw[first.start()] in b" \t":
        return None
    keys = _KIND_KEY_LINES.findall(raw)
    if len(keys) != 1:
        return None if keys else NO_KIND
    value = _KIND_VALUE.fullmatch(keys[0])
    return value.group(1) if value else None
