"""read -> decide -> edit -> write, one document at a time: the one core every front end uses."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property

from yaml.nodes import MappingNode, Node

from postrender.core import anchors, conversion, podshape, textedit, triage, yamlnodes
from postrender.core.conversion import apply_decision
from postrender.core.errors import InputError, Location
from postrender.core.lazyre import compiled_on_use
from postrender.core.meshes import ISTIO_SWITCH, AnnotationSwitch
from postrender.core.policy import Policy, Rule, Workload
from postrender.core.stream import BOM, Document, Source, read_documents
from postrender.core.typed import NamedTuple, Protocol
from postrender.core.workloads import FoundWorkload, KindTable, find_workloads

_STRAY_BOM = re.compile("^\ufeff", re.MULTILINE)
_OTHER_LINE_BREAK = compiled_on_use("\r(?!\n)|[\x85\u2028\u2029]")  # only for an error


def _refuse_shared_place(owner: MappingNode, at: tuple[str, ...], shared: set[int], keys: tuple[str, ...]) -> None:
    """An edit of text that stands in several places (a YAML anchor and its aliases) would change
    them all: another workload's decision, or an object that is no workload at all."""
    what = _PLACE_NAMES.get(at, f"mapping that holds {at[0]}")
    node: Node | None = owner
    # What an annotation edit may touch, outermost first: what to call it, and the key inside it.
    for part, step in zip([what, *(f"{what}'s {step}" for step in at[:-1])], at):
        if node is None:
            return
        _refuse_shared(node, part, shared)
        node = yamlnodes.get(node, step)
    for key in keys:  # the annotations themselves
        _refuse_shared(yamlnodes.get(node, key), "annotation", shared)


def _refuse_shared(node: Node | None, part: str, shared: set[int]) -> None:
    if node is not None and id(node) in shared:
        raise textedit.EditError(f"the {part} is shared with another place through a YAML anchor and alias; "
                                 "an edit here would change both (write it out in full)", node)


_ANNOTATIONS = ("annotations",)
_PLACE_NAMES = {textedit.TEMPLATE_ANNOTATIONS: "pod template", _ANNOTATIONS: "pod metadata"}


def _places(found: FoundWorkload) -> list[tuple[MappingNode, tuple[str, ...]]]:
    """Where the decision is written (the target), then the pod metadata merged into the same pods."""
    return [(found.owner, found.at)] + [(node, _ANNOTATIONS) for node in found.merged if node is not found.metadata]


def _says(owner: MappingNode, at: tuple[str, ...], keys: tuple[str, ...]) -> bool:
    """Whether the annotations at `at` hold one of these keys."""
    annotations = yamlnodes.get(owner, *at)
    return any(yamlnodes.lookup(annotations, key) is not None for key in keys)


def _kube_inject_places(found: FoundWorkload, keys: tuple[str, ...]) -> list[tuple[MappingNode, tuple[str, ...]]]:
    """_places, and for a CronJob that kube-inject injected also its spec.jobTemplate, where kube-inject
    reads the decision: the first of the two that says one is the target, jobTemplate when neither
    does; the other is edited only where it says one too (docs/conversion.md)."""
    places = _places(found)
    holder = conversion.kube_inject_holder(found)
    if holder is None:
        return places
    job: tuple[MappingNode, tuple[str, ...]] = (holder, textedit.TEMPLATE_ANNOTATIONS)
    target, *merged = places
    first, second = (target, job) if _says(*target, keys) and not _says(*job, keys) else (job, target)
    return [first, second, *merged]


def _object_label(found: FoundWorkload) -> str:
    """`Deployment web`, or the kind alone when the name cannot be read (that may be the error)."""
    try:
        name = yamlnodes.scalar_text(yamlnodes.get(found.node, "metadata", "name"))
    except yamlnodes.NodeError:
        name = None
    return f"{found.kind} {name}" if name else found.kind


class MissingNamespace(NamedTuple):
    """What the error says when a namespace rule meets a document nobody gave a namespace for."""

    why: str  # why no namespace is known
    fix: str  # what the user can do about it


HELM_MISSING_NAMESPACE = MissingNamespace(
    "no namespace was given",
    "pass --namespace NS (under Helm: --post-renderer-args=--namespace=NS, the namespace of -n, which Helm does not pass on)",
)


class Options(NamedTuple):
    namespace: str = ""  # for documents that leave metadata.namespace out
    # False: nobody said which namespace those documents go to (Helm never tells a post-renderer),
    # so a rule that matches on namespaces cannot decide them: that is an error, never a silent miss.
    namespace_known: bool = True
    kube_version: tuple[int, int] | None = None
    input_name: str = "<stdin>"
    missing_namespace: MissingNamespace = HELM_MISSING_NAMESPACE  # each front end says it in its own terms


class Sink(Protocol):
    """Where `run` writes the stream: a file, a pipe, a buffer, or something that only counts or discards."""

    def write(self, data: bytes, /) -> object: ...


class Outcome:
    """What happened to one workload: reports, findings and warnings are built from these.

    A plain class, not a dataclass: importing dataclasses costs every run ~12% of start-up.
    """

    def __init__(self, workload: Workload, rule: Rule | None, mode: str, action: str,
                 template_node: MappingNode | None, converted: dict | None = None, switch: AnnotationSwitch = ISTIO_SWITCH,
                 pod_metadata: bool = False, written: dict | None = None, job_template: dict | None = None):
        self.workload = workload
        self.rule = rule  # None: the fallback decided
        self.mode = mode  # native | regular | default | keep
        self.action = action  # set | replaced | removed | unchanged | converted | kept
        self.template_node = template_node  # the pod template; the pod metadata if pod_metadata; None: not there yet
        self.converted = converted  # the template after a conversion
        self.switch = switch  # the annotations that carry the decision
        self.pod_metadata = pod_metadata
        self._written = written  # the pod template as the conversion stage wrote it (when one ran)
        self.job_template = job_template  # a kube-injected CronJob's spec.jobTemplate, as written

    @property
    def decision_annotations(self) -> dict:
        """The annotations that carry the pod's decision: the pod template's, or those of a
        kube-injected CronJob's spec.jobTemplate.metadata when only they say it (docs/conversion.md)."""
        for holder in (self.template, self.job_template or {}):
            metadata = holder.get("metadata")
            annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
            if isinstance(annotations, dict) and any(key in annotations for key in self.switch.all_keys):
                return annotations
        metadata = self.template.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        return annotations if isinstance(annotations, dict) else {}

    def __repr__(self) -> str:
        return f"Outcome({self.workload!r}, rule={self.rule!r}, mode={self.mode!r}, action={self.action!r})"

    @cached_property
    def template(self) -> dict:
        """The pod template as plain data, as it is written out (pod metadata as a template's `metadata`)."""
        if self.converted is not None:
            return self.converted
        if self._written is not None:
            return self._written
        data = self.input_template()
        apply_decision(data, self.mode, self.switch)
        return data

    def input_template(self) -> dict:
        """The pod template as plain data, as it came in (a new copy each time)."""
        data = (yamlnodes.construct(self.template_node) if self.template_node is not None else None) or {}
        return {"metadata": data} if self.pod_metadata else data


class Summary:
    """What a run learnt about the policy as a whole: which rules decided at least one workload."""

    def __init__(self) -> None:
        self.matched_rules: set[int] = set()

    def unmatched_rules(self, policy: Policy) -> list[Rule]:
        return [rule for rule in policy.rules if rule.index not in self.matched_rules]


def run(
    policy: Policy,
    source: Source,
    sink: Sink,
    options: Options = Options(),
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Summary:
    """Post-render a stream; every document is written, in order, as soon as it is decided."""
    engine = Engine(policy, options, on_outcome)
    for document in read_documents(source):
        sink.write(engine.process(document))
    return engine.summary


class Engine:
    """The policy applied one document at a time, for a front end that holds documents rather than a
    stream (the KRM function's items). `run` is this over `read_documents`."""

    def __init__(self, policy: Policy, options: Options = Options(), on_outcome: Callable[[Outcome], None] | None = None):
        self.policy = policy
        self.options = options
        self.kinds: KindTable = policy.kinds
        self.switch = policy.switch
        self.on_outcome = on_outcome
        self.summary = Summary()

    def process(self, document: Document) -> bytes:
        """The document's bytes after the policy: its own raw bytes when nothing changed."""
        text = self._decode(document)
        kind = triage.sniff_kind(document.raw)
        if kind is not None and not self.kinds.may_hold_workloads(kind.decode("ascii")):
            return document.raw
        has_bom = text.startswith("\ufeff")
        body = text[1:] if has_bom else text
        stray_bom = _STRAY_BOM.search(body)
        if stray_bom is not None:
            line = document.line + body.count("\n", 0, stray_bom.start())
            raise InputError("a byte order mark (U+FEFF) inside the stream: only the stream's first "
                             "bytes may be one (concatenated files? save them without a BOM)",
                             self._location(document, line))
        try:
            root = yamlnodes.compose(body)
            edited = self._edit(document, body, root)
        except (yamlnodes.NodeError, textedit.EditError) as error:
            if isinstance(error, textedit.EditError) and triage.has_other_line_breaks(document.raw):
                raise self._line_break_error(document, body) from None  # the cause, rather than its symptom
            raise self._error(document, error) from None
        if edited is None:
            return document.raw
        return (BOM if has_bom else b"") + edited.encode("utf-8")

    def _edit(self, document: Document, body: str, root: Node | None) -> str | None:
        doc_text = textedit.DocumentText(body)
        splices: list[textedit.Splice] = []
        converting = self._conversion(root, body)
        shared: list[set[int]] = []  # the document's shared nodes, found once when an edit needs them
        for found in find_workloads(root, self.kinds):
            try:
                splices += self._workload_edits(document, body, root, found, doc_text, converting, shared)
            except (yamlnodes.NodeError, textedit.EditError, InputError) as error:
                error.message = f"{_object_label(found)}: {error.message}"  # every error about an object names it
                raise
        if (splices or converting is not None and converting.changed) and triage.has_other_line_breaks(document.raw):
            raise self._line_break_error(document, body)
        if converting is not None and converting.changed:
            return converting.emit(body)  # containers moved: re-emitted, every decision in its data
        return doc_text.apply(splices) if splices else None

    def _workload_edits(self, document: Document, body: str, root: Node | None, found: FoundWorkload,
                        doc_text: textedit.DocumentText, converting: conversion.DocumentConversion | None,
                        shared: list[set[int]]) -> list[textedit.Splice]:
        """Decide one workload's place, tell on_outcome, and return the splices its annotations need."""
        podshape.check_workload(found.node, found.template, body, found.metadata if found.template is None else None)
        workload = self._workload(document, found, body)
        rule, mode = self.policy.decide(workload)
        if not workload.namespace and not self.options.namespace_known:
            self._require_namespace(document, workload, rule)
        if rule is not None:
            self.summary.matched_rules.add(rule.index)
        places = _places(found) if converting is None else _kube_inject_places(found, self.switch.all_keys)
        changes, action = self._annotate(doc_text, places, mode)
        if changes:
            if not shared:
                shared.append(anchors.shared_nodes(root, body))
            for owner, at in places:
                _refuse_shared_place(owner, at, shared[0], self.switch.all_keys)
            anchors.refuse_removed_anchors(body, [(splice.start, splice.end) for splice in changes])
        converted = None
        if converting is not None:
            location = self._location(document, workload.line)
            converted = converting.apply(found, places, mode, location)
            action = "converted" if converted is not None else action
        if self.on_outcome is not None:
            pod_metadata = found.target.pod_metadata
            written = job_template = None
            if converting is not None:
                written, job_template = converting.template(found), converting.job_template(found)
            outcome = Outcome(workload, rule, mode, action, found.metadata if pod_metadata else found.template,
                              converted, self.switch, pod_metadata, written, job_template)
            _ = outcome.template  # built here, so that data YAML cannot hold (`!!int x`) is an input error
            self.on_outcome(outcome)
        return changes

    def _line_break_error(self, document: Document, body: str) -> InputError:
        """Edits find lines by LF; a YAML 1.1 reader also breaks them at CR, NEL, LS and PS."""
        found = _OTHER_LINE_BREAK.search(body)
        assert found is not None
        name = {"\r": "a CR without LF", "\x85": "NEL, U+0085", "\u2028": "LS, U+2028", "\u2029": "PS, U+2029"}[found.group()]
        line = document.line + body.count("\n", 0, found.start())
        column = found.start() - body.rfind("\n", 0, found.start())
        return InputError(f"a line break other than LF or CRLF ({name}) in a document that must be edited: "
                          "sidecar-policy edits only LF or CRLF lines (convert the file's line ends)",
                          self._location(document, line, column))

    def _conversion(self, root: Node | None, body: str) -> conversion.DocumentConversion | None:
        """The document's data, loaded only when the policy converts and Istio injected something here."""
        if root is None or not self.policy.convert_injected or not conversion.may_convert(body):
            return None
        return conversion.DocumentConversion(
            root,
            switch=self.switch,
            mesh_default=self.policy.mesh_default,
            hold_application=self.policy.hold_application,
            hold_always=self.policy.hold_application_always,
            kube_version=self.options.kube_version,
        )

    def _annotate(self, doc_text: textedit.DocumentText, places: list[tuple[MappingNode, tuple[str, ...]]],
                  mode: str) -> tuple[list[textedit.Splice], str]:
        """The target (the first place) gets the decision; the other places that say anything get the
        same (pod metadata the operator merges into the same pods), so that none says otherwise."""
        if mode == "keep":
            return [], "kept"
        setting, removing = self.switch.setting(mode), self.switch.removing(mode)
        target, *merged = places
        edited = [target] + [place for place in merged if _says(*place, self.switch.all_keys)]
        # Pod metadata (Spark's `driver`) may be required by its schema: it stays a mapping when emptied.
        splices = [splice for index, (owner, at) in enumerate(edited) for splice in textedit.edit_annotations(
            doc_text, owner, setting, removing, at, keep_holder=index == 0 and at == _ANNOTATIONS)]
        if not splices:
            return [], "unchanged"
        if not setting:
            return splices, "removed"
        present = any(_says(owner, at, tuple(key for key, _ in setting)) for owner, at in edited)
        return splices, "replaced" if present else "set"

    def _workload(self, document: Document, found: FoundWorkload, text: str) -> Workload:
        metadata = yamlnodes.get(found.node, "metadata")
        place = (found.template or found.metadata or found.owner) if found.label else found.node
        return Workload(
            kind=found.kind,
            api_version=found.api_version,
            name=yamlnodes.scalar_text(yamlnodes.get(metadata, "name")) or "",
            namespace=yamlnodes.scalar_text(yamlnodes.get(metadata, "namespace")) or self.options.namespace,
            labels=podshape.labels(yamlnodes.get(metadata, "labels"), text),
            pod_labels=podshape.labels(yamlnodes.get(found.metadata, "labels"), text),
            document=document.index,
            source=document.source,
            line=document.line + place.start_mark.line,
            target=found.label,
            completes=found.target.completes,
        )

    def _require_namespace(self, document: Document, workload: Workload, decided: Rule | None) -> None:
        """Refuse when a rule up to the deciding one would need the namespace nobody gave."""
        for rule in self.policy.rules:
            if rule.match.namespaces is not None and rule.match._replace(namespaces=None).matches(workload):
                named = f"rule {rule.index}" + (f" {rule.name!r}" if rule.name else "")
                why, fix = self.options.missing_namespace
                raise InputError(
                    f"no metadata.namespace and {why}, so {named} (match.namespaces) cannot decide it: {fix}",
                    self._location(document, workload.line),
                )
            if rule is decided:
                return

    def _decode(self, document: Document) -> str:
        try:
            return document.raw.decode("utf-8")
        except UnicodeDecodeError as error:
            line = document.line + document.raw[: error.start].count(b"\n")
            raise InputError(
                f"not UTF-8: byte 0x{document.raw[error.start]:02x} cannot be decoded",
                self._location(document, line),
            ) from None

    def _error(self, document: Document, error: yamlnodes.NodeError | textedit.EditError) -> InputError:
        if isinstance(error, textedit.EditError):
            line, column = error.node.start_mark.line, error.node.start_mark.column
        else:
            line, column = error.line, error.column
        location = self._location(
            document,
            None if line is None else document.line + line,
            None if column is None else column + 1,
        )
        return InputError(error.message, location)

    def _location(self, document: Document, line: int | None, column: int | None = None) -> Location:
        return Location(self.options.input_name, document.index, document.source, line, column)
