"""Bytes to documents and back, without parsing: a document's raw bytes are kept exactly.

A document starts at a `---` line or after a `...` line (YAML's markers are only markers at
column 0, even inside scalars). Only complete lines are split, so a marker is never cut in two
by a read, and memory is bounded by the largest document.
"""

from __future__ import annotations

import re
from typing import BinaryIO, Iterator, NamedTuple

BOM = b"\xef\xbb\xbf"
READ_SIZE = 1 << 20
_MARKER = re.compile(rb"^(?:(---)|\.\.\.)(?=[ \t\r\n]|$)", re.MULTILINE)
# The same after a newline: a leading literal lets the regex engine skip ahead instead of trying
# every position (5-10x faster on CRD-heavy charts).
_MARKER_AFTER_NEWLINE = re.compile(rb"\n(?:(---)|\.\.\.)(?=[ \t\r\n]|$)")
_SOURCE = re.compile(rb"^# Source: (.+?)\r?$", re.MULTILINE)


class Document(NamedTuple):
    index: int  # 1-based position in the stream
    raw: bytes  # exactly as read, marker line included
    line: int  # 1-based line of its first byte in the stream

    @property
    def source(self) -> str:
        """Helm's `# Source: chart/templates/x.yaml` comment, which names the template."""
        match = _SOURCE.search(self.raw, 0, 4096)
        return match.group(1).decode("utf-8", "replace") if match else ""


def read_documents(source: BinaryIO) -> Iterator[Document]:
    """Split a stream into documents; their raw bytes concatenate back to the stream."""
    index = 0
    line = 1
    for raw in _split(source):
        index += 1
        yield Document(index, raw, line)
        line += raw.count(b"\n")


def _split(source: BinaryIO) -> Iterator[bytes]:
    pending = bytearray()  # grows in place: a 100 MB document must not be copied per read
    scanned = 0  # pending[:scanned] holds no boundary but the one at 0
    while True:
        block = source.read(READ_SIZE)
        if block:
            pending += block
            complete = pending.rfind(b"\n") + 1  # split whole lines only
        else:
            complete = len(pending)
        start = 0
        for line_start, match in _markers(pending, scanned, complete):
            boundary = line_start if match.group(1) else _line_end(pending, match.end())
            if boundary > start:
                yield bytes(pending[start:boundary])
                start = boundary
        if not block:
            if start < len(pending):
                yield bytes(pending[start:])
            return
        del pending[:start]
        scanned = complete - start  # resume at the first incomplete line


def _markers(data: bytearray, start: int, end: int) -> Iterator[tuple[int, re.Match[bytes]]]:
    """Marker lines in data[start:end] with the position of their line; `start` begins a line."""
    first = _MARKER.match(data, start, end)
    if first is not None:
        yield start, first
    for match in _MARKER_AFTER_NEWLINE.finditer(data, start, end):
        yield match.start() + 1, match


def _line_end(data: bytes, position: int) -> int:
    newline = data.find(b"\n", position)
    return len(data) if newline < 0 else newline + 1
