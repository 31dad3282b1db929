"""Translate a SidecarPolicy into kustomize patches, for Flux HelmRelease post-renderers and kustomizations.

Flux cannot run programs, but it runs kustomize on Helm's output: every `spec.postRenderers[]`
entry is one in-memory kustomize build with `patches` applied in list order
(fluxcd/helm-controller internal/postrender/kustomize.go, build.go). A target's kind, name and
group are regular expressions that kustomize anchors as `^(?:…)$`; an empty field matches
anything (kubernetes-sigs/kustomize api/types/selector.go). A later patch overwrites an earlier
one, while the policy's first matching rule wins, so the fallback comes first as a catch-all and
the rules follow from last to first.

Rules a target cannot express (podLabels, namespace globs, kinds whose API group a regex
cannot describe) are resolved against a rendered chart: the core engine decides every
workload once and each decision of such a rule becomes one exact patch.

Targets that may select a kind whose objects can borrow their pod template (an Argo Rollout with
spec.workloadRef) exclude the borrowers by an annotation that borrowed_templates.py sets first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from postrender.core import istio, linkerd
from postrender.core.engine import Outcome
from postrender.core.errors import UsageError
from postrender.core.globs import escape, glob_to_regex
from postrender.core.meshes import AnnotationSwitch
from postrender.core.policy import Match, Policy, Rule
from postrender.core.workloads import BUILTIN_KINDS, KindTable, TemplateKind, api_group
from postrender.flux import every_place
from postrender.flux.borrowed_templates import guard
from postrender.flux.patch_text import JSON6902_MARK, MARKER_NAME, Patch, dump_yaml

# Kubernetes' own API groups: their kinds are all known, so a target that pairs one of their kinds
# with another of these groups (batch/Deployment) cannot select an object that exists.
KUBERNETES_GROUPS = frozenset(["", "apps", "batch", "extensions"])
# The annotations a patch of ours removes, as the last step of an RFC 6901 pointer: every mesh's keys.
_POINTER_KEYS = tuple(key.replace("~", "~0").replace("/", "~1") for key in (istio.ANNOTATION, *linkerd.KEYS))


class Bucket(NamedTuple):
    """Workload kinds one target can select together: same pod-template path, groups that fit."""

    members: tuple[tuple[str, tuple[str, ...] | None], ...]  # (kind, its API groups; None: any)
    path: tuple[str, ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind, _ in self.members)

    def groups(self, kinds: Sequence[str]) -> tuple[str, ...] | None:
        """The API groups of these kinds together (None: any group)."""
        chosen = [groups for kind, groups in self.members if kind in kinds]
        if not chosen or chosen[0] is None:
            return None
        return tuple(sorted({group for groups in chosen for group in groups or ()}))


class _Decider(NamedTuple):
    """A rule, or the fallback (rule None), with why a target cannot express it (None: it can)."""

    rule: Rule | None
    mode: str
    match: Match
    problem: str | None

    @property
    def origin(self) -> str:
        return f"{self.rule.label} (sidecar: {self.mode})" if self.rule else f"fallback: {self.mode}"

    def where(self, policy: Policy) -> str:
        return f"{policy.origin}:{self.rule.line}: {self.rule.label}" if self.rule else f"{policy.origin}: the fallback"


def translate(policy: Policy, decisions: Sequence[Outcome] | None = None, rendered_name: str = "") -> list[Patch]:
    """The patches for a policy; `decisions` (the engine's outcomes on a rendered chart) resolve
    the rules a target cannot express. Same policy and decisions, same list.

    Kinds with several places or list items (every_place.py) get no patch here: with `decisions`,
    rendered.py patches each of their objects exactly; without, they are refused or guarded."""
    buckets, vague_kinds, placed = template_buckets(policy)
    deciders = [
        _Decider(rule, mode, match, _inexpressible(match, vague_kinds))
        for rule, mode, match in [(None, policy.fallback, Match())] + [(r, r.sidecar, r.match) for r in policy.rules]
        if mode != "keep"
    ]
    refused = [d for d in deciders if d.problem]
    if refused and decisions is None:
        raise UsageError("; ".join(f"{d.where(policy)} cannot become a kustomize patch: {d.problem}" for d in refused)
                         + "; pass --rendered FILE (the chart rendered once, e.g. by `helm template`) to resolve "
                         "such rules per workload")
    patches: list[Patch] = []
    if decisions is None:
        every_place.refuse_named([(d.where(policy), d.match) for d in deciders], placed,
                                 [kind for bucket in buckets for kind in bucket.kinds])
        patches += every_place.guards(entry for entry in placed if any(every_place.selects(d.match, entry) for d in deciders))
    fallback = [d for d in deciders if d.rule is None]
    for decider in fallback + [d for d in reversed(deciders) if d.rule is not None]:
        if decider.problem is None:
            patches += _rule_patches(decider.rule, decider.match, decider.mode, buckets, decider.origin, policy.switch)
        else:
            origin = f"{decider.origin}, as decided in {rendered_name or 'the rendered chart'}"
            patches += _exact_patches(policy, decider.rule, decisions or (), origin)
    return guard(patches)


def template_buckets(policy: Policy) -> tuple[list[Bucket], dict[str, str], list[TemplateKind]]:
    """Targets covering every kind with one pod template at a fixed place, the kinds no group regex
    can describe (with why), and the kinds with several places or list items (every_place.py)."""
    table = policy.kinds
    effective, vague = _effective_kinds(policy.workload_kinds)
    buckets: list[Bucket] = []
    fixed = [(entry, entry.template_path) for entry in effective if entry.template_path is not None]
    for entry, path in sorted(fixed, key=lambda e: (e[1], e[0].groups is None, sorted(e[0].groups or ()), e[0].kind)):
        groups = None if entry.groups is None else tuple(sorted(entry.groups))
        for index, bucket in enumerate(buckets):
            merged = _merge(bucket, entry.kind, groups, path, table)
            if merged is not None:
                buckets[index] = merged
                break
        else:
            buckets.append(Bucket(((entry.kind, groups),), path))
    return buckets, vague, [entry for entry in effective if entry.template_path is None]


def _effective_kinds(workload_kinds: Iterable[TemplateKind]) -> tuple[list[TemplateKind], dict[str, str]]:
    """Each kind entry with the groups it really serves in KindTable.find's lookup order (the
    policy's own entries, last first, then the built-ins), and the kinds that need 'any group but'."""
    entries = list(BUILTIN_KINDS) + list(workload_kinds)
    effective: list[TemplateKind] = []
    vague: dict[str, str] = {}
    for kind in sorted({entry.kind for entry in entries}):
        claimed: set[str] = set()
        for entry in reversed([e for e in entries if e.kind == kind]):
            if entry.groups is None:
                if claimed:
                    vague[kind] = (f"spec.workloadKinds gives {kind} without apiVersion, meaning every API group "
                                   f"but {', '.join(sorted(g or 'core' for g in claimed))}, which a target's group "
                                   "regular expression cannot say")
                else:
                    effective.append(entry)
                break
            served = entry.groups - claimed
            claimed |= entry.groups
            if served:
                effective.append(entry._replace(groups=frozenset(served)))
    return effective, vague


def _merge(bucket: Bucket, kind: str, groups: tuple[str, ...] | None, path: tuple[str, ...], table: KindTable) -> Bucket | None:
    """The bucket grown by one kind, if its kinds x groups still select exactly the right objects."""
    if bucket.path != path or (bucket.groups(bucket.kinds) is None) != (groups is None):
        return None
    merged = Bucket(tuple(sorted(bucket.members + ((kind, groups),))), path)
    if groups is None:
        return merged
    for name in merged.kinds:
        for group in merged.groups(merged.kinds) or ():
            entry = table.find(name, f"{group}/v1" if group else "v1")
            if entry is None and group not in KUBERNETES_GROUPS:
                return None  # e.g. argoproj.io/Deployment: some CRD might define it
            if entry is not None and entry.template_path != path:
                return None
    return merged


def _inexpressible(match: Match, vague_kinds: dict[str, str]) -> str | None:
    if match.pod_labels is not None:
        return "podLabels select on the pod template's labels, a target only on the object's own labels"
    if match.namespaces is not None:
        return ("namespace globs: Helm's output mostly leaves metadata.namespace out (Helm sets it when "
                "applying), so a target cannot tell namespaces apart")
    for kind in sorted(vague_kinds):
        if match.kinds is None or kind in match.kinds:
            return vague_kinds[kind]
    return None


def _rule_patches(rule: Rule | None, match: Match, mode: str, buckets: list[Bucket], origin: str,
                  switch: AnnotationSwitch) -> list[Patch]:
    patches: list[Patch] = []
    for bucket in buckets:
        kinds = tuple(k for k in bucket.kinds if match.kinds is None or k in match.kinds)
        if not kinds:
            continue
        target = {}
        groups = bucket.groups(kinds)
        if groups is not None:
            target["group"] = alternatives(groups)
        target["kind"] = alternatives(kinds)
        if rule is not None and match.names is not None:
            globs = sorted(set(rule.source["match"]["names"]))  # the patterns as written; Match holds them compiled
            target["name"] = _anchored([glob_to_regex(glob) for glob in globs])
        if match.labels is not None and match.labels.requirements:  # an empty selector selects everything
            target["labelSelector"] = str(match.labels)
        patches += [Patch(target, body, origin) for body in annotation_patches(bucket.path, kinds[0], mode, switch)]
    return patches


def _exact_patches(policy: Policy, rule: Rule | None, decisions: Sequence[Outcome], origin: str) -> list[Patch]:
    """One patch per workload this rule decided in the rendered chart (kind, group and name exact)."""
    paths = {id(outcome): _template_path(policy, outcome) for outcome in decisions}
    # Several places or list items (path None): rendered.py patches such an object exactly.
    fixed = [outcome for outcome in decisions if paths[id(outcome)] is not None]
    modes: dict[tuple[str, str, str], set[str]] = {}  # a target selects every object of the same key
    for outcome in fixed:
        modes.setdefault(_object_key(outcome), set()).add(outcome.mode)
    chosen: dict[tuple[str, str, str], tuple[str, tuple[str, ...]]] = {}
    for outcome in fixed:
        if _index(outcome.rule) != _index(rule) or outcome.mode == "keep":
            continue
        workload = outcome.workload
        if len(modes[_object_key(outcome)]) > 1:
            raise UsageError(f"the rendered chart has two {workload.kind} objects named {workload.name} that the "
                             f"policy decides differently; a kustomize target cannot tell them apart")
        chosen[_object_key(outcome)] = (outcome.mode, paths[id(outcome)] or ())
    patches: list[Patch] = []
    for (group, kind, name), (mode, path) in sorted(chosen.items()):
        target = exact_target(f"{group}/v1" if group else "v1", kind, name)
        patches += [Patch(target, body, origin) for body in annotation_patches(path, kind, mode, policy.switch)]
    return patches


def _template_path(policy: Policy, outcome: Outcome) -> tuple[str, ...] | None:
    entry = policy.kinds.find(outcome.workload.kind, outcome.workload.api_version)
    return entry.template_path if entry is not None else None


def _object_key(outcome: Outcome) -> tuple[str, str, str]:
    workload = outcome.workload
    return api_group(workload.api_version or ""), workload.kind, workload.name


def _index(rule: Rule | None) -> int:
    return rule.index if rule is not None else 0  # 0: the fallback


def exact_target(api_version: str | None, kind: str, name: str) -> dict[str, str]:
    """A target for one object: its API group, kind and name, each as an anchored literal."""
    group = api_group(api_version or "")
    return {"group": f"^{escape(group)}$", "kind": f"^{escape(kind)}$", "name": f"^{escape(name)}$"}


def annotation_patches(path: tuple[str, ...], kind: str, mode: str, switch: AnnotationSwitch) -> list[str]:
    """Patch texts that give the pod template at `path` the mode's annotations (or remove them).

    Strategic merge, not RFC 6902: a JSON6902 `add` of .../annotations/<key> fails when the
    template has no annotations map, and `remove` fails when the key is absent, while a strategic
    merge creates missing maps and a null value deletes a key only if it is there
    (kyaml/yaml/merge2/merge2.go). At the object's own metadata (a Pod) kustomize turns that null
    into the string "null" (api/resource/resource.go CopyMergeMetaDataFieldsFrom), so removing it
    there takes two patches: a strategic merge that makes sure the key exists, then an RFC 6902
    `remove`, which then always has something to remove.
    """
    annotations: dict[str, str | None] = dict(switch.setting(mode))
    removing = switch.removing(mode)
    if path:
        return [_strategic_merge(path, kind, {**annotations, **dict.fromkeys(removing)})]
    if not removing:
        return [_strategic_merge(path, kind, annotations)]
    placeholders = {**annotations, **dict.fromkeys(removing, "removed-by-sidecar-policy")}
    return [_strategic_merge(path, kind, placeholders),
            _json6902_remove([("metadata", "annotations", key) for key in removing])]


def _strategic_merge(path: tuple[str, ...], kind: str, annotations: dict[str, str | None]) -> str:
    template: dict = {"metadata": {"annotations": annotations}}
    for step in reversed(path):
        template = {step: template}
    metadata = {"name": MARKER_NAME, **template.pop("metadata", {})}
    document = {"kind": kind, "metadata": metadata, **template}
    return dump_yaml(document)


def _json6902_remove(paths: list[tuple[str, ...]]) -> str:
    import jsonpatch  # a dependency of ours; built with it so the pointer is escaped per RFC 6901

    operations = [jsonpatch.RemoveOperation({"op": "remove", "path": jsonpatch.JsonPointer.from_parts(list(path)).path})
                  for path in paths]
    return dump_yaml([operation.operation for operation in operations])


def is_ours(post_renderer: object) -> bool:
    """True for a `postRenderers[]` entry this module generated (found by its patches' marks)."""
    if not isinstance(post_renderer, dict) or set(post_renderer) != {"kustomize"}:
        return False
    kustomize = post_renderer["kustomize"]
    if not isinstance(kustomize, dict) or set(kustomize) != {"patches"} or not isinstance(kustomize["patches"], list):
        return False
    return all(_is_our_patch(patch) for patch in kustomize["patches"])


def _is_our_patch(patch: object) -> bool:
    import yaml

    if not isinstance(patch, dict) or not isinstance(patch.get("patch"), str):
        return False
    if patch["patch"].startswith(JSON6902_MARK):
        return True
    try:
        body = yaml.load(patch["patch"], Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return False
    if isinstance(body, dict):
        return isinstance(body.get("metadata"), dict) and body["metadata"].get("name") == MARKER_NAME
    return isinstance(body, list) and bool(body) and all(
        isinstance(op, dict) and str(op.get("path", "")).rpartition("/")[2] in _POINTER_KEYS for op in body
    )


def alternatives(values: Sequence[str]) -> str:
    """An anchored regex for exactly these strings (kustomize adds its own anchors too: harmless)."""
    return _anchored(sorted(escape(value) for value in values))


def _anchored(regexes: Sequence[str]) -> str:
    return f"^{regexes[0]}$" if len(regexes) == 1 else "^(" + "|".join(regexes) + ")$"
