"""Splitting a stream into documents without parsing, and telling which ones can be skipped."""

from __future__ import annotations

import io

import pytest

from postrender.core import stream
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
