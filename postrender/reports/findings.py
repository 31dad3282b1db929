"""What to worry about in a policy's decisions: a registry of small checks, each with a stable code.

Workload checks look at one Outcome (the pod template as it is written out) and the policy;
rule checks look at how the rules fared over the whole stream. Every check yields one-line
messages that say what to do; its code and severity are fixed in the registry, so `--ignore`,
the README table and CI annotations can rely on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import NamedTuple

from postrender.core import istio, linkerd
from postrender.core.engine import Outcome
from postrender.core.istio import PROXY, PROXY_CONFIG_ANNOTATION, TEMPLATES_ANNOTATION
from postrender.core.meshes import ISTIO, LINKERD, NAMES, Mesh
from postrender.core.policy import Match, Policy, Rule
from postrender.reports import container_fields as fields

INFO, WARNING, ERROR = "info", "warning", "error"
SEVERITIES = (INFO, WARNING, ERROR)  # in rising order


class Finding(NamedTuple):
    severity: str  # info | warning | error
    code: str  # stable, e.g. SP101
    message: str  # one line that says what to do


def at_least(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


class Pod:
    """The parts of a pod template the checks read, as plain data (absent parts are empty)."""

    def __init__(self, template: dict):
        metadata = template.get("metadata") or {}
        self.annotations: dict = metadata.get("annotations") or {}
        self.labels: dict = metadata.get("labels") or {}
        self.spec: dict = template.get("spec") or {}
        self.containers: list[dict] = [c for c in self.spec.get("containers") or () if isinstance(c, dict)]
        self.init_containers: list[dict] = [c for c in self.spec.get("initContainers") or () if isinstance(c, dict)]

    @staticmethod
    def text(mapping: dict, key: str) -> str:
        """A label or annotation as Kubernetes would read it (an unquoted YAML boolean as true/false)."""
        value = mapping.get(key)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    def injection_off_by(self, mesh: Mesh) -> str:
        """Why the mesh will not inject this pod, or ""."""
        return mesh.injection_off_by(self.annotations, self.labels, self.spec)

    def is_gateway(self, mesh: Mesh) -> bool:
        """An Istio gateway: istio-proxy is the pod's own container, not an injected sidecar."""
        if mesh.name != ISTIO:
            return False
        if "gateway" in (name.strip() for name in self.text(self.annotations, TEMPLATES_ANNOTATION).split(",")):
            return True
        return any(
            c.get("name") == PROXY and (c.get("image") == "auto" or "router" in (c.get("args") or ()))
            for c in self.containers
        )


class Context:
    """One workload's outcome, with what several checks derive from it computed once."""

    def __init__(self, outcome: Outcome, policy: Policy, kube_version: tuple[int, int] | None):
        self.outcome = outcome
        self.policy = policy
        self.kube_version = kube_version
        self.mesh = policy.mesh_facts

    @cached_property
    def pod(self) -> Pod:
        return Pod(self.outcome.template)

    @cached_property
    def sidecar(self) -> str:
        """What the pod will run: native, regular, or none (no injection, or a gateway)."""
        if self.pod.is_gateway(self.mesh) or self.pod.injection_off_by(self.mesh):
            return "none"
        if self.mesh.name == LINKERD:
            return linkerd.injected_form(self.pod.annotations, self.policy.mesh_default, self.policy.linkerd_version)
        return istio.injected_form(self.written, self.policy.mesh_default)

    @property
    def written(self) -> str:
        """The native-sidecar annotation as written out ("" when absent): on the pod template, or
        where a kube-injected CronJob carries its decision (Outcome.decision_annotations)."""
        return self.outcome.switch.written(self.outcome.decision_annotations) or ""

    @cached_property
    def matching_rules(self) -> list[Rule]:
        return [rule for rule in self.policy.rules if rule.match.matches(self.outcome.workload)]

    @property
    def how(self) -> str:
        """How the workload got its sidecar mode, for messages."""
        rule = self.outcome.rule
        by = f"by {describe_rule(rule)}" if rule else f"by fallback: {self.policy.fallback}"
        by = _LEFT_ALONE.get(self.outcome.action, by)
        if self.outcome.mode in ("default", "keep") and not self.written:
            return f"{by}, through meshDefault: {self.policy.mesh_default}"
        return by


# explain --admission: pods the admission policy does not decide (core/admission.py Decision.action).
_LEFT_ALONE = {"annotated": "by the pod's own annotation, which the admission policy keeps",
               "exempt": "in a namespace the admission policy leaves alone"}


def describe_rule(rule: Rule) -> str:
    return f"rule {rule.index} '{rule.name}'" if rule.name else f"rule {rule.index}"


def is_catch_all(rule: Rule) -> bool:
    """A rule without conditions: overlapping it is the point, not a mistake."""
    return rule.match == Match()


# --- workload checks: each yields messages for one workload ---------------------------------


def job_regular(ctx: Context) -> Iterator[str]:
    """A kind whose pods run to completion (core/workloads.py Target.completes), left with a regular sidecar."""
    workload = ctx.outcome.workload
    if workload.completes and ctx.sidecar == "regular":
        pods = f"{workload.kind}'s {workload.target} pods" if workload.target else f"{workload.kind}'s pods"
        yield (f"{ctx.mesh.proxy} ends up a regular sidecar ({ctx.how}), so the {pods} "
               "never complete while it runs: decide native for it")


def native_before_1_29(ctx: Context) -> Iterator[str]:
    version = ctx.kube_version
    # Only where native is written out: a mesh default of native is the mesh's business, not a choice here.
    if version is None or istio.native_sidecars_on(version) or ctx.written != "true" or ctx.sidecar != "native":
        return
    if version == istio.NATIVE_SIDECARS_ALPHA:
        yield ("native sidecars on Kubernetes 1.28 need the SidecarContainers feature gate, which is off by "
               f"default; without it {ctx.mesh.proxy} blocks pod start-up: turn the gate on, or decide regular until 1.29")
    else:
        yield (f"native sidecars need Kubernetes 1.29 and the cluster is {version[0]}.{version[1]}: the API server "
               f"drops restartPolicy from init containers and {ctx.mesh.proxy} blocks pod start-up; decide regular")


def _app_containers(ctx: Context) -> Iterator[tuple[str, dict]]:
    """(`init container` | `container`, container) for every container but the mesh's own."""
    for where, containers in (("init container", ctx.pod.init_containers), ("container", ctx.pod.containers)):
        for container in containers:
            if container.get("name") not in ctx.mesh.injected_containers:
                yield where, container


def quitquitquit(ctx: Context) -> Iterator[str]:
    if ctx.sidecar != "native":
        return
    for where, container in _app_containers(ctx):
        words = [str(word) for key in ("command", "args") for word in container.get(key) or ()]
        called = next((call for call in ctx.mesh.manual_lifecycle_words if any(call in word for word in words)), None)
        if called is not None:
            yield (f"{where} {container.get('name')!r} calls {called}: a native sidecar stops by itself "
                   "when the pod's containers finish; remove the call")


def init_uid_1337(ctx: Context) -> Iterator[str]:
    if ctx.sidecar != "native":
        return
    pod_uid = (ctx.pod.spec.get("securityContext") or {}).get("runAsUser")
    for where, container in _app_containers(ctx):
        uid = (container.get("securityContext") or {}).get("runAsUser", pod_uid)
        if where == "init container" and uid == ctx.mesh.proxy_uid:
            yield (f"init container {container.get('name')!r} runs as UID {uid}, so its traffic bypasses "
                   "the mesh: with a native sidecar the proxy is up before init containers; drop that runAsUser")


def exclude_outbound(ctx: Context) -> Iterator[str]:
    if ctx.sidecar != "native":
        return
    for key in ctx.mesh.exclude_outbound_annotations:
        if key in ctx.pod.annotations:
            yield (f"{key} is set: if it lets init containers reach the network before the proxy, a native "
                   "sidecar makes it unnecessary; remove it")


def hold_application(ctx: Context) -> Iterator[str]:
    if ctx.sidecar == "native" and istio.hold_application(ctx.pod.annotations) is True:
        yield (f"holdApplicationUntilProxyStarts in {PROXY_CONFIG_ANNOTATION} is ignored for a native sidecar, which "
               "always starts first: remove it")


def _proxy_containers(pod: Pod) -> Iterator[dict]:
    """istio-proxy as the template declares it: Istio merges such a container into the one it injects."""
    return (c for c in pod.init_containers + pod.containers if c.get("name") == PROXY)


def proxy_prestop_sleep(ctx: Context) -> Iterator[str]:
    if ctx.sidecar != "native":
        return
    for container in _proxy_containers(ctx.pod):
        pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
        words = [str(word) for word in (pre_stop.get("exec") or {}).get("command") or ()]
        if "sleep" in pre_stop or any("sleep" in word for word in words):
            yield ("istio-proxy has a preStop that sleeps, to outlive the app containers: a native sidecar is "
                   "stopped only after they exit; remove the preStop")


def exit_on_zero_connections(ctx: Context) -> Iterator[str]:
    if ctx.sidecar != "native":
        return
    env = {e.get("name"): e.get("value") for c in _proxy_containers(ctx.pod) for e in c.get("env") or ()
           if isinstance(e, dict)}
    metadata = (istio.proxy_config(ctx.pod.annotations) or {}).get("proxyMetadata")
    settings = [env.get(istio.EXIT_ON_ZERO), metadata.get(istio.EXIT_ON_ZERO) if isinstance(metadata, dict) else None]
    if any(str(value).lower() in ("1", "t", "true") for value in settings):  # as Go's strconv.ParseBool reads it
        yield (f"{istio.EXIT_ON_ZERO} keeps istio-proxy up until connections drain, so that it outlives the app "
               "containers: a native sidecar is stopped only after they exit; remove it")


def _native_waits(ctx: Context) -> bool:
    return ctx.sidecar == "native" and linkerd.wait_before_exit(ctx.pod.annotations) > 0


def native_wait_fails(ctx: Context) -> Iterator[str]:
    if _native_waits(ctx) and linkerd.fails_native_with_wait(ctx.policy.linkerd_version):
        yield (f"{linkerd.WAIT_BEFORE_EXIT_ANNOTATION} with a native linkerd-proxy fails the injection before "
               "Linkerd 2.20, and the pod starts without a proxy: remove the annotation (a native sidecar is "
               "stopped only after the app containers exit)")


def wait_before_exit(ctx: Context) -> Iterator[str]:
    if _native_waits(ctx) and not linkerd.fails_native_with_wait(ctx.policy.linkerd_version):
        yield (f"{linkerd.WAIT_BEFORE_EXIT_ANNOTATION} is ignored for a native sidecar (Linkerd adds its preStop "
               "sleep only to a regular one), which is stopped only after the app containers exit: remove it")


def injection_disabled(ctx: Context) -> Iterator[str]:
    reason = ctx.pod.injection_off_by(ctx.mesh)
    if reason and not ctx.pod.is_gateway(ctx.mesh):
        yield f"{ctx.mesh.title} does not inject this pod ({reason}), so the policy has no effect on it"


def gateway(ctx: Context) -> Iterator[str]:
    if ctx.pod.is_gateway(ctx.mesh):
        yield ("an Istio gateway: istio-proxy is its main container, not a sidecar, so the policy has no effect; "
               "leave gateways out of rules")


def overridden(ctx: Context) -> Iterator[str]:
    decided = ctx.outcome.rule
    for rule in ctx.matching_rules[1:]:
        if decided is not None and rule.sidecar != decided.sidecar and not is_catch_all(rule):
            yield (f"{describe_rule(rule)} also matches and would decide {rule.sidecar}, but {describe_rule(decided)} "
                   f"comes first and decides {decided.sidecar}: reorder the rules if that is not intended")


class Check(NamedTuple):
    code: str
    severity: str
    slug: str
    find: Callable  # (Context) -> messages, or (RuleContext) -> messages
    meshes: tuple[str, ...] = NAMES  # the meshes whose policies it checks


# The registry: one line per finding. Codes are stable; never renumber, only add.
WORKLOAD_CHECKS: tuple[Check, ...] = (
    Check("SP101", ERROR, "job-regular-sidecar", job_regular),
    Check("SP102", ERROR, "native-before-1.29", native_before_1_29),
    Check("SP103", ERROR, "linkerd-native-wait-before-exit", native_wait_fails, (LINKERD,)),
    Check("SP201", WARNING, "quitquitquit", quitquitquit),  # Linkerd: linkerd-await, /shutdown
    Check("SP202", WARNING, "init-container-uid-1337", init_uid_1337),  # Linkerd: UID 2102
    Check("SP203", INFO, "exclude-outbound", exclude_outbound),
    Check("SP204", INFO, "hold-application", hold_application, (ISTIO,)),
    Check("SP205", INFO, "proxy-prestop-sleep", proxy_prestop_sleep, (ISTIO,)),
    Check("SP206", INFO, "exit-on-zero-active-connections", exit_on_zero_connections, (ISTIO,)),
    Check("SP207", INFO, "linkerd-wait-before-exit", wait_before_exit, (LINKERD,)),
    Check("SP301", INFO, "injection-disabled", injection_disabled),
    Check("SP302", INFO, "istio-gateway", gateway, (ISTIO,)),
    Check("SP403", INFO, "rule-overridden", overridden),
    # Native-sidecar field mistakes Kubernetes rejects or drops (container_fields.py).
    Check("SP501", ERROR, "container-restart-policy", fields.container_restart_policy),
    Check("SP502", ERROR, "init-container-restart-policy", fields.init_container_restart_policy),
    Check("SP503", ERROR, "container-grace-period", fields.container_grace_period),
    Check("SP504", ERROR, "init-container-sidecar-fields", fields.init_container_sidecar_fields),
    Check("SP505", ERROR, "sidecar-before-1.29", fields.sidecar_before_1_29),
)


# --- rule checks: each yields messages for one rule, after the whole stream -----------------


class RuleContext(NamedTuple):
    rule: Rule
    matched: int  # workloads the rule's match selects
    decided: int  # workloads it decided (it came first)
    winners: list[Rule]  # the earlier rules that decided the workloads it matched


def unmatched(ctx: RuleContext) -> Iterator[str]:
    if ctx.matched == 0:
        yield "matches no workload: fix its match, or delete it if the manifests no longer need it"


def shadowed(ctx: RuleContext) -> Iterator[str]:
    if ctx.matched and not ctx.decided and not is_catch_all(ctx.rule):
        earlier = ", ".join(describe_rule(rule) for rule in ctx.winners)
        matched = "the workload it matches is" if ctx.matched == 1 else f"all {ctx.matched} workloads it matches are"
        yield f"never decides: {matched} decided first by {earlier}; move it above, or delete it"


RULE_CHECKS: tuple[Check, ...] = (
    Check("SP401", WARNING, "rule-unmatched", unmatched),
    Check("SP402", WARNING, "rule-shadowed", shadowed),
)
ALL_CHECKS = WORKLOAD_CHECKS + RULE_CHECKS


def _run(checks: Iterable[Check], context: Context | RuleContext, ignore: frozenset[str], mesh: str) -> list[Finding]:
    return [
        Finding(check.severity, check.code, message)
        for check in checks
        if check.code not in ignore and check.slug not in ignore and mesh in check.meshes
        for message in check.find(context)
    ]


class Assessment(NamedTuple):
    sidecar: str  # what the pod will run: native | regular | none
    findings: list[Finding]


class Review:
    """Findings for one run: call `workload()` per Outcome in stream order, `rules()` at the end.

    Plain classes here, not dataclasses: the post-render run builds a Review, and importing
    dataclasses costs every run ~12% of start-up.
    """

    def __init__(self, policy: Policy, kube_version: tuple[int, int] | None = None,
                 ignore: frozenset[str] = frozenset()):
        self.policy = policy
        self.kube_version = kube_version
        self.ignore = ignore
        self._matched: dict[int, int] = {}
        self._decided: dict[int, int] = {}
        self._winners: dict[int, dict[int, Rule]] = {}

    def workload(self, outcome: Outcome) -> Assessment:
        ctx = Context(outcome, self.policy, self.kube_version)
        self._count(ctx)
        return Assessment(ctx.sidecar, _run(WORKLOAD_CHECKS, ctx, self.ignore, self.policy.mesh))

    def rules(self) -> list[tuple[Rule, Finding]]:
        found: list[tuple[Rule, Finding]] = []
        for rule in self.policy.rules:
            ctx = RuleContext(rule, self._matched.get(rule.index, 0), self._decided.get(rule.index, 0),
                              sorted(self._winners.get(rule.index, {}).values()))
            found.extend((rule, finding) for finding in _run(RULE_CHECKS, ctx, self.ignore, self.policy.mesh))
        return found

    def _count(self, ctx: Context) -> None:
        matching = ctx.matching_rules
        for position, rule in enumerate(matching):
            self._matched[rule.index] = self._matched.get(rule.index, 0) + 1
            if position == 0:
                self._decided[rule.index] = self._decided.get(rule.index, 0) + 1
            else:
                self._winners.setdefault(rule.index, {})[matching[0].index] = matching[0]
