"""The policy in CEL, as a MutatingAdmissionPolicy evaluates it for a Pod at CREATE.

The variables read the pod as core/admission.py does (`kind`, `group`, `name`, `labels`), one boolean
variable per rule says whether it matches, `sidecar` picks the first that does, and one JSON Patch
applies it. Variables are evaluated lazily, once each, and `?:`, `&&` and `||` stop early, so a pod
costs the rules up to the deciding one. The expressions are written for people too: reviewers read
them in a GitOps pull request, so each rule's variable starts with a comment naming it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from postrender.core.admission import HASH_CHAINS, Admission, HashChain, KindTest
from postrender.core.errors import UsageError
from postrender.core.globs import whole_match
from postrender.core.meshes import VALUES
from postrender.core.policy import Rule
from postrender.core.selectors import Requirement, Selector

# Rules per `?:` chain: CEL's parser refuses nesting deeper than 250 (cel-go parser/parser.go
# maxRecursionDepth), so a long policy's decision is a chain of chains, each in a variable of its own.
CHAIN_LENGTH = 50
# The longest expression CEL's parser takes (cel-go v0.29.2 parser/parser.go expressionSizeCodePointLimit,
# which Kubernetes keeps: the API server refuses a longer one, tests/test_admission_cluster.py).
MAX_CODE_POINTS = 100_000
_INT64_MAX = str((1 << 63) - 1)
_LABELS = "variables.labels"
_OWNER = "variables.controllers[0]"


def string(text: str) -> str:
    """A CEL string literal (JSON's escapes are CEL's, and non-ASCII stays as it is)."""
    return json.dumps(text, ensure_ascii=False)


def strings(values: Iterable[str]) -> str:
    return "[" + ", ".join(string(value) for value in sorted(values)) + "]"


def _chain_variable(kind: str) -> str:
    return "via" + kind


def reading_variables() -> list[tuple[str, str]]:
    """(name, expression): the workload the pod shows itself as (docs/admission.md, "How a pod is read")."""
    variables = [
        ("controllers", "object.metadata.?ownerReferences.orValue([]).filter(r, r.?controller.orValue(false))"),
        ("labels", "object.metadata.?labels.orValue({})"),
        ("ownerKind", f"variables.controllers.size() > 0 ? {_OWNER}.kind : \"\""),
        ("ownerName", f"variables.controllers.size() > 0 ? {_OWNER}.name : \"\""),
        ("ownerGroup", f"variables.controllers.size() > 0 && {_OWNER}.apiVersion.contains(\"/\") ? "
                       f"{_OWNER}.apiVersion.substring(0, {_OWNER}.apiVersion.lastIndexOf(\"/\")) : \"\""),
    ]
    for chain in HASH_CHAINS:
        label = string(chain.label)
        variables.append((_chain_variable(chain.kind), (
            f"variables.ownerKind == {string(chain.owner_kind)} && variables.ownerGroup == {string(chain.owner_group)} "
            f"&& {label} in {_LABELS} && variables.ownerName.endsWith(\"-\" + {_LABELS}[{label}])")))
    bare_name = 'object.metadata.?name.orValue("") != "" ? object.metadata.name : object.metadata.?generateName.orValue("")'
    variables += [
        ("kind", _by_chain('"Pod"', lambda chain: string(chain.kind), "variables.ownerKind")),
        ("group", _by_chain('""', lambda chain: string(chain.group), "variables.ownerGroup")),
        ("name", _by_chain(f"({bare_name})", lambda chain: (
            f"variables.ownerName.substring(0, variables.ownerName.size() - {_LABELS}[{string(chain.label)}].size() - 1)"),
            "variables.ownerName")),
        ("workload", 'variables.group + "/" + variables.kind'),
    ]
    return variables


def _by_chain(bare: str, chained: Callable[[HashChain], str], owned: str) -> str:
    """bare pod ? … : through a hash chain ? … : the controller's own."""
    parts = [f'variables.ownerKind == "" ? {bare}']
    parts += [f"variables.{_chain_variable(chain.kind)} ? {chained(chain)}" for chain in HASH_CHAINS]
    return " :\n".join(parts + [owned])


def rule_expression(admission: Admission, rule: Rule) -> str:
    """Whether the rule matches the pod, after a comment that names it."""
    match = rule.match
    where = json.dumps(f"{admission.policy.origin}:{rule.line}")  # ASCII on one line: the comment cannot end early
    comment = f"// rule {rule.index}" + (f" {json.dumps(rule.name)}" if rule.name else "") + f" at {where}: {rule.sidecar}"
    conditions = []
    others = sorted(admission.exempt_named - admission.named[rule.index])
    if others:  # an exempt namespace only the rules that name it may touch
        conditions.append(f"!(request.namespace in {strings(others)})")
    if match.kinds is not None:
        conditions.append(kind_condition(admission.kind_tests[rule.index]))
    source = rule.source.get("match") or {}
    for field, subject in (("names", "variables.name"), ("namespaces", "request.namespace")):
        if source.get(field) is not None:
            conditions.append(f"{subject}.matches({string(whole_match(source[field]))})")
    if match.pod_labels is not None and match.pod_labels.requirements:
        conditions.append(selector_condition(match.pod_labels))
    return comment + "\n" + ("\n&& ".join(conditions) or "true")


def kind_condition(test: KindTest) -> str:
    parts = []
    if test.keys:
        parts.append(f"variables.workload in {strings(test.keys)}")
    if test.any_group:
        parts.append(f"variables.kind in {strings(test.any_group)}")
    return f"({' || '.join(parts)})" if len(parts) > 1 else parts[0]


def selector_condition(selector: Selector) -> str:
    """A label selector over the pod's labels, with apimachinery's semantics (selector.go Matches)."""
    return "\n&& ".join(requirement_condition(requirement) for requirement in selector.requirements)


def requirement_condition(requirement: Requirement) -> str:
    key = string(requirement.key)
    present = f"{key} in {_LABELS}"
    value = f"{_LABELS}[{key}]"
    if requirement.operator == "Exists":
        return present
    if requirement.operator == "DoesNotExist":
        return f"!({present})"
    if requirement.operator == "In":
        return f"({present} && {value} in {strings(requirement.values)})"
    if requirement.operator == "NotIn":
        return f"(!({present}) || !({value} in {strings(requirement.values)}))"
    # Gt, Lt: both sides as strconv.ParseInt(s, 10, 64) reads them; a label that does not parse never matches.
    limit = int(next(iter(requirement.values)))
    fits = (f'({value}.matches("^0*[0-9]{{1,18}}$") || {value}.matches("^0*[1-9][0-9]{{18}}$") '
            f'&& {value}.substring({value}.size() - 19) <= "{_INT64_MAX}")')
    return f"({present} && {fits} && int({value}) {'>' if requirement.operator == 'Gt' else '<'} {limit})"


def decision_variables(admission: Admission) -> list[tuple[str, str]]:
    """`ruleN` per rule, then `sidecar`: native | regular | default | keep, the first matching rule's.
    Raises UsageError, naming each, for a rule whose expression CEL's parser would refuse."""
    rules = admission.policy.rules
    variables = [(f"rule{rule.index}", rule_expression(admission, rule)) for rule in rules]
    too_long = [(rule, len(expression)) for rule, (_, expression) in zip(rules, variables) if len(expression) > MAX_CODE_POINTS]
    if too_long:
        raise UsageError("; ".join(
            f"{admission.policy.origin}:{rule.line}: {rule.label} is {size} characters of CEL and the API server takes "
            f"at most {MAX_CODE_POINTS} in an expression: split its names or namespaces into several rules"
            for rule, size in too_long))
    fallback = string(admission.policy.fallback)
    if admission.exempt_named and admission.policy.fallback != "keep":
        fallback = f"request.namespace in {strings(admission.exempt_named)} ? \"keep\" : {fallback}"
    chunks = [rules[start : start + CHAIN_LENGTH] for start in range(0, len(rules), CHAIN_LENGTH)] or [()]
    tail = fallback
    for position, chunk in reversed(list(enumerate(chunks))):
        name = "sidecar" if position == 0 else f"sidecarFrom{chunk[0].index}"
        head = "// The first matching rule decides, else the fallback.\n" if position == 0 else ""
        variables.append((name, head + "".join(f"variables.rule{rule.index} ? {string(rule.sidecar)} :\n" for rule in chunk) + tail))
        tail = f"variables.{name}"
    return variables


def match_conditions(admission: Admission) -> Iterator[tuple[str, str]]:
    if not admission.settings.override_annotated:  # the pod's own value wins (docs/admission.md)
        carried = " || ".join(f"{string(key)} in object.metadata.annotations" for key in admission.read_keys)
        yield "annotation-not-set", f"!has(object.metadata.annotations) || !({carried})"


def _pointer(key: str) -> str:
    return string("/metadata/annotations/" + key.replace("~", "~0").replace("/", "~1"))


def _removals(keys: Iterable[str]) -> str:
    """A JSON Patch removing each of these annotations the pod has (removing an absent one would fail)."""
    return "\n    + ".join(f'({string(key)} in object.metadata.annotations ? [JSONPatch{{op: "remove", path: {_pointer(key)}}}] : [])'
                             for key in keys)


def mutation(admission: Admission) -> str:
    """The JSON Patch for the decision: write the mesh's keys and remove its others, or remove them all for
    `default`; nothing for `keep`. The keys are the policy's mesh's (core/meshes.py AnnotationSwitch)."""
    switch = admission.switch
    values = "{" + ", ".join(f"{string(mode)}: {string(value)}" for mode, value in sorted(VALUES.items())) + "}"
    value = f"{values}[variables.sidecar]"
    adds = ", ".join(f'JSONPatch{{op: "add", path: {_pointer(key)}, value: {value}}}' for key in switch.keys)
    created = "{" + ", ".join(f"{string(key)}: {value}" for key in switch.keys) + "}"
    existing = f"[{adds}]" + (f"\n    + {_removals(switch.others)}" if switch.others else "")
    return (
        f"variables.sidecar in {strings(VALUES)} ? (\n"
        f"  has(object.metadata.annotations)\n"
        f"  ? {existing}\n"
        f'  : [JSONPatch{{op: "add", path: "/metadata/annotations", value: {created}}}]\n'
        f') : variables.sidecar == "default" && has(object.metadata.annotations)\n'
        f"  ? {_removals(switch.all_keys)}\n"
        f"  : []"
    )
