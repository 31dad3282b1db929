"""Hypothesis strategies: manifest streams in every shape a chart, kustomize or a person writes,
and SidecarPolicies to apply to them.

A generated stream knows its documents: their data (what any YAML parser must read), their
text, and whether an edit could meet YAML anchors shared with other parts (`risky`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from hypothesis import strategies as st

ANNOTATION = "sidecar.istio.io/nativeSidecar"

# kind -> (apiVersion, path to the pod template); written here again, apart from workloads.py.
WORKLOAD_KINDS = {
    "Pod": ("v1", ()),
    "PodTemplate": ("v1", ("template",)),
    "ReplicationController": ("v1", ("spec", "template")),
    "Deployment": ("apps/v1", ("spec", "template")),
    "StatefulSet": ("apps/v1", ("spec", "template")),
    "DaemonSet": ("apps/v1", ("spec", "template")),
    "ReplicaSet": ("apps/v1", ("spec", "template")),
    "Job": ("batch/v1", ("spec", "template")),
    "CronJob": ("batch/v1", ("spec", "jobTemplate", "spec", "template")),
    "Rollout": ("argoproj.io/v1alpha1", ("spec", "template")),
}
# A kind that is a workload only with workloadKinds (OpenKruise's CloneSet is a built-in one now).
CUSTOM_KIND = ("Widget", "apps.example.com/v1", ("spec", "template"))

NAMES = ["web", "api", "db-migrate-1", "worker", "w1b", "x"]
NAMESPACES = ["team-a", "team-b", "default"]
LABEL_KEYS = ["app", "tier", "track", "app.kubernetes.io/part-of"]
LABEL_VALUES = ["web", "api", "canary", "stable", "shop"]
# Written plain, `y`, `n`, `1e3` and `0o17` are strings for PyYAML but a boolean or a number for
# Kubernetes' reader, which stores such a key as "true", "false", "1000", "15": selectors name
# those; a label value it reads so, it refuses (test_properties asks Kubernetes' reader which).
# Only the streams get them (_spelled_for_yaml_1_1): other users of these strategies read with PyYAML.
ODD_LABEL_KEYS = ["y", "n", "1e3", "0o17"]
ODD_LABEL_VALUES = ["y", "1e6"]
SELECTOR_KEYS = LABEL_KEYS + ["true", "false", "1000", "15", "y"]
GLOBS = ["*", "web*", "api", "db-migrate-*", "w?b", "[a-w]*", "*-1", "team-*", "", "default"]

names = st.sampled_from(NAMES)
label_maps = st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES), max_size=3)
annotation_values = st.sampled_from(["true", "false", True, False, "yes"])


# --- documents as data ------------------------------------------------------------------------

@st.composite
def pod_metadata(draw, name: str | None = None) -> dict | None:
    shape = draw(st.sampled_from(["missing", "null", "empty", "full"]))
    if shape == "missing":
        return None
    if shape == "null":
        return {"__null__": True}
    metadata: dict = {}
    if name is not None:
        metadata["name"] = name
    if draw(st.booleans()):
        metadata["labels"] = draw(label_maps)
    annotations = draw(st.sampled_from(["missing", "null", "empty", "ours", "others", "both"]))
    if annotations == "null":
        metadata["annotations"] = None
    elif annotations != "missing":
        metadata["annotations"] = {}
        if annotations in ("others", "both"):
            metadata["annotations"]["prometheus.io/scrape"] = "true"
        if annotations in ("ours", "both"):
            metadata["annotations"][ANNOTATION] = draw(annotation_values)
    return metadata


def _place_metadata(target: dict, metadata: dict | None) -> None:
    if metadata is None:
        return
    target["metadata"] = None if metadata.get("__null__") else metadata


@st.composite
def pod_template(draw) -> dict:
    template: dict = {}
    _place_metadata(template, draw(pod_metadata()))
    template["spec"] = {"containers": [{"name": "app", "image": "nginx:1.27", "args": ["--port", "8080"]}]}
    return template


@st.composite
def workload(draw, custom_kind: bool) -> dict:
    kinds = sorted(WORKLOAD_KINDS) + ([CUSTOM_KIND[0]] if custom_kind else [])
    kind = draw(st.sampled_from(kinds))
    api_version, path = (CUSTOM_KIND[1], CUSTOM_KIND[2]) if kind == CUSTOM_KIND[0] else WORKLOAD_KINDS[kind]
    if draw(st.integers(0, 9)) == 0 and kind not in ("Pod", "PodTemplate", "ReplicationController"):
        api_version = "example.com/v1"  # the same kind name in another group: not a workload
    document: dict = {"apiVersion": api_version, "kind": kind}
    name = draw(names)
    if kind == "Pod":
        _place_metadata(document, draw(pod_metadata(name)))
        if "metadata" in document and document["metadata"] is not None and draw(st.booleans()):
            document["metadata"]["namespace"] = draw(st.sampled_from(NAMESPACES))
        document["spec"] = {"containers": [{"name": "app", "image": "nginx"}]}
        return document
    metadata: dict = {"name": name}
    if draw(st.booleans()):
        metadata["namespace"] = draw(st.sampled_from(NAMESPACES))
    if draw(st.booleans()):
        metadata["labels"] = draw(label_maps)
    document["metadata"] = metadata
    if kind == "Rollout" and draw(st.integers(0, 4)) == 0:
        document["spec"] = {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}}
        if draw(st.booleans()):
            document["spec"]["template"] = {}  # empty, which Argo Rollouts accepts beside workloadRef
        return document
    template = draw(pod_template())
    if "labels" in metadata and isinstance(template.get("metadata"), dict) and draw(st.booleans()):
        template["metadata"]["labels"] = metadata["labels"]  # shared: block and PyYAML dumps write an alias
    node = document
    for step in path[:-1]:
        node = node.setdefault(step, {"replicas": 2} if step == "spec" else {})
    node[path[-1]] = template
    return document


MULTILINE = st.lists(
    st.sampled_from(["server {", "  listen 80;", "kind: Deployment", "  ---", "# not a comment", "}", "a: b", ""]),
    min_size=1, max_size=6,
).map(lambda lines: "\n".join(lines).strip(" ") + "\n")


@st.composite
def non_workload(draw) -> object:
    shape = draw(st.sampled_from(["service", "configmap", "crd", "secret", "no-kind", "scalar", "list-doc"]))
    name = draw(names)
    if shape == "service":
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": draw(label_maps)},
                "spec": {"ports": [{"port": 80, "targetPort": "http"}], "selector": draw(label_maps)}}
    if shape == "configmap":
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                "data": {"nginx.conf": draw(MULTILINE), "mode": draw(st.sampled_from(["on", "yes", "1.10", "null"]))}}
    if shape == "crd":
        schema = {"type": "object", "description": draw(MULTILINE),
                  "properties": {"spec": {"type": "object", "properties": {"template": {"type": "object"}}}}}
        return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{name}s.example.com"},
                "spec": {"group": "example.com", "versions": [{"name": "v1", "schema": {"openAPIV3Schema": schema}}]}}
    if shape == "secret":
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {"password": "p@ss: #1"}}
    if shape == "no-kind":
        return {"metadata": {"name": name}, "spec": {"template": {"metadata": {"labels": {"app": name}}}}}
    if shape == "scalar":
        return draw(st.sampled_from(["just text", "123"]))
    return [{"kind": "Pod", "metadata": {"name": name}}]


@st.composite
def kube_object(draw, custom_kind: bool) -> object:
    choice = draw(st.integers(0, 9))
    if choice < 5:
        return draw(workload(custom_kind))
    if choice < 9:
        return draw(non_workload())
    items = draw(st.lists(st.one_of(workload(custom_kind), non_workload().filter(lambda d: isinstance(d, dict))), max_size=3))
    kind = draw(st.sampled_from(["List", "DeploymentList", "JobList", "PodList"]))
    api_version = "v1" if kind == "List" else draw(st.sampled_from(["v1", WORKLOAD_KINDS[kind.removesuffix("List")][0]]))
    for item in items:  # a typed list's items may leave out the kind and apiVersion it gives them
        if item.get("kind") == kind.removesuffix("List") and draw(st.booleans()):
            del item["kind"]
            item.pop("apiVersion", None)
    return {"apiVersion": api_version, "kind": kind, "items": items}


# --- documents as text and streams -------------------------------------------------------------

@dataclass
class GeneratedDocument:
    data: object  # what a YAML parser reads (None: empty or comment-only)
    text: str  # the document's own text, marker line included, "\n" line ends
    risky: bool = False  # its pod template's metadata, or a string in it, is shared through an anchor


@dataclass
class GeneratedStream:
    documents: list[GeneratedDocument]
    data: bytes
    raw_documents: list[bytes] = field(default_factory=list)  # each document's bytes in the stream


def _share_template_metadata(data: object) -> bool:
    """Make a Deployment's pod template reuse its own metadata object (an anchor in the text)."""
    if not (isinstance(data, dict) and data.get("kind") == "Deployment" and isinstance(data.get("metadata"), dict)):
        return False
    template = data.get("spec", {}).get("template")
    if not isinstance(template, dict):
        return False
    template["metadata"] = data["metadata"]
    return True


@st.composite
def body_text(draw, data: object, alias_strings: bool = True) -> tuple[str, bool]:
    """The text, and whether it writes a string as an alias of an anchored one (`&s1 true` ... `*s1`,
    where an edit may be refused: `alias_strings=False` for tests that want no refusal)."""
    from tests.support.emit import BlockEmitter, flow, pyyaml_block

    style = draw(st.sampled_from(["block", "block", "pyyaml", "flow"]))
    if style == "flow":
        return flow(data, draw, st), False
    if style == "pyyaml":
        return pyyaml_block(data, draw, st), False
    emitter = BlockEmitter(draw, st, draw(st.sampled_from([2, 4, 3])), draw(st.booleans()), draw(st.booleans()), alias_strings)
    return emitter.document(data), emitter.aliased_strings


@st.composite
def document(draw, custom_kind: bool) -> GeneratedDocument:
    shape = draw(st.integers(0, 11))
    if shape == 0:
        return GeneratedDocument(None, "---\n")
    if shape == 1:
        return GeneratedDocument(None, "---\n# only a comment\n" + draw(st.sampled_from(["", "\n", "#\n"])))
    data = draw(kube_object(custom_kind))
    _spelled_for_yaml_1_1(draw, data)
    risky = draw(st.integers(0, 9)) == 0 and _share_template_metadata(data)
    body, aliased_strings = draw(body_text(data))
    risky = risky or aliased_strings
    marker = draw(st.sampled_from(["---\n", "---\n", "--- # next\n", "---\n\n"]))
    if body.startswith(("{", "[")) and "\n" not in body.rstrip("\n") and draw(st.booleans()):
        marker = "--- "  # content on the marker line
    source = f"# Source: chart/templates/{draw(names)}.yaml\n" if draw(st.booleans()) and marker != "--- " else ""
    end = "...\n" if draw(st.integers(0, 5)) == 0 and not body.endswith("...\n") else ""
    return GeneratedDocument(yaml.safe_load(body), marker + source + body + end, risky)


def _spelled_for_yaml_1_1(draw, data: object) -> None:
    """Now and then a label key, rarely a label value, that Kubernetes' reader takes for a boolean or a number."""
    seen: set[int] = set()
    pending = [data]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            labels = node.get("metadata", {}).get("labels") if isinstance(node.get("metadata"), dict) else None
            if isinstance(labels, dict) and id(labels) not in seen:
                seen.add(id(labels))
                if draw(st.integers(0, 3)) == 0:
                    labels[draw(st.sampled_from(ODD_LABEL_KEYS))] = draw(st.sampled_from(LABEL_VALUES))
                if labels and draw(st.integers(0, 19)) == 0:
                    labels[draw(st.sampled_from(sorted(labels)))] = draw(st.sampled_from(ODD_LABEL_VALUES))
            pending.extend(node.values())


@st.composite
def streams(draw, custom_kind: bool = False, max_documents: int = 6) -> GeneratedStream:
    documents = draw(st.lists(document(custom_kind), min_size=1, max_size=max_documents))
    texts = [doc.text for doc in documents]
    # The first document may leave its marker out (after `...` YAML parsers want one again).
    if documents[0].data is not None and texts[0].startswith("---\n") and draw(st.booleans()):
        texts[0] = texts[0][len("---\n"):]
    line_ends = draw(st.sampled_from(["lf", "crlf", "mixed"]))
    raw = []
    for text in texts:
        crlf = line_ends == "crlf" or (line_ends == "mixed" and draw(st.booleans()))
        raw.append((text.replace("\n", "\r\n") if crlf else text).encode())
    if draw(st.booleans()):  # the last document without its final line end
        raw[-1] = raw[-1][:-2] if raw[-1].endswith(b"\r\n") else raw[-1][:-1] if raw[-1].endswith(b"\n") else raw[-1]
    if draw(st.integers(0, 9)) == 0:
        raw[0] = b"\xef\xbb\xbf" + raw[0]
    return GeneratedStream(documents, b"".join(raw), raw)


# --- policies ---------------------------------------------------------------------------------

@st.composite
def requirements(draw) -> list[tuple[str, str, list[str]]]:
    result = []
    for key in draw(st.lists(st.sampled_from(SELECTOR_KEYS), max_size=3, unique=True)):
        operator = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        values = draw(st.lists(st.sampled_from(LABEL_VALUES), min_size=1, max_size=2, unique=True)) if operator in ("In", "NotIn") else []
        result.append((key, operator, values))
    return result


@st.composite
def selector_text(draw, reqs: list[tuple[str, str, list[str]]]) -> object:
    """The string form (with its spellings) or the LabelSelector object."""
    if draw(st.booleans()):
        parts = []
        for key, operator, values in reqs:
            if operator == "Exists":
                parts.append(key)
            elif operator == "DoesNotExist":
                parts.append("!" + key)
            elif len(values) == 1 and draw(st.booleans()):
                parts.append(key + (draw(st.sampled_from(["=", "==", " = "])) if operator == "In" else "!=") + values[0])
            else:
                parts.append(f"{key} {'in' if operator == 'In' else 'notin'} ({','.join(values)})")
        return draw(st.sampled_from([",", ", "])).join(parts)
    selector: dict = {}
    for key, operator, values in reqs:
        if operator == "In" and len(values) == 1 and key not in selector.get("matchLabels", {}) and draw(st.booleans()):
            selector.setdefault("matchLabels", {})[key] = values[0]
        else:
            expression = {"key": key, "operator": operator}
            if values:
                expression["values"] = values
            selector.setdefault("matchExpressions", []).append(expression)
    return selector


@st.composite
def rules(draw) -> dict:
    """A rule as written, plus `_reference`: what it means, for the reference matcher."""
    reference: dict = {}
    match: dict = {}
    if draw(st.booleans()):
        kinds = st.sampled_from([*sorted(WORKLOAD_KINDS), CUSTOM_KIND[0], "Service"])
        match["kinds"] = reference["kinds"] = draw(st.lists(kinds, min_size=1, max_size=3))
    for field_name in ("names", "namespaces"):
        if draw(st.integers(0, 3)) == 0:
            match[field_name] = reference[field_name] = draw(st.lists(st.sampled_from([g for g in GLOBS if g]), min_size=1, max_size=2))
    for field_name in ("labels", "podLabels"):
        if draw(st.integers(0, 2)) == 0:
            reqs = draw(requirements())
            text = draw(selector_text(reqs))
            if text in ("", {}):
                continue  # an empty string selector is legal but says nothing; keep the rule simple
            match[field_name] = text
            reference[field_name] = reqs
    rule: dict = {"sidecar": draw(st.sampled_from(["native", "regular", "default"]))}
    if draw(st.booleans()):
        rule["name"] = f"rule-{draw(st.integers(0, 99))}"
    if match or draw(st.booleans()):
        rule["match"] = match or None
    rule["_reference"] = reference
    return rule


@st.composite
def policies(draw) -> tuple[str, list[dict], str, bool]:
    """(policy text, rules with their meaning, fallback, whether CUSTOM_KIND is a workload kind)."""
    rule_list = draw(st.lists(rules(), max_size=4))
    fallback = draw(st.sampled_from(["keep", "native", "regular", "default", None]))
    custom_kind = draw(st.booleans())
    spec: dict = {"rules": [{k: v for k, v in rule.items() if k != "_reference"} for rule in rule_list]}
    if fallback is not None:
        spec["fallback"] = fallback
    if custom_kind:
        spec["workloadKinds"] = [{"kind": CUSTOM_KIND[0], "apiVersion": CUSTOM_KIND[1], "podTemplate": ".".join(CUSTOM_KIND[2])}]
    text = yaml.safe_dump({"apiVersion": "sidecar-policy/v1alpha1", "kind": "SidecarPolicy", "spec": spec}, sort_keys=False)
    return text, rule_list, fallback or "keep", custom_kind


# Kinds the rules draw that own no pods of their own (docs/admission.md): a PodTemplate, a Knative Service.
HIDDEN_AT_ADMISSION = frozenset({"PodTemplate", "Service"})


def readable_at_admission(rule: dict) -> dict:
    """The rule less what a pod cannot answer at admission (core/admission.py unreadable): workload
    labels, kinds whose pods another object owns, and a CronJob that is not read as one of the Jobs."""
    rule = {**rule, "_reference": dict(rule["_reference"])}
    match = rule.get("match")
    if not match:
        return rule
    match = rule["match"] = {key: value for key, value in match.items() if key != "labels"}
    rule["_reference"].pop("labels", None)
    kinds = [kind for kind in match.get("kinds") or () if kind not in HIDDEN_AT_ADMISSION]
    if "Job" not in kinds or "names" in match:
        kinds = [kind for kind in kinds if kind != "CronJob"]
    if "kinds" in match:
        match["kinds"] = rule["_reference"]["kinds"] = kinds or ["Job"]
    rule["match"] = match or None
    return rule


@st.composite
def admission_policies(draw) -> tuple[str, list[dict], str, bool]:
    """`policies()` whose every rule a pod can answer at admission."""
    _, rule_list, fallback, custom_kind = draw(policies())
    rule_list = [readable_at_admission(rule) for rule in rule_list]
    spec: dict = {"fallback": fallback, "rules": [{k: v for k, v in rule.items() if k != "_reference"} for rule in rule_list]}
    if custom_kind:
        spec["workloadKinds"] = [{"kind": CUSTOM_KIND[0], "apiVersion": CUSTOM_KIND[1], "podTemplate": ".".join(CUSTOM_KIND[2])}]
    text = yaml.safe_dump({"apiVersion": "sidecar-policy/v1alpha1", "kind": "SidecarPolicy", "spec": spec}, sort_keys=False)
    return text, rule_list, fallback, custom_kind


# --- broken input ------------------------------------------------------------------------------

NOISE = [b":", b"{", b"}", b"[", b"- ", b"&a ", b"*a", b"!!python/object/apply:os.system [x] ", b"!t ", b"\t", b"\x00",
         b"\xff", b"\xef\xbb\xbf", b"---\n", b"...\n", b"\r", b"\n", b"'", b'"', b"? ", b"<<: *a\n", b"%YAML 1.1\n", b"#"]


@st.composite
def mutated(draw, stream_strategy) -> bytes:
    """A generated stream with a few bytes deleted, duplicated or replaced by YAML syntax."""
    data = bytearray(draw(stream_strategy).data)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        start = draw(st.integers(0, len(data) - 1))
        end = min(len(data), start + draw(st.integers(0, 12)))
        action = draw(st.sampled_from(["delete", "repeat", "noise"]))
        if action == "delete":
            del data[start:end]
        elif action == "repeat":
            data[start:start] = data[start:end]
        else:
            data[start:end] = draw(st.sampled_from(NOISE))
    return bytes(data)
