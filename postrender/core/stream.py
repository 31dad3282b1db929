"""Bytes to documents and back, without parsing: a document's raw bytes are kept exactly.

A document starts at a `---` line or after a `...` line (YAML's markers are only markers at
column 0, even inside scalars); directive lines (`%YAML 1.1`) before a `---` belong to its
document. Only complete lines are split, so a marker is never cut in two by a read, and memory is
bounded by the largest document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from postrender.core.lazyre import compiled_on_use
from postrender.core.typed import NamedTuple, Protocol

BOM = b"\xef\xbb\xbf"
READ_SIZE = 1 << 20
# A marker line (`---` or `...`, then a blank or the end) after a newline: the leading literal lets the
# regex engine skip ahead instead of trying every position (5-10x faster on CRD-heavy charts).
_MARKER_AFTER_NEWLINE = re.compile(rb"\n(?:(---)|\.\.\.)(?=[ \t\r\n]|$)")
_MARKERS = (b"---", b"...")
_BLANKS = b" \t\r\n"
# Directive lines, with comments and blank lines around them, and nothing else.
_DIRECTIVES_ONLY = compiled_on_use(rb"(?:[ \t]*(?:#[^\n]*)?\r?\n)*%[^\n]*\n(?:(?:%[^\n]*|[ \t]*(?:#[^\n]*)?\r?)\n)*")
_SOURCE_COMMENT = b"\n# Source: "  # Helm 3's, on a line of its own, in a document's first 4 kB
_SOURCE_SCAN = 4096
# Helm 4 strips `# Source:` and stamps each document's metadata.annotations with this instead (kyaml
# SetAnnotation, so block or flow style, the value single-quoted; helm.sh/helm/v4 pkg/action/action.go
# annotateAndMerge, filenameAnnotation, at v4.3.1). It reads the annotation back after the post-renderer
# to rebuild the files, so it is only ever read here.
HELM4_FILENAME = b"postrenderer.helm.sh/postrender-filename"
_HELM4_FILENAME_VALUE = compiled_on_use(
    rb"""["']?[ \t]*:[ \t]*(?:'((?:[^'\r\n]|'')*)'|"((?:[^"\\\r\n]|\\.)*)"|([^\s'"#,{}\[\]][^#,{}\[\]\r\n]*))""")


class Source(Protocol):
    """What documents are read from: a file, a pipe, a buffer (read(size) returns b"" at the end)."""

    def read(self, size: int = -1, /) -> bytes: ...


class Document(NamedTuple):
    index: int  # type: ignore[assignment]  # shadows tuple.index, which nothing here calls; 1-based position in the stream
    raw: bytes  # exactly as read, marker line included
    line: int  # 1-based line of its first byte in the stream

    @property
    def source(self) -> str:
        """The template that made the document: Helm 3's `# Source: chart/templates/x.yaml` comment,
        else Helm 4's filename annotation (its first occurrence: Helm puts it on the object's own metadata)."""
        helm3 = _helm3_source(self.raw)
        if helm3:
            return helm3.decode("utf-8", "replace")
        at = self.raw.find(HELM4_FILENAME)
        value = _HELM4_FILENAME_VALUE.match(self.raw, at + len(HELM4_FILENAME)) if at >= 0 else None
        if value is None:
            return ""
        single, double, plain = value.groups()
        if single is not None:
            return single.replace(b"''", b"'").decode("utf-8", "replace")
        if double is not None:
            import json  # only here: json costs start-up 5 M instructions

            try:
                return str(json.loads(b'"' + double + b'"'))
            except ValueError:
                return double.decode("utf-8", "replace")
        return plain.rstrip().decode("utf-8", "replace")


def _helm3_source(raw: bytes) -> bytes:
    """The first `# Source: ` line's text ("" if none), without its CR; a line with nothing after it
    does not count. (A pattern would cost start-up 0.5 M instructions to compile.)"""
    head = b"\n" + raw[:_SOURCE_SCAN]
    at = head.find(_SOURCE_COMMENT)
    while at >= 0:
        start = at + len(_SOURCE_COMMENT)
        end = head.find(b"\n", start)
        text = head[start:] if end < 0 else head[start:end]
        if text:
            return text[:-1] if len(text) > 1 and text.endswith(b"\r") else text
        at = head.find(_SOURCE_COMMENT, start)
    return b""


def read_documents(source: Source) -> Iterator[Document]:
    """Split a stream into documents; their raw bytes concatenate back to the stream."""
    index = 0
    line = 1
    for raw in _split(source):
        index += 1
        yield Document(index, raw, line)
        line += raw.count(b"\n")


def _split(source: Source) -> Iterator[bytes]:
    pending = bytearray()  # grows in place: a 100 MB document must not be copied per read
    scanned = 0  # pending[:scanned] holds no boundary but the one at 0
    while True:
        block = source.read(READ_SIZE)
        if block:
            pending += block
            complete = pending.rfind(b"\n") + 1  # split whole lines only
        else:
            complete = len(pending)
        position = scanned
        while (found := _next_marker(pending, position, complete)) is not None:
            line_start, marker_end, starts_document = found
            boundary = line_start if starts_document else _line_end(pending, marker_end)
            directives = starts_document and pending.find(b"%", 0, boundary) >= 0  # (the pattern needs a %)
            if boundary == 0 or (directives and _DIRECTIVES_ONLY.fullmatch(pending, 0, boundary)):
                # (`%YAML`/`%TAG` lines belong to the document their `---` starts)
                position = marker_end
                continue
            # Cut the document off before handing it out, so a huge one is held once, not twice.
            position = max(marker_end - boundary, 0)
            document = _copy(pending, 0, boundary)
            pending = _drop_front(pending, boundary)
            complete -= boundary
            yield document
        if not block:
            if pending:
                document, pending = _copy(pending, 0, len(pending)), bytearray()
                yield document
            return
        scanned = complete  # resume at the first incomplete line


def _copy(buffer: bytearray, start: int, end: int) -> bytes:
    """One copy of a slice (`bytes(buffer[a:b])` makes two)."""
    with memoryview(buffer) as view, view[start:end] as part:
        return bytes(part)


def _drop_front(buffer: bytearray, size: int) -> bytearray:
    """The buffer without its first `size` bytes; after a big document, in a new, small buffer
    (deleting from the front keeps the old allocation)."""
    if size <= READ_SIZE:
        del buffer[:size]
        return buffer
    with memoryview(buffer) as view, view[size:] as rest:
        return bytearray(rest)


def _next_marker(data: bytearray, position: int, end: int) -> tuple[int, int, bool] | None:
    """The first marker line starting at or after `position` in data[:end]: its line start, the
    marker's end, and whether it is `---` (else `...`)."""
    if position == 0:  # the only line start with no newline before it
        if data.startswith(_MARKERS, 0, end) and (end == 3 or data[3] in _BLANKS):
            return 0, 3, data[0] == 0x2D
    match = _MARKER_AFTER_NEWLINE.search(data, position - 1 if position else 0, end)
    return None if match is None else (match.start() + 1, match.end(), match.group(1) is not None)


def _line_end(data: bytes | bytearray, position: int) -> int:
    newline = data.find(b"\n", position)
    return len(data) if newline < 0 else newline + 1
