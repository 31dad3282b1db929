"""Hypothesis strategies for valid but unusual YAML (issues 15 and 24): keys Helm renders without a
value, merge keys, anchors shared by workloads, anchors on the annotation an edit removes, tags,
line breaks other than LF, JSON with surrogate pairs, comments inside annotations, numbers and
booleans in places that hold strings, label keys and values that Kubernetes reads as booleans or
numbers, and typed lists whose items leave their kind out.

Each stream is text, written by hand here: only Kubernetes' reader (tests/harness/kubeyaml) says
what it means.
"""

from __future__ import annotations

import json
from typing import NamedTuple

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
    "labels": ["metadata:", "  labels: LABELS"],
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


# An anchor (&x) inside the pod template's annotations, which an alias (*x) names further on:
# (lines, whether &x marks a mapping). Removing the annotation must never remove an anchor that is
# still named, whatever carries it: the annotation's key or value, `annotations:` itself or its
# mapping, in block or flow style, beside other annotations or alone.
ANCHORED_ANNOTATIONS = {
    "key": (["metadata:", "  annotations:", f"    &x {ANNOTATION}: 'true'"], False),
    "key-among-others": (["metadata:", "  annotations:", "    a: b", f"    &x {ANNOTATION}: 'false'", "    c: d"], False),
    "value": (["metadata:", "  annotations:", f"    {ANNOTATION}: &x 'true'"], False),
    "tagged-value": (["metadata:", "  annotations:", f"    {ANNOTATION}: !!str &x true"], False),
    "annotations-key": (["metadata:", "  &x annotations:", f"    {ANNOTATION}: 'true'"], False),
    "mapping": (["metadata:", "  annotations: &x", f"    {ANNOTATION}: 'true'"], True),
    "flow-key": (["metadata:", f"  annotations: {{&x {ANNOTATION}: 'true'}}"], False),
    "flow-key-among-others": (["metadata:", f"  annotations: {{a: b, &x {ANNOTATION}: 'true', c: d}}"], False),
    "flow-mapping": (["metadata:", f"  annotations: &x {{{ANNOTATION}: 'true'}}"], True),
    "flow-metadata": ([f"metadata: {{labels: {{app: x}}, &x annotations: {{{ANNOTATION}: 'true'}}}}"], False),
    "elsewhere": (["metadata:", "  annotations:", f"    {ANNOTATION}: 'true'", "    &x a: b"], False),  # stays
}
# Where the alias stands: a value, a key (an anchor used as a key), or a whole mapping.
ALIAS_USES = {False: ["{copy: *x}", "{*x : copy}"], True: ["*x"]}

# Label keys as written: go-yaml (Kubernetes' reader) takes some plain ones for booleans and numbers,
# which Kubernetes stores as "true", "1000"...: only the harness says how. Keys of one group read
# the same, so a map takes at most one of each (two would be a duplicate key, which is refused).
LABEL_KEY_GROUPS = [["app", "'app'"], ["y", "on", "True", "'true'"], ["NO", "&k n", '"false"'], ["1.0", "'1'"],
                    ["0x1F"], ["1e3", "1_000"], ["017", "0o17"], ["+12"], ["'y'", "!!str y"], ['"1e3"']]
SELECTOR_KEYS = ["app", "true", "false", "1", "31", "1000", "15", "12", "y", "1e3"]  # as Kubernetes stores them
# Label values: strings, and plain ones Kubernetes reads as booleans or numbers (the API server refuses them).
LABEL_VALUES = ["x", "web", "'true'", '"1.0"', "''", "~", "!!str yes", "'y'"]
NOT_STRINGS = ["true", "yes", "1.0", "0x1F", "y"]
UNREADABLE_KEYS = ["~", "null"]  # kubectl cannot read a stream with such a label key


@st.composite
def label_map(draw) -> str:
    """A flow mapping of labels, now and then one that Kubernetes refuses or cannot read."""
    groups = draw(st.lists(st.sampled_from(LABEL_KEY_GROUPS), max_size=3, unique_by=id))
    keys = [draw(st.sampled_from(group)) for group in groups]
    if draw(st.integers(0, 19)) == 0:
        keys.append(draw(st.sampled_from(UNREADABLE_KEYS)))
    values = [draw(st.sampled_from(NOT_STRINGS)) if draw(st.integers(0, 9)) == 0 else draw(st.sampled_from(LABEL_VALUES))
              for _ in keys]
    return "{" + ", ".join(f"{key} : {value}" if key.startswith(("&", "*")) else f"{key}: {value}"
                           for key, value in zip(keys, values)) + "}"


@st.composite
def workload_text(draw, name: str, newline: str) -> str:
    """One Deployment, its pod template's metadata in one of the shapes above."""
    anchored = draw(st.integers(0, 3)) == 0
    shape = draw(st.sampled_from(sorted(ANCHORED_ANNOTATIONS if anchored else TEMPLATE_METADATA)))
    metadata, is_mapping = ANCHORED_ANNOTATIONS[shape] if anchored else (TEMPLATE_METADATA[shape], False)
    kind_lines = draw(st.sampled_from([["apiVersion: apps/v1", "kind: Deployment"],
                                       ["<<: {apiVersion: apps/v1, kind: Deployment}"],
                                       ["apiVersion: apps/v1", "kind: !!str Deployment"]]))
    lines = [*kind_lines, "metadata:", f"  name: {name}"]
    if draw(st.booleans()):
        lines.append(f"  labels: {draw(label_map())}")
    lines.append("spec:")
    alias = f"nodeSelector: {draw(st.sampled_from(ALIAS_USES[is_mapping]))}, " if anchored else ""
    if metadata is None:
        lines.append("  template: {metadata, spec: {containers: []}}")
    else:
        lines.append("  template:")
        lines += ["    " + line.replace("LABELS", draw(label_map())) for line in metadata]
        lines.append(f"    spec: {{{alias}containers: [{{name: app, image: app, args: ['1e6', \"y\", 0o17]}}]}}")
    return newline.join(lines) + newline


# Typed lists: Kubernetes reads an item without kind and apiVersion as the list's kind without
# `List`, with the list's apiVersion; an item that has one of them keeps what it has.
TYPED_LISTS = {"DeploymentList": ("apps/v1", "Deployment"), "PodList": ("v1", "Pod"), "List": ("v1", "Deployment")}
ITEM_HEADS = [[], [], ["kind: Deployment"], ["apiVersion: apps/v1"], ["apiVersion: apps/v1", "kind: Deployment"],
              ['kind: ""'], ["apiVersion: v1", "kind: Pod"]]


@st.composite
def typed_list(draw) -> str:
    list_kind = draw(st.sampled_from(sorted(TYPED_LISTS)))
    api_version, item_kind = TYPED_LISTS[list_kind]
    lines = [f"apiVersion: {api_version}", f"kind: {list_kind}", "items:"]
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["a", "b"]))
        annotations = draw(st.sampled_from(["{}", f"{{{ANNOTATION}: 'false'}}"]))
        if item_kind == "Pod":
            body = [f"metadata: {{name: {name}, annotations: {annotations}}}", "spec: {containers: [{name: app, image: app}]}"]
        else:
            body = [f"metadata: {{name: {name}}}",
                    f"spec: {{template: {{metadata: {{annotations: {annotations}}}, spec: {{containers: [{{name: app, image: app}}]}}}}}}"]
        lines.append("- " + "\n  ".join([*draw(st.sampled_from(ITEM_HEADS)), *body]))
    return "\n".join(lines) + "\n"


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
        form = draw(st.sampled_from(["block", "block", "block", "shared", "typed-list"]))
        if form == "shared":
            documents.append(SHARED_TEMPLATE_LIST)
        elif form == "typed-list":
            documents.append(draw(typed_list()))
        else:
            documents.append(draw(workload_text(name, draw(st.sampled_from(["\n", "\n", "\r\n"])))))
    return "---\n".join(documents)


class UnusualPolicy(NamedTuple):
    text: str
    for_a: str  # the mode of workloads named a whose labels match `requirement`
    fallback: str  # the mode of the rest
    requirement: tuple[str, str, str, list[str]] | None  # (labels | podLabels, key, operator, values)


@st.composite
def policies(draw) -> UnusualPolicy:
    for_a, fallback = draw(st.sampled_from(MODES[:3])), draw(st.sampled_from(MODES))  # a rule cannot say keep
    match = "{names: [a]}"
    requirement = None
    if draw(st.booleans()):  # a selector on a label key as Kubernetes stores it
        field, key = draw(st.sampled_from(["labels", "podLabels"])), draw(st.sampled_from(SELECTOR_KEYS))
        operator = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        values = draw(st.lists(st.sampled_from(["x", "web", "true", "y"]), min_size=1, max_size=2, unique=True)) \
            if operator in ("In", "NotIn") else []
        selector = {"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                    "Exists": key, "DoesNotExist": f"!{key}"}[operator]
        match = f"{{names: [a], {field}: {json.dumps(selector)}}}"
        requirement = (field, key, operator, values)
    text = ("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n"
            f"  fallback: {fallback}\n  rules:\n  - match: {match}\n    sidecar: {for_a}\n")
    return UnusualPolicy(text, for_a, fallback, requirement)


def seed_documents() -> list[str]:
    """Every shape above once, for the fuzzer's seed corpus (fuzz/run.py): LF, CRLF and NEL lines,
    the merge-key kind, the shared anchor, JSON with surrogate pairs, a directive."""
    documents = []
    for shape, lines in sorted(TEMPLATE_METADATA.items()):
        for newline in ("\n", "\r\n", "\x85"):
            body = ["  template: {metadata, spec: {containers: []}}"] if lines is None else [
                "  template:", *("    " + line for line in lines), "    spec: {containers: [{name: app, args: ['1e6', y]}]}"]
            head = ["<<: {apiVersion: apps/v1, kind: Deployment}"] if shape == "labels" else ["apiVersion: apps/v1", "kind: Deployment"]
            documents.append(newline.join([*head, "metadata: {name: a}", "spec:", *body]).replace("LABELS", "{app: x, '1e6': y}") + newline)
    for _, (lines, is_mapping) in sorted(ANCHORED_ANNOTATIONS.items()):
        body = ["  template:", *("    " + line for line in lines), f"    spec: {{nodeSelector: {ALIAS_USES[is_mapping][-1]}}}"]
        documents.append("\n".join(["apiVersion: apps/v1", "kind: Deployment", "metadata: {name: a}", "spec:", *body]) + "\n")
    documents += [SHARED_TEMPLATE_LIST, json_workload("a", "annotated"), "%YAML 1.1\n---\n" + json_workload("b", "plain")]
    return documents
