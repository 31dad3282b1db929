"""Merge our post-renderer into a HelmRelease file, editing its text so comments and layout stay.

Ours is recognised by its patches (patches.is_ours), replaced where it is, or appended after the
release's own post-renderers: they are chained in order (helm-controller
internal/postrender/build.go, combined.go), so ours sees their output and has the last word.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from yaml.nodes import MappingNode, Node, SequenceNode

from postrender.core import textedit, yamlnodes
from postrender.core.errors import Location, UsageError
from postrender.core.stream import Document, read_documents
from postrender.flux.patches import is_ours

API_GROUP = "helm.toolkit.fluxcd.io/"


def read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError("the HelmRelease file is not UTF-8", Location(file=path)) from None


def target_namespace(text: str, path: str) -> str:
    """Where Helm installs the release: spec.targetNamespace, else the HelmRelease's namespace."""
    for _, root in _releases(text, path):
        spec = yamlnodes.get(root, "spec")
        for node in (yamlnodes.get(spec, "targetNamespace"), yamlnodes.get(root, "metadata", "namespace")):
            if yamlnodes.scalar_text(node):
                return yamlnodes.scalar_text(node) or ""
    return ""


def post_render_strategy(text: str, path: str) -> str:
    """spec.postRenderStrategy of the first HelmRelease ("" when unset): whether hooks are post-rendered."""
    for _, root in _releases(text, path):
        return yamlnodes.scalar_text(yamlnodes.get(root, "spec", "postRenderStrategy")) or ""
    return ""


def merge(text: str, path: str, entry: str) -> str:
    """The file with `entry` (a block-sequence item at column 0) in every HelmRelease's spec.postRenderers."""
    out: list[str] = []
    found = False
    for document, root in _documents(text, path):
        body = document.raw.decode("utf-8")
        if isinstance(root, MappingNode) and _is_release(root):
            found = True
            body = _merge_one(textedit.DocumentText(body), root, entry, path, document.line)
        out.append(body)
    if not found:
        raise UsageError(f"no HelmRelease ({API_GROUP}*) in the file", Location(file=path))
    return "".join(out)


def _documents(text: str, path: str) -> Iterator[tuple[Document, Node | None]]:
    for document in read_documents(io.BytesIO(text.encode("utf-8"))):
        yield document, _compose(document.raw.decode("utf-8"), path, document.line)


def _releases(text: str, path: str) -> Iterator[tuple[Document, Node | None]]:
    return ((document, root) for document, root in _documents(text, path) if _is_release(root))


def _compose(body: str, path: str, first_line: int) -> Node | None:
    try:
        return yamlnodes.compose(body)
    except yamlnodes.NodeError as error:
        raise UsageError(error.message, _where(path, first_line, error.line)) from None


def _is_release(root: Node | None) -> bool:
    api_version = yamlnodes.scalar_text(yamlnodes.get(root, "apiVersion")) or ""
    return yamlnodes.scalar_text(yamlnodes.get(root, "kind")) == "HelmRelease" and api_version.startswith(API_GROUP)


def _where(path: str, first_line: int, line: int | None) -> Location:
    return Location(file=path, line=None if line is None else first_line + line)


def _merge_one(doc: textedit.DocumentText, root: MappingNode, entry: str, path: str, first_line: int) -> str:
    spec = yamlnodes.get(root, "spec")
    if not isinstance(spec, MappingNode) or spec.flow_style or not spec.value:
        raise UsageError("the HelmRelease's spec must be a block mapping", _where(path, first_line, root.start_mark.line))
    pair = yamlnodes.lookup(spec, "postRenderers")
    column = spec.value[0][0].start_mark.column
    if pair is None:
        position = doc.line_after(textedit.leaf_end(spec))
        return doc.apply([textedit.Splice(position, position, _lines(doc, f"postRenderers:\n{entry}", column))])
    key, value = pair
    if yamlnodes.is_null(value) or (isinstance(value, SequenceNode) and not value.value):
        end = doc.line_after(max(key.end_mark.index, value.end_mark.index))
        return doc.apply([textedit.Splice(key.end_mark.index, end, ":" + doc.newline + _lines(doc, entry, column))])
    if not isinstance(value, SequenceNode) or value.flow_style:
        raise UsageError("spec.postRenderers must be a block sequence here", _where(path, first_line, value.start_mark.line))
    items = value.value
    dash = doc.text.rfind("-", 0, items[0].start_mark.index)
    dash_column = dash - doc.line_start(dash)
    ours = [item for item in items if is_ours(yamlnodes.construct(item))]
    if not ours:
        position = doc.line_after(textedit.leaf_end(items[-1]))
        return doc.apply([textedit.Splice(position, position, _lines(doc, entry, dash_column))])
    splices = []
    for index, item in enumerate(ours):  # the first is replaced, any others go
        start = doc.line_start(item.start_mark.index)
        end = doc.line_after(textedit.leaf_end(item))
        splices.append(textedit.Splice(start, end, _lines(doc, entry, dash_column) if index == 0 else ""))
    return doc.apply(splices)


def _lines(doc: textedit.DocumentText, text: str, column: int) -> str:
    """Text indented by `column` with the document's line ends."""
    lines = [(" " * column + line) if line else line for line in text.split("\n")]
    return doc.newline.join(lines)
