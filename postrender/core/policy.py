"""The SidecarPolicy: loading, validation with positions, and the decision for a workload.

The policy is validated completely before any manifest is read, and every message names the
policy file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from fnmatch import translate

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from postrender.core import linkerd, meshes, selectors, yamlnodes
from postrender.core.errors import Location, UsageError
from postrender.core.lazyre import compiled_on_use
from postrender.core.typed import TYPE_CHECKING, NamedTuple
from postrender.core.workloads import BUILTIN_KINDS, KindTable, Target, TemplateKind, parse_path

if TYPE_CHECKING:
    from typing import Any

API_VERSION = "sidecar-policy/v1alpha1"
KIND = "SidecarPolicy"
MODES = ("native", "regular", "default")
FALLBACKS = ("keep",) + MODES
MESH_DEFAULTS = ("native", "regular")
MAX_POLICY_BYTES = 1 << 20
MAX_PATTERN_LENGTH = 253  # the longest Kubernetes name
_STEP = r"(?:[A-Za-z0-9_-]+(?:\[\*\])?|\*)"  # a key, a key then every item of its list, every value of a mapping
_PATH_RE = compiled_on_use(rf"^{_STEP}(?:\.{_STEP})*$")  # for workloadKinds
_PATH_EXAMPLE = "a dotted path such as spec.template, spec.groups[*].template or spec.replicas.*.template"


class Workload(NamedTuple):
    """What a rule can match on, for one workload in the stream."""

    kind: str
    api_version: str | None
    name: str
    namespace: str
    labels: Mapping[str, str]
    pod_labels: Mapping[str, str]
    document: int  # 1-based index in the stream
    source: str  # Helm's `# Source:` path, or ""
    line: int  # 1-based line in the stream where the workload starts
    target: str = ""  # which of the object's pod templates or pod metadata, e.g. `workerGroupSpecs[1]`; "" when it has one
    completes: bool = False  # its pods run to completion (the kind table's Target.completes)


class Match(NamedTuple):
    kinds: frozenset[str] | None = None
    names: re.Pattern | None = None
    namespaces: re.Pattern | None = None
    labels: selectors.Selector | None = None
    pod_labels: selectors.Selector | None = None

    def matches(self, workload: Workload) -> bool:
        return (
            (self.kinds is None or workload.kind in self.kinds)
            and (self.names is None or self.names.match(workload.name) is not None)
            and (self.namespaces is None or self.namespaces.match(workload.namespace) is not None)
            and (self.labels is None or self.labels.matches(workload.labels))
            and (self.pod_labels is None or self.pod_labels.matches(workload.pod_labels))
        )


class Rule(NamedTuple):
    index: int  # type: ignore[assignment]  # shadows tuple.index, which nothing here calls; 1-based position in spec.rules
    name: str
    sidecar: str  # one of MODES
    match: Match
    source: dict  # the rule as written, for reports and the Flux translation
    line: int  # 1-based line of the rule in the policy file

    @property
    def label(self) -> str:
        return self.name or f"rule {self.index}"


class Policy(NamedTuple):
    origin: str  # the policy file's path, or what the policy came from
    rules: tuple[Rule, ...] = ()
    fallback: str = "keep"
    workload_kinds: tuple[TemplateKind, ...] = ()
    convert_injected: bool = False
    mesh_default: str = "native"
    hold_application: bool = False
    hold_application_always: bool = False  # `always`: Istio's Helm value, which a pod cannot turn off
    mesh: str = meshes.ISTIO
    linkerd_version: linkerd.Version | None = None  # None: not known, every key is written

    @property
    def kinds(self) -> KindTable:
        return KindTable(BUILTIN_KINDS, self.workload_kinds)

    @property
    def switch(self) -> meshes.AnnotationSwitch:
        """The annotations that carry this policy's decisions."""
        return meshes.linkerd_switch(self.linkerd_version) if self.mesh == meshes.LINKERD else meshes.ISTIO_SWITCH

    @property
    def mesh_facts(self) -> meshes.Mesh:
        return meshes.MESHES[self.mesh]

    def decide(self, workload: Workload) -> tuple[Rule | None, str]:
        """The first matching rule and its mode; (None, fallback) when no rule matches."""
        for rule in self.rules:
            if rule.match.matches(workload):
                return rule, rule.sidecar
        return None, self.fallback


def load_policy(path: str, linkerd_version: str | None = None) -> Policy:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as error:
        raise UsageError(f"cannot read the policy: {error.strerror}", Location(file=path)) from None
    if len(data) > MAX_POLICY_BYTES:
        raise UsageError(f"the policy is larger than {MAX_POLICY_BYTES} bytes", Location(file=path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise UsageError("the policy is not UTF-8", Location(file=path, line=line)) from None
    return parse_policy(text, path, linkerd_version)


def parse_policy(text: str, origin: str, linkerd_version: str | None = None) -> Policy:
    """Validate and compile a policy; raise UsageError at the first problem, with its position.

    `linkerd_version` (--linkerd-version) stands in for the policy's spec.linkerdVersion."""
    try:
        root = yamlnodes.compose(text)
    except yamlnodes.NodeError as error:
        raise UsageError(error.message, _position(origin, error.line, error.column)) from None
    tagged = yamlnodes.foreign_tag(root)
    if tagged is not None:  # a policy may come from a repository nobody reviewed: plain data only
        raise _Reader(origin).fail(tagged, f"unsupported YAML tag {tagged.tag}: a policy is plain YAML data")
    return _Reader(origin, linkerd_version).policy(root)


def _position(origin: str, line: int | None, column: int | None) -> Location:
    return Location(file=origin, line=None if line is None else line + 1, column=None if column is None else column + 1)


class _Reader:
    """Walks the policy's nodes, so each error can point at the node that caused it."""

    def __init__(self, origin: str, linkerd_version: str | None = None):
        self.origin = origin
        self.linkerd_version = linkerd_version

    def fail(self, node: Node | None, message: str) -> UsageError:
        if node is None:
            return UsageError(message, Location(file=self.origin))
        return UsageError(message, _position(self.origin, node.start_mark.line, node.start_mark.column))

    def mapping(self, node: Node | None, what: str, allowed: tuple[str, ...]) -> dict[str, Node]:
        if not isinstance(node, MappingNode) or node.tag != "tag:yaml.org,2002:map":
            raise self.fail(node, f"{what} must be a mapping")
        fields: dict[str, Node] = {}
        for key, value in yamlnodes.entries(node):
            name = yamlnodes.scalar_text(key)
            if name not in allowed:
                raise self.fail(key, f"unknown field {name!r} in {what}; allowed: {', '.join(allowed)}")
            if name in fields:
                raise self.fail(key, f"duplicate field {name!r} in {what}")
            fields[name] = value
        return fields

    def string(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            raise self.fail(node, f"{what} must be a string")
        return str(node.value)

    def choice(self, node: Node, what: str, allowed: tuple[str, ...]) -> str:
        value = yamlnodes.scalar_text(node) if isinstance(node, ScalarNode) else None
        if value not in allowed:
            raise self.fail(node, f"{what} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def boolean(self, node: Node, what: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            raise self.fail(node, f"{what} must be true or false")
        return bool(self.data(node))

    def data(self, node: Node) -> Any:
        """Plain data for a node; a tag that cannot become data (`!!int x`) is the policy's error."""
        try:
            return yamlnodes.construct(node)
        except yamlnodes.NodeError as error:
            raise UsageError(error.message, _position(self.origin, error.line, error.column)) from None

    def sequence(self, node: Node | None, what: str) -> list[Node]:
        if yamlnodes.is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def policy(self, root: Node | None) -> Policy:
        if root is None:
            raise self.fail(None, "the policy is empty")
        top = self.mapping(root, "the policy", ("apiVersion", "kind", "metadata", "spec"))
        for field, expected in (("apiVersion", API_VERSION), ("kind", KIND)):
            if field not in top:
                raise self.fail(root, f"missing {field}: {expected}")
            if yamlnodes.scalar_text(top[field]) != expected:
                raise self.fail(top[field], f"{field} must be {expected}")
        if "metadata" in top and not isinstance(top["metadata"], MappingNode) and not yamlnodes.is_null(top["metadata"]):
            raise self.fail(top["metadata"], "metadata must be a mapping")
        if "spec" not in top:
            raise self.fail(root, "missing spec")
        spec = self.mapping(top["spec"], "spec", _SPEC_FIELDS)
        mesh = self.choice(spec["mesh"], "spec.mesh", meshes.NAMES) if "mesh" in spec else meshes.ISTIO
        mesh_fields = self.linkerd_fields(spec) if mesh == meshes.LINKERD else self.istio_fields(spec)
        return Policy(
            origin=self.origin,
            rules=tuple(self.rule(node, index) for index, node in enumerate(self.sequence(spec.get("rules"), "spec.rules"), 1)),
            fallback=self.choice(spec["fallback"], "spec.fallback", FALLBACKS) if "fallback" in spec else "keep",
            workload_kinds=tuple(self.workload_kind(node) for node in self.sequence(spec.get("workloadKinds"), "spec.workloadKinds")),
            **mesh_fields,
        )

    def istio_fields(self, spec: dict[str, Node]) -> dict[str, Any]:
        if "linkerdVersion" in spec:
            raise self.fail(spec["linkerdVersion"], "spec.linkerdVersion is for spec.mesh: linkerd")
        if self.linkerd_version is not None:
            raise UsageError(f"--linkerd-version is for a policy with spec.mesh: linkerd; {self.origin} drives Istio")
        return {
            "convert_injected": self.boolean(spec["convertInjected"], "spec.convertInjected") if "convertInjected" in spec else False,
            "mesh_default": self.choice(spec["meshDefault"], "spec.meshDefault", MESH_DEFAULTS) if "meshDefault" in spec else "native",
            **self.hold_application(spec.get("holdApplicationUntilProxyStarts")),
        }

    def linkerd_fields(self, spec: dict[str, Node]) -> dict[str, Any]:
        """Linkerd's fields; Istio's own ones are refused rather than ignored."""
        for field, why in _ISTIO_ONLY.items():  # `false` says nothing, and an Istio policy copied over may have it
            if field in spec and not (spec[field].tag == "tag:yaml.org,2002:bool" and self.data(spec[field]) is False):
                raise self.fail(spec[field], f"spec.{field} {why}")
        version = None
        if self.linkerd_version is not None:
            version = self.version(self.linkerd_version, None, "--linkerd-version")
        elif "linkerdVersion" in spec:
            node = spec["linkerdVersion"]
            if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:str":
                raise self.fail(node, 'spec.linkerdVersion must be a string: quote it ("2.20"; YAML reads 2.20 as the number 2.2)')
            version = self.version(node.value, node, "spec.linkerdVersion")
        default = linkerd.default_form(version)
        return {
            "mesh": meshes.LINKERD,
            "linkerd_version": version,
            "mesh_default": self.choice(spec["meshDefault"], "spec.meshDefault", MESH_DEFAULTS) if "meshDefault" in spec else default,
        }

    def version(self, text: str, node: Node | None, what: str) -> linkerd.Version:
        try:
            return linkerd.parse_version(text)
        except linkerd.VersionError as error:
            raise self.fail(node, f"{what}: {error}") if node is not None else UsageError(f"{what}: {error}") from None

    def hold_application(self, node: Node | None) -> dict[str, bool]:
        what = "spec.holdApplicationUntilProxyStarts"
        if node is None:
            return {}
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:str" and node.value == "always":
            return {"hold_application": True, "hold_application_always": True}
        if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            raise self.fail(node, f"{what} must be true, false or always")
        return {"hold_application": self.data(node)}

    def rule(self, node: Node, index: int) -> Rule:
        what = f"spec.rules[{index - 1}]"
        fields = self.mapping(node, what, ("name", "match", "sidecar"))
        if "sidecar" not in fields:
            raise self.fail(node, f"{what} needs sidecar: one of {', '.join(MODES)}")
        match = Match()
        if "match" in fields and not yamlnodes.is_null(fields["match"]):
            match = self.match(fields["match"], f"{what}.match")
        return Rule(
            index=index,
            name=self.string(fields["name"], f"{what}.name") if "name" in fields else "",
            sidecar=self.choice(fields["sidecar"], f"{what}.sidecar", MODES),
            match=match,
            source=self.data(node),
            line=node.start_mark.line + 1,
        )

    def match(self, node: Node, what: str) -> Match:
        fields = self.mapping(node, what, tuple(_MATCH_FIELDS))
        return Match(**{_MATCH_FIELDS[name]: self._MATCHERS[name](self, value, f"{what}.{name}") for name, value in fields.items()})

    def kinds(self, node: Node, what: str) -> frozenset[str]:
        return frozenset(self.string(item, f"{what} entry") for item in self.non_empty_list(node, what))

    def globs(self, node: Node, what: str) -> re.Pattern:
        patterns = []
        for item in self.non_empty_list(node, what):
            pattern = self.string(item, f"{what} entry")
            problem = glob_problem(pattern)
            if problem:
                raise self.fail(item, f"{what}: {problem}")
            patterns.append(translate(pattern))
        return re.compile("|".join(f"(?:{p})" for p in patterns))

    def selector(self, node: Node, what: str) -> selectors.Selector:
        try:
            if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:str":
                return selectors.parse_string(node.value)
            if isinstance(node, MappingNode):
                return selectors.from_object(self.data(node))
        except selectors.SelectorError as error:
            raise self.fail(node, f"{what}: {error}") from None
        raise self.fail(node, f"{what} must be a selector string (a=b,c!=d) or an object with matchLabels/matchExpressions")

    def non_empty_list(self, node: Node, what: str) -> list[Node]:
        items = self.sequence(node, what)
        if not items:
            raise self.fail(node, f"{what} must list at least one entry (leave it out to match any)")
        return items

    _MATCHERS: dict[str, Callable] = {
        "kinds": kinds,
        "names": globs,
        "namespaces": globs,
        "labels": selector,
        "podLabels": selector,
    }

    def workload_kind(self, node: Node) -> TemplateKind:
        what = "spec.workloadKinds entry"
        fields = self.mapping(node, what, _KIND_FIELDS)
        if "kind" not in fields:
            raise self.fail(node, f"{what} needs kind")
        if not {"podTemplate", "podTemplates", "podMetadata"} & set(fields):
            raise self.fail(node, f"{what} needs podTemplate, podTemplates or podMetadata")
        if "podTemplate" in fields and "podTemplates" in fields:
            raise self.fail(fields["podTemplates"], f"{what} has podTemplate and podTemplates: list every template in podTemplates")
        completes = self.boolean(fields["runsToCompletion"], f"{what}.runsToCompletion") if "runsToCompletion" in fields else False
        targets = [self.target(fields["podTemplate"], f"{what}.podTemplate", False, completes)] if "podTemplate" in fields else []
        for field, pod_metadata in (("podTemplates", False), ("podMetadata", True)):
            if field in fields:
                items = self.non_empty_list(fields[field], f"{what}.{field}")
                targets += [self.target(item, f"{what}.{field}[{index}]", pod_metadata, completes) for index, item in enumerate(items)]
        groups = None
        if "apiVersion" in fields:
            api_version = self.string(fields["apiVersion"], f"{what}.apiVersion")
            groups = frozenset([_group_of(api_version)])
        return TemplateKind(self.string(fields["kind"], f"{what}.kind"), groups, tuple(targets))

    def target(self, node: Node, what: str, pod_metadata: bool, completes: bool) -> Target:
        """A path, or {path, mergedWith, runsToCompletion}."""
        if not isinstance(node, MappingNode):
            return Target(self.path(node, what), pod_metadata, (), completes)
        fields = self.mapping(node, what, ("path", "mergedWith", "runsToCompletion"))
        if "path" not in fields:
            raise self.fail(node, f"{what} needs path")
        merged = tuple(self.path(item, f"{what}.mergedWith[{index}]")
                       for index, item in enumerate(self.non_empty_list(fields["mergedWith"], f"{what}.mergedWith"))
                       ) if "mergedWith" in fields else ()
        if "runsToCompletion" in fields:
            completes = self.boolean(fields["runsToCompletion"], f"{what}.runsToCompletion")
        return Target(self.path(fields["path"], f"{what}.path"), pod_metadata, merged, completes)

    def path(self, node: Node, what: str) -> tuple[str, ...]:
        text = self.string(node, what)
        if not _PATH_RE.match(text):
            raise self.fail(node, f"{what} must be {_PATH_EXAMPLE}")
        return parse_path(text)


def glob_problem(pattern: str) -> str | None:
    """What is wrong with a shell glob, or None. Reversed ranges such as [9-0] match nothing in
    fnmatch and are errors in Go's regexp (the Flux translation): refuse them as typos."""
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        return f"a pattern has 1 to {MAX_PATTERN_LENGTH} characters"
    if pattern.count("[") != pattern.count("]"):
        return f"unbalanced '[' or ']' in {pattern!r}"
    for found in _GLOB_SET.finditer(pattern):
        members = found.group(1)
        for position in range(1, len(members) - 1):
            if members[position] == "-" and members[position - 1] > members[position + 1]:
                return f"reversed range {members[position - 1:position + 2]!r} in {pattern!r}"
    return None


_GLOB_SET = re.compile(r"\[!?(\]?[^\]]*)\]")


def _group_of(api_version: str) -> str:
    """`apps.kruise.io/v1alpha1` and `apps.kruise.io` name a group; `v1` is the core group."""
    if "/" in api_version:
        return api_version.rpartition("/")[0]
    return "" if _VERSION_RE.match(api_version) else api_version


_VERSION_RE = compiled_on_use(r"^v[0-9]+((alpha|beta)[0-9]+)?$")
_KIND_FIELDS = ("kind", "apiVersion", "podTemplate", "podTemplates", "podMetadata", "runsToCompletion")
_SPEC_FIELDS = ("mesh", "linkerdVersion", "fallback", "rules", "workloadKinds", "convertInjected", "meshDefault",
                "holdApplicationUntilProxyStarts")
_ISTIO_ONLY = {
    "convertInjected": ("converts an istio-proxy that Istio injected; a linkerd-proxy already in the manifests "
                        "(linkerd inject --manual) is not converted: annotate the workloads, then inject"),
    "holdApplicationUntilProxyStarts": ("is Istio's; Linkerd's is the config.linkerd.io/proxy-await annotation, "
                                        "which the policy leaves alone"),
}
_MATCH_FIELDS = {"kinds": "kinds", "names": "names", "namespaces": "namespaces", "labels": "labels", "podLabels": "pod_labels"}
