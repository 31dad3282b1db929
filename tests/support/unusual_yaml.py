"""Hypothesis strategies for valid but unusual YAML (issue 15): keys Helm renders without a value,
merge keys, anchors shared by workloads, tags, line breaks other than LF, JSON with surrogate
pairs, comments inside annotations, numbers and booleans in places that hold strings.

Each stream is text, written by hand here: only Kubernetes' reader (tests/harness/kubeyaml) says
what it means.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

ANNOTATION = "sidecar.istio.io/nativeSidecar"
MODES = ["native", "regular", "default", "keep"]
ODD_LINE_BREAKS = ["\r", "\x85", "\u2028", "\u2029"]

# Pod template metadata, as lines indented by four spaces under `template:`.
TEMPLATE_METADATA = {
    "missing": [],
    "empty": ["metadata:"],
    "null": ["metadata: null"],
    "flow-empty": ["metadata: {}"],
    "labels": ["metadata:", "  labels: {app: x, version: 1e6}"],
    "annotations-empty": ["metadata:", "  annotations:"],
    "annotation-no-value": ["metadata:", "  annotations:", f"    {ANNOTATION}:"],
    "annotation-comment": ["metadata:", "  annotations:", "    # the team's note", f"    {ANNOTATION}: 'true'"],
    "annotation-others": ["metadata:", "  annotations:", "    a: y", f"    {ANNOTATION}: \"false\"", "    # after"],
    "annotation-yes": ["metadata:", "  annotations:", f"    {ANNOTATION}: yes"],
    "merge-metadata": ["<<: {metadata: {labels: {app: x}}}"],
    "merge-annotations": ["metadata:", "  <<: {annotations: {a: b}}"],
    "merge-then-own": ["metadata:", "  <<: {labels: {app: y}}", "  labels: {app: x}"],
    "merge-unrelated": ["<<: {restartPolicy: Always}", "metadata:", "  labels: {app: x}"],
    "tagged": ["metadata: !!map", "  labels: {app: x}"],
    "anchored": ["metadata: &m", "  labels: {app: x}"],
    "tag-then-anchor": ["metadata: !!map &m {labels: {app: x}}"],
    "flow-annotations-key": ["metadata: {annotations}"],
    "flow-annotation-no-value": [f"metadata: {{annotations: {{{ANNOTATION}}}}}"],
    "flow-metadata-key": None,  # the whole template in flow style: `template: {metadata, spec: {}}`
}


@st.composite
def workload_text(draw, name: str, newline: str) -> str:
    """One Deployment, its pod template's metadata in one of the shapes above."""
    shape = draw(st.sampled_from(sorted(TEMPLATE_METADATA)))
    kind_lines = draw(st.sampled_from([["apiVersion: apps/v1", "kind: Deployment"],
                                       ["<<: {apiVersion: apps/v1, kind: Deployment}"],
                                       ["apiVersion: apps/v1", "kind: !!str Deployment"]]))
    lines = [*kind_lines, "metadata:", f"  name: {name}", "spec:"]
    if TEMPLATE_METADATA[shape] is None:
        lines.append("  template: {metadata, spec: {containers: []}}")
    else:
        lines.append("  template:")
        lines += ["    " + line for line in TEMPLATE_METADATA[shape]]
        lines.append("    spec: {containers: [{name: app, image: app, args: ['1e6', \"y\", 0o17]}]}")
    return newline.join(lines) + newline


SHARED_TEMPLATE_LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: a}
  spec:
    template: &t
      metadata: {labels: {app: x}}
      spec: {containers: []}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: b}
  spec:
    template: *t
"""


def json_workload(name: str, shape: str) -> str:
    """A Deployment as Python's json.dumps writes it: characters beyond U+FFFF as surrogate pairs."""
    metadata: dict = {"labels": {"app": "x"}}
    if shape == "annotated":
        metadata["annotations"] = {"note": "\U0001F680 launch", ANNOTATION: "false"}
    template = {"metadata": metadata, "spec": {"containers": [{"name": "app", "image": "app", "args": ["\U0001F600"]}]}}
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {"template": template}}) + "\n"


@st.composite
def unusual_streams(draw) -> str:
    """A stream of one to three documents of the shapes above."""
    if draw(st.integers(0, 4)) == 0:  # kubectl reads a stream as JSON only when it starts with `{`
        return json_workload(draw(st.sampled_from(["a", "b"])), draw(st.sampled_from(["plain", "annotated"])))
    documents = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["a", "b"]))
        form = draw(st.sampled_from(["block", "block", "block", "shared"]))
        if form == "shared":
            documents.append(SHARED_TEMPLATE_LIST)
        else:
            documents.append(draw(workload_text(name, draw(st.sampled_from(["\n", "\n", "\r\n"])))))
    return "---\n".join(documents)


@st.composite
def policies(draw) -> tuple[str, str, str]:
    """(policy text, mode of workloads named a, mode of the rest)."""
    for_a, fallback = draw(st.sampled_from(MODES[:3])), draw(st.sampled_from(MODES))  # a rule cannot say keep
    text = ("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n"
            f"  fallback: {fallback}\n  rules:\n  - match: {{names: [a]}}\n    sidecar: {for_a}\n")
    return text, for_a, fallback


def seed_documents() -> list[str]:
    """Every shape above once, for the fuzzer's seed corpus (fuzz/run.py): LF, CRLF and NEL lines,
    the merge-key kind, the shared anchor, JSON with surrogate pairs, a directive."""
    documents = []
    for shape, lines in sorted(TEMPLATE_METADATA.items()):
        for newline in ("\n", "\r\n", "\x85"):
            body = ["  template: {metadata, spec: {containers: []}}"] if lines is None else [
                "  template:", *("    " + line for line in lines), "    spec: {containers: [{name: app, args: ['1e6', y]}]}"]
            head = ["<<: {apiVersion: apps/v1, kind: Deployment}"] if shape == "labels" else ["apiVersion: apps/v1", "kind: Deployment"]
            documents.append(newline.join([*head, "metadata: {name: a}", "spec:", *body]) + newline)
    documents += [SHARED_TEMPLATE_LIST, json_workload("a", "annotated"), "%YAML 1.1\n---\n" + json_workload("b", "plain")]
    return documents
