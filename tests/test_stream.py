"""Splitting a stream into documents without parsing, and telling which ones can be skipped."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from postrender.core import stream, triage
from postrender.core.stream import read_documents
from postrender.core.triage import NO_KIND, sniff_kind


def split(data: bytes, read_size: int | None = None) -> list[bytes]:
    if read_size:
        stream.READ_SIZE, saved = read_size, stream.READ_SIZE
    try:
        return [document.raw for document in read_documents(io.BytesIO(data))]
    finally:
        if read_size:
            stream.READ_SIZE = saved


STREAM = (
    b"\xef\xbb\xbf# licence header\n---\n# Source: a.yaml\nkind: A\n...\n# after the end marker\n"
    b"--- # a comment on the marker\nkind: B\r\n---\n\n---\nkind: C\nx: |\n  --- not a marker, indented\n"
    b"---  \nkind: D"
)


@pytest.mark.parametrize("read_size", [None, 1, 7, 64])
def test_documents_concatenate_back_to_the_stream_whatever_the_read_size(read_size):
    documents = split(STREAM, read_size)
    assert b"".join(documents) == STREAM
    assert documents == [
        b"\xef\xbb\xbf# licence header\n",
        b"---\n# Source: a.yaml\nkind: A\n...\n",
        b"# after the end marker\n",
        b"--- # a comment on the marker\nkind: B\r\n",
        b"---\n\n",
        b"---\nkind: C\nx: |\n  --- not a marker, indented\n",
        b"---  \nkind: D",
    ]


def test_documents_know_their_line_and_helm_source():
    documents = list(read_documents(io.BytesIO(STREAM)))
    assert [(d.index, d.line) for d in documents] == [(1, 1), (2, 2), (3, 6), (4, 7), (5, 9), (6, 11), (7, 15)]
    assert documents[1].source == "a.yaml" and documents[3].source == ""


@pytest.mark.parametrize(
    "raw, kind",
    [
        (b"---\n# Source: x\napiVersion: v1\nkind: ConfigMap\ndata:\n  kind: Deployment\n", b"ConfigMap"),
        (b"kind: 'Secret'  # quoted\n", None),  # quoted values are not trusted
        (b"kind: CustomResourceDefinition\r\nspec: {}\r\n", b"CustomResourceDefinition"),
        (b"# only a comment\n---\n", NO_KIND),
        (b"apiVersion: v1\ndata: {}\n", NO_KIND),
        (b'{"kind": "Deployment"}\n', None),  # JSON and flow documents get parsed
        (b"  kind: Deployment\n", None),  # an indented document
        (b"kind: Secret\nkind: Deployment\n", None),  # duplicated: the parser decides
        (b'a: "x\nkind: Secret"\nkind: Deployment\n', None),
        (b"? kind\n: Deployment\nkind: Secret\n", None),  # complex key
        (b"!!map\nkind: Secret\n", None),
        (b"--- {kind: Deployment}\n", None),
        (b"kind: &k Deployment\n", None),
        (b"kind:\n  Deployment\n", None),
        (b"\xef\xbb\xbfkind: Service\n", b"Service"),
    ],
)
def test_a_kind_is_trusted_only_when_nothing_can_hide_another(raw, kind):
    assert sniff_kind(raw) == kind


# Lines made of what the line-start patterns look for, and what comes near it.
LINE_PIECES = st.sampled_from([b"kind", b":", b" ", b"\t", b"\n", b"\r", b"x", b"---", b"?", b"#", b"\xef\xbb\xbf", b"'", b"|"])


@given(pieces=st.lists(LINE_PIECES, max_size=16))
def test_line_start_patterns_find_what_a_multiline_caret_finds(pieces):
    """Each _LineStart finds at the start of every line, the first included, what `^` in MULTILINE mode finds."""
    data = b"".join(pieces)
    for line_start, pattern in ((triage._KIND_KEY_LINES, triage._KIND_KEY), (triage._UNUSUAL_LINES, triage._UNUSUAL)):
        caret = re.compile(b"^" + pattern, re.MULTILINE)
        assert line_start.search(data) == (caret.search(data) is not None)
        if caret.groups:
            assert line_start.findall(data) == caret.findall(data)


MARKER_PIECES = st.sampled_from([b"---", b"...", b"\n", b" ", b"\t", b"\r", b"x", b"-", b".", b"# Source: ", b"a/b.yaml"])


@given(pieces=st.lists(MARKER_PIECES, max_size=16), data=st.data())
@example(pieces=[b"---", b"\n", b"x"], data=None)
@example(pieces=[b"...", b"\t"], data=None)
@example(pieces=[b"---"], data=None)
def test_marker_lines_are_found_where_a_multiline_caret_finds_them(pieces, data):
    """At any position and end of a read, the next marker line is the one `^` in MULTILINE mode finds."""
    text = bytearray(b"".join(pieces))
    # a read starts at 0 more often than anywhere else: after every document cut off
    position = data.draw(st.one_of(st.just(0), st.integers(0, len(text)))) if data else 0
    end = data.draw(st.one_of(st.just(len(text)), st.integers(position, len(text)))) if data else len(text)
    caret = re.compile(rb"^(?:(---)|\.\.\.)(?=[ \t\r\n]|$)", re.MULTILINE).search(text, position, end)
    expected = None if caret is None else (caret.start(), caret.end(), caret.group(1) is not None)
    assert stream._next_marker(text, position, end) == expected


@given(pieces=st.lists(MARKER_PIECES, max_size=16), padding=st.sampled_from([0, 4080, 4090]))
@example(pieces=[b"# Source: ", b"\r", b"\n"], padding=0)
@example(pieces=[b"# Source: ", b"\n", b"# Source: ", b"a/b.yaml", b"\r"], padding=0)
def test_a_helm_3_source_is_the_comment_line_a_pattern_finds(pieces, padding):
    """The first `# Source: ` line with text in a document's first 4 kB, as the pattern Helm 3's comment was read with."""
    raw = b"x" * padding + b"".join(pieces)
    found = re.compile(rb"^# Source: (.+?)\r?$", re.MULTILINE).search(raw, 0, 4096)
    assert stream._helm3_source(raw) == (found.group(1) if found else b"")
