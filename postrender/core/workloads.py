"""Which kinds give pods their metadata, and where: a table, so a new kind is a line of data.

A kind has one or more targets. A target is a path of steps from the object (a key; `[*]`, every
item of a list; `*`, every value of a mapping) to a pod template, or to pod metadata (a mapping
that holds `annotations` and `labels`, as Argo Workflows' `spec.podMetadata`). An operator may
merge more pod metadata into the same pods (Argo Workflows' template metadata over podMetadata);
a target names those places too, so that they never say otherwise. docs/workloads.md tells, kind
by kind, which targets are edited and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from yaml.nodes import MappingNode, Node, SequenceNode

from postrender.core import yamlnodes
from postrender.core.typed import NamedTuple

ITEMS = "[*]"  # a step: every item of a list
VALUES = "*"  # a step: every value of a mapping
_GENERIC_STEPS = frozenset({"spec", "template", "metadata"})  # steps that do not name a target


def parse_path(text: str) -> tuple[str, ...]:
    """`spec.workerGroupSpecs[*].template` -> ('spec', 'workerGroupSpecs', '[*]', 'template'); '' -> ()."""
    if ITEMS not in text:  # most paths: the kind table is built at every start-up
        return tuple(text.split(".")) if text else ()
    steps: list[str] = []
    for part in text.split(".") if text else ():
        if part.endswith(ITEMS):
            steps += [part[: -len(ITEMS)], ITEMS]
        else:
            steps.append(part)
    return tuple(steps)


def format_path(steps: Iterable[str]) -> str:
    return ".".join(steps).replace("." + ITEMS, ITEMS)


class Target(NamedTuple):
    """One place where a kind's objects give their pods metadata."""

    path: tuple[str, ...]  # steps from the object; () = the object itself (a Pod)
    pod_metadata: bool = False  # the path holds pod metadata (annotations, labels), not a whole pod template
    merged_with: tuple[tuple[str, ...], ...] = ()  # pod metadata the operator merges into the same pods
    completes: bool = False  # its pods run to completion: a regular sidecar keeps them from finishing
    target_wins: bool = False  # the operator puts the target's annotations over the merged places' (Spark)

    @property
    def written_when_absent(self) -> bool:
        """Pod metadata is optional by nature, and a template others are merged with makes pods without
        being written: such a target is written where it is absent. A lone pod template that is absent
        makes no pods."""
        return self.pod_metadata or bool(self.merged_with)

    @property
    def fixed(self) -> bool:
        """One place per object: no list or mapping steps, nothing merged (what a kustomize target can patch)."""
        return not self.merged_with and ITEMS not in self.path and VALUES not in self.path


class PodName(NamedTuple):
    """How the operator's pods name the place of their object they come from (for `pods`, which judges
    each running pod by its own place). The pod's label, or else annotation, `key` holds `value`, or the
    value of the field `field` of the place's list item, or (`field` "") the place's mapping key, which
    the operator may lower-case. `lookup` first turns the pod's value into another through the pod's
    owners (`{}` stands for it): Argo's node id -> `status.nodes.{}.templateName`. Where no label
    tells, `controller` names the kind of the pod's controller instead (a RayJob's submitter Job)."""

    path: tuple[str, ...]  # a target's path or a merged place's
    key: str = ""
    value: str | None = None
    field: str = ""
    lowercase: bool = False
    lookup: tuple[str, ...] = ()
    controller: str = ""


class TemplateKind(NamedTuple):
    """A kind whose objects give pods metadata at its targets."""

    kind: str
    groups: frozenset[str] | None  # API groups that define it; None = any group
    targets: tuple[Target, ...]
    source: str = ""  # the definition a built-in row follows: project, version, file
    pod_names: tuple[PodName, ...] = ()  # how pods name a place, where a kind's objects have several

    def serves(self, api_version: str | None) -> bool:
        if self.groups is None or api_version is None:
            return True
        return api_group(api_version) in self.groups

    @property
    def template_path(self) -> tuple[str, ...] | None:
        """The path of the kind's only target when that is one pod template at a fixed place; else None."""
        if len(self.targets) == 1 and self.targets[0].fixed and not self.targets[0].pod_metadata:
            return self.targets[0].path
        return None


def _target(path: str, *, pod_metadata: bool = False, merged_with: Iterable[str] = (), completes: bool = False,
            target_wins: bool = False) -> Target:
    return Target(parse_path(path), pod_metadata, tuple([parse_path(p) for p in merged_with]), completes, target_wins)


def _kind(kind: str, groups: Iterable[str], *targets: str | Target, completes: bool = False, source: str = "",
          names: Iterable[PodName] = ()) -> TemplateKind:
    """A row: its pod templates as paths (each completing if `completes`), or Targets written out."""
    return TemplateKind(kind, frozenset(groups), tuple([
        Target(parse_path(target), False, (), completes) if isinstance(target, str) else target for target in targets]),
        source, tuple(names))


def _named(path: str, key: str = "", value: str | None = None, **how: object) -> PodName:
    return PodName(parse_path(path), key, value, **how)  # type: ignore[arg-type]  # PodName's own fields


def _ray(cluster: str) -> tuple[str, ...]:
    return f"{cluster}.headGroupSpec.template", f"{cluster}.workerGroupSpecs[*].template"


def _ray_names(cluster: str) -> tuple[PodName, ...]:
    # ray-operator controllers/ray/common/pod.go labelPod: ray.io/node-type head|worker, ray.io/group
    # the worker group's groupName (not overridable by the template's labels).
    return (_named(f"{cluster}.headGroupSpec.template", "ray.io/node-type", "head"),
            _named(f"{cluster}.workerGroupSpecs[*].template", "ray.io/group", field="groupName"))


def _argo(spec: str) -> Target:
    # workflow/controller/workflowpod.go addMetadata: execWf.Spec.PodMetadata, then the template's
    # metadata over it; operator.go mergedTemplateDefaultsInto puts templateDefaults under the template's.
    return _target(f"{spec}.podMetadata", pod_metadata=True, completes=True,
                   merged_with=[f"{spec}.templateDefaults.metadata", f"{spec}.templates[*].metadata"])


def _argo_names(spec: str) -> tuple[PodName, ...]:
    # workflowpod.go createWorkflowPod: the pod's annotation workflows.argoproj.io/node-id; the workflow's
    # status.nodes[id].templateName names the template it runs.
    return (_named(f"{spec}.templates[*].metadata", "workflows.argoproj.io/node-id", field="name",
                   lookup=parse_path("status.nodes.{}.templateName")),)


def _spark(spec: str) -> tuple[Target, ...]:
    # The operator passes spec.driver.annotations as spark.kubernetes.driver.annotation.* (internal/
    # controller/sparkapplication/submission.go driverConfOption), which Spark adds over its pod template.
    return (_target(f"{spec}.driver", pod_metadata=True, completes=True, merged_with=[f"{spec}.driver.template.metadata"],
                    target_wins=True),
            _target(f"{spec}.executor", pod_metadata=True, merged_with=[f"{spec}.executor.template.metadata"],
                    target_wins=True))


def _spark_names(spec: str) -> tuple[PodName, ...]:
    # Spark labels its pods spark-role: driver|executor (spark-operator pkg/common/spark.go LabelSparkRole).
    return _named(f"{spec}.driver", "spark-role", "driver"), _named(f"{spec}.executor", "spark-role", "executor")


_KUBEFLOW = "github.com/kubeflow/training-operator v1.9.3 manifests/base/crds/kubeflow.org_{}.yaml"
_KRUISE = "github.com/openkruise/kruise v1.8.0 config/crd/bases/apps.kruise.io_{}.yaml (template: kruise-api apps/)"
_ARGO = "github.com/argoproj/argo-workflows/v3 v3.7.18 manifests/base/crds/full/argoproj.io_{}.yaml"
_TRAINER = "github.com/kubeflow/trainer/v2 v2.0.0 manifests/base/crds/trainer.kubeflow.org_{}.yaml"
_SPARK = "github.com/kubeflow/spark-operator/v2 v2.5.2 config/crd/bases/sparkoperator.k8s.io_{}.yaml"
_RAY = "github.com/ray-project/kuberay/ray-operator v1.5.0 config/crd/bases/ray.io_{}.yaml"
_TRAINING_RUNTIME = "spec.template.spec.replicatedJobs[*].template.spec.template"
_JOBSET = "spec.replicatedJobs[*].template.spec.template"
# jobset pkg/controllers/jobset_controller.go labelAndAnnotateObject: the replicated job's name on its pods.
_JOBSET_NAME = _named(_JOBSET, "jobset.sigs.k8s.io/replicatedjob-name", field="name")
_CRON_TEMPLATES = {"Job": "spec.template.jobTemplate.spec.template",  # the kind of object each makes
                   "BroadcastJob": "spec.template.broadcastJobTemplate.spec.template"}
_COMPONENT = "app.kubernetes.io/component"

BUILTIN_KINDS: tuple[TemplateKind, ...] = (
    _kind("Pod", [""], ""),
    _kind("PodTemplate", [""], "template"),
    _kind("ReplicationController", [""], "spec.template"),
    _kind("Deployment", ["apps", "extensions"], "spec.template"),
    _kind("StatefulSet", ["apps"], "spec.template"),
    _kind("DaemonSet", ["apps", "extensions"], "spec.template"),
    _kind("ReplicaSet", ["apps", "extensions"], "spec.template"),
    _kind("Job", ["batch"], "spec.template", completes=True),
    _kind("CronJob", ["batch"], "spec.jobTemplate.spec.template", completes=True),
    _kind("Rollout", ["argoproj.io"], "spec.template"),  # Argo Rollouts
    # Batch, ML and serverless operators, each as the definition it cites says (docs/workloads.md).
    _kind("JobSet", ["jobset.x-k8s.io"], _JOBSET, completes=True, names=[_JOBSET_NAME],
          source="sigs.k8s.io/jobset v0.10.1 config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml"),
    _kind("RayCluster", ["ray.io"], *_ray("spec"), source=_RAY.format("rayclusters"), names=_ray_names("spec")),
    _kind("RayJob", ["ray.io"], *_ray("spec.rayClusterSpec"), _target("spec.submitterPodTemplate", completes=True),
          source=_RAY.format("rayjobs"),
          # rayjob_controller.go createNewK8sJob: the submitter is a Job the RayJob controls.
          names=[*_ray_names("spec.rayClusterSpec"), _named("spec.submitterPodTemplate", controller="Job")]),
    _kind("RayService", ["ray.io"], *_ray("spec.rayClusterConfig"), source=_RAY.format("rayservices"),
          names=_ray_names("spec.rayClusterConfig")),
    # training-operator pkg/controller.v1/common/pod.go ReconcilePods: the replica type, lower-cased.
    *(_kind(kind, ["kubeflow.org"], f"spec.{replicas}.*.template", completes=True, source=_KUBEFLOW.format(plural),
            names=[_named(f"spec.{replicas}.*.template", "training.kubeflow.org/replica-type", lowercase=True)])
      for kind, replicas, plural in (("PyTorchJob", "pytorchReplicaSpecs", "pytorchjobs"),
                                     ("TFJob", "tfReplicaSpecs", "tfjobs"), ("MPIJob", "mpiReplicaSpecs", "mpijobs"),
                                     ("XGBoostJob", "xgbReplicaSpecs", "xgboostjobs"),
                                     ("PaddleJob", "paddleReplicaSpecs", "paddlejobs"),
                                     ("JAXJob", "jaxReplicaSpecs", "jaxjobs"))),
    _kind("TrainingRuntime", ["trainer.kubeflow.org"], _TRAINING_RUNTIME, completes=True,
          source=_TRAINER.format("trainingruntimes")),
    _kind("ClusterTrainingRuntime", ["trainer.kubeflow.org"], _TRAINING_RUNTIME, completes=True,
          source=_TRAINER.format("clustertrainingruntimes")),
    # volcano pkg/controllers/job/job_controller_util.go createJobPod: label volcano.sh/task-spec, the task's name.
    _kind("Job", ["batch.volcano.sh"], "spec.tasks[*].template", completes=True,
          names=[_named("spec.tasks[*].template", "volcano.sh/task-spec", field="name")],
          source="volcano-sh/volcano v1.12.1 config/crd/volcano/bases/batch.volcano.sh_jobs.yaml"),
    _kind("ScaledJob", ["keda.sh"], "spec.jobTargetRef.template", completes=True,
          source="github.com/kedacore/keda/v2 v2.21.0 config/crd/bases/keda.sh_scaledjobs.yaml"),
    _kind("Service", ["serving.knative.dev"], "spec.template",
          source="knative.dev/serving v0.51.0 config/core/300-resources/service.yaml"),
    _kind("CloneSet", ["apps.kruise.io"], "spec.template", source=_KRUISE.format("clonesets")),
    _kind("StatefulSet", ["apps.kruise.io"], "spec.template", source=_KRUISE.format("statefulsets")),
    _kind("DaemonSet", ["apps.kruise.io"], "spec.template", source=_KRUISE.format("daemonsets")),
    _kind("BroadcastJob", ["apps.kruise.io"], "spec.template", completes=True, source=_KRUISE.format("broadcastjobs")),
    _kind("AdvancedCronJob", ["apps.kruise.io"], *_CRON_TEMPLATES.values(), completes=True,
          names=[_named(path, controller=kind) for kind, path in _CRON_TEMPLATES.items()],
          source=_KRUISE.format("advancedcronjobs")),
    *(_kind(kind, ["argoproj.io"], _argo(spec), source=_ARGO.format(plural), names=_argo_names(spec))
      for kind, spec, plural in (("Workflow", "spec", "workflows"), ("WorkflowTemplate", "spec", "workflowtemplates"),
                                 ("ClusterWorkflowTemplate", "spec", "clusterworkflowtemplates"),
                                 ("CronWorkflow", "spec.workflowSpec", "cronworkflows"))),
    _kind("SparkApplication", ["sparkoperator.k8s.io"], *_spark("spec"), source=_SPARK.format("sparkapplications"),
          names=_spark_names("spec")),
    _kind("ScheduledSparkApplication", ["sparkoperator.k8s.io"], *_spark("spec.template"),
          source=_SPARK.format("scheduledsparkapplications"), names=_spark_names("spec.template")),
    # FlinkUtils.mergePodTemplates: each component's pod template over spec.podTemplate (flink-kubernetes-operator
    # release-1.10.0 FlinkConfigBuilder.applyPodTemplate).
    _kind("FlinkDeployment", ["flink.apache.org"], _target(
        "spec.podTemplate", merged_with=["spec.jobManager.podTemplate.metadata", "spec.taskManager.podTemplate.metadata"]),
        # Flink labels its pods component: jobmanager|taskmanager (flink-kubernetes utils/Constants.java).
        names=[_named(f"spec.{component}.podTemplate.metadata", "component", component.lower())
               for component in ("jobManager", "taskManager")],
        source="org.apache.flink:flink-kubernetes-operator-api 1.10.0 META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml"),
    # controllers/actions.github.com/resourcebuilder.go: app.kubernetes.io/component runner on the runners,
    # runner-scale-set-listener on the listener.
    _kind("AutoscalingRunnerSet", ["actions.github.com"], _target("spec.template", completes=True), "spec.listenerTemplate",
          names=[_named("spec.template", _COMPONENT, "runner"), _named("spec.listenerTemplate", _COMPONENT, "runner-scale-set-listener")],
          source="github.com/actions/actions-runner-controller v0.27.6 "
                 "config/crd/bases/actions.github.com_autoscalingrunnersets.yaml"),
)

# (API group, kind) -> the field that, when it holds a mapping, makes the object borrow its pod
# template from another object. Argo Rollouts: a Rollout with spec.workloadRef takes the template of
# the Deployment it names, and its own must stay empty (no labels, no annotations: argoproj/argo-rollouts
# pkg/apis/rollouts/v1alpha1/types.go EmptyTemplate, rollout/templateref.go Resolve). Such an
# object is not a workload to edit, whatever its own spec.template holds.
BORROWED_TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("argoproj.io", "Rollout"): ("spec", "workloadRef"),
}


def api_group(api_version: str) -> str:
    """`apps/v1` -> `apps`; `v1` -> `` (the core group)."""
    return api_version.rpartition("/")[0]


def is_list_kind(kind: str) -> bool:
    return kind == "List" or kind.endswith("List")


class KindTable:
    """Looks kinds up by name, then by API group where two groups share a name."""

    def __init__(self, builtin: Iterable[TemplateKind], declared: Iterable[TemplateKind] = ()):
        self._by_name: dict[str, list[TemplateKind]] = {}
        # An object without apiVersion is taken for the first row of its kind: the policy's, else the
        # first built-in, where Kubernetes' own (batch/v1 Job) come before operators' of the same name
        # (Volcano's Job). With an apiVersion, only a policy's row can serve the same group as another.
        for entry in builtin:
            self._by_name.setdefault(entry.kind, []).append(entry)
        for entry in declared:
            self._by_name.setdefault(entry.kind, []).insert(0, entry)

    def names(self) -> frozenset[str]:
        return frozenset(self._by_name)

    def may_hold_workloads(self, kind: str) -> bool:
        return kind in self._by_name or is_list_kind(kind)

    def find(self, kind: str, api_version: str | None) -> TemplateKind | None:
        for entry in self._by_name.get(kind, ()):
            if entry.serves(api_version):
                return entry
        return None


def _borrows_template(root: MappingNode, kind: str, api_version: str | None) -> bool:
    """An object without apiVersion is taken by its kind, as the kind table takes it."""
    for (group, borrowing_kind), reference in BORROWED_TEMPLATES.items():
        if kind == borrowing_kind and (api_version is None or api_group(api_version) == group):
            return isinstance(yamlnodes.get(root, *reference), MappingNode)
    return False


class FoundWorkload(NamedTuple):
    """One place of a workload object that gives pods their metadata: one per target and list item."""

    node: MappingNode  # the object
    kind: str
    api_version: str | None
    template_kind: TemplateKind
    target: Target
    label: str  # how reports name the place, e.g. `workerGroupSpecs[1]`; "" for a kind's one fixed target
    steps: tuple[str, ...]  # the place's own path, list indexes and mapping keys filled in
    owner: MappingNode  # the annotations are written at owner's `at` path, which may not exist yet
    at: tuple[str, ...]
    template: MappingNode | None  # the pod template, for a target that is one and is there
    metadata: MappingNode | None  # the pod metadata as it is (None when there is none yet)
    merged: tuple[MappingNode, ...]  # pod metadata the operator merges into the same pods (those present)


def find_workloads(root: Node | None, table: KindTable, list_kind: tuple[str, str | None] = ("", None)) -> Iterator[FoundWorkload]:
    """Workloads in a document: the document itself, or the items of a `kind: List` or typed list.

    An item with neither kind nor apiVersion is read as the list's own kind without `List` and its
    apiVersion (`list_kind`), as kubectl reads a typed list (k8s.io/apimachinery
    pkg/apis/meta/v1/unstructured/helpers.go decodeToList): `items` of a DeploymentList are Deployments.
    """
    if not isinstance(root, MappingNode):
        return
    kind = yamlnodes.scalar_text(yamlnodes.get(root, "kind"))
    api_version_node = yamlnodes.get(root, "apiVersion")
    api_version = yamlnodes.scalar_text(api_version_node)
    if not kind and not api_version:
        kind, api_version = list_kind
    if not kind:
        return
    if isinstance(api_version_node, (MappingNode, SequenceNode)) and table.may_hold_workloads(kind):
        # Kubernetes refuses the object (apiVersion is a string); read as absent, it would be taken by its kind alone
        raise yamlnodes.NodeError("apiVersion must be a string such as apps/v1", api_version_node)
    entry = table.find(kind, api_version)
    if entry is not None:
        if not _borrows_template(root, kind, api_version):
            for target in entry.targets:
                yield from _found(root, kind, api_version, entry, target)
    elif is_list_kind(kind):
        items = yamlnodes.get(root, "items")
        if isinstance(items, SequenceNode):
            for item in items.value:
                yield from find_workloads(item, table, (kind.removesuffix("List"), api_version))


def _found(root: MappingNode, kind: str, api_version: str | None, entry: TemplateKind, target: Target) -> Iterator[FoundWorkload]:
    named = len(entry.targets) > 1 or not target.fixed
    for steps, node, parent in places(root, target.path):
        present = isinstance(node, MappingNode)
        if not present and not (target.written_when_absent and steps and isinstance(parent, MappingNode)):
            continue
        inner = ("annotations",) if target.pod_metadata else ("metadata", "annotations")
        owner, at = (node, inner) if isinstance(node, MappingNode) else (parent, (steps[-1], *inner))
        assert isinstance(owner, MappingNode)
        template = node if isinstance(node, MappingNode) and not target.pod_metadata else None
        metadata = node if target.pod_metadata else yamlnodes.get(template, "metadata")
        merged = tuple(place for path in target.merged_with for _, place, _ in places(root, path)
                       if isinstance(place, MappingNode))
        yield FoundWorkload(root, kind, api_version, entry, target, label(target.path, steps) if named else "",
                            steps, owner, at, template, metadata if isinstance(metadata, MappingNode) else None, merged)


Place = tuple[tuple[str, ...], Node | None, Node | None]  # the steps taken, the node there, its parent


def places(root: Node, path: tuple[str, ...]) -> Iterator[Place]:
    """(the steps taken, the node there or None when the last step is absent or null, its parent) for
    each place the path reaches: one per list item and mapping value at `[*]` and `*` steps."""
    yield from _walk(root, path, (), None)


def _walk(node: Node | None, path: tuple[str, ...], taken: tuple[str, ...], parent: Node | None) -> Iterator[Place]:
    if not path:
        yield taken, None if yamlnodes.is_null(node) else node, parent
        return
    step, rest = path[0], path[1:]
    if step == ITEMS:
        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                yield from _walk(item, rest, (*taken, str(index)), node)
    elif step == VALUES:
        if isinstance(node, MappingNode):
            for key, value in yamlnodes.entries(node):
                yield from _walk(value, rest, (*taken, str(key.value)), node)
    elif isinstance(node, MappingNode):
        pair = yamlnodes.lookup(node, step)
        if pair is not None:
            yield from _walk(pair[1], rest, (*taken, step), node)
        elif not rest:
            yield (*taken, step), None, node


def label(path: tuple[str, ...], steps: tuple[str, ...]) -> str:
    """How reports name a place: from the field before its first list or mapping step to the last such
    step (`workerGroupSpecs[1]`, `pytorchReplicaSpecs[Worker]`), else its last step that says more than
    spec/template/metadata (`headGroupSpec`, `driver`), else its last step."""
    variable = [index for index, step in enumerate(path) if step in (ITEMS, VALUES)]
    if variable:
        start = max(variable[0] - 1, 0)
        parts = [f"[{steps[i]}]" if path[i] in (ITEMS, VALUES) else f".{steps[i]}" for i in range(start, variable[-1] + 1)]
        return "".join(parts).lstrip(".")
    named = [step for step in path if step not in _GENERIC_STEPS]
    return named[-1] if named else (path[-1] if path else "")
