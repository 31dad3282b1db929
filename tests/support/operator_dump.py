"""A cluster dump of the operators' workloads, with pods named and owned as each operator makes them.

Each builder follows the operator code the kind table and owner_links.py cite: the labels that name
a pod's place (ray.io/group, jobset.sigs.k8s.io/replicatedjob-name, ...) and the ownerReferences
(controller or not). Every pod here runs the regular form (the mesh was regular by default); the
workloads' templates pin some places, so which pods are stale depends on the place each comes from.
"""

from __future__ import annotations

from tests.support.cluster_dump import REGULAR, _meta, pod

ANNOTATION = "sidecar.istio.io/nativeSidecar"
NS = "ml"


def ref(api_version: str, kind: str, name: str, controller: bool | None = True) -> dict:
    reference = {"apiVersion": api_version, "kind": kind, "name": name, "uid": f"uid-{kind}-{name}"}
    if controller is not None:
        reference["controller"] = controller
    return reference


def obj(api_version: str, kind: str, name: str, spec: dict, owners: list[dict] | None = None,
        namespace: str = NS, labels: dict | None = None, **rest: dict) -> dict:
    return {"apiVersion": api_version, "kind": kind, "metadata": _meta(namespace, name, labels, owners),
            "spec": spec, **rest}


def template(annotation: str | None = None, labels: dict | None = None) -> dict:
    metadata: dict = {"labels": dict(labels or {})}
    if annotation is not None:
        metadata["annotations"] = {ANNOTATION: annotation}
    return {"metadata": metadata, "spec": {"containers": [{"name": "main", "image": "example.com/main:1"}]}}


def running(name: str, owners: list[dict], labels: dict | None = None, annotations: dict | None = None,
            namespace: str = NS) -> dict:
    return pod(namespace, name, REGULAR, {"app": "main", **(labels or {})}, owners, annotations)


def ray() -> list[dict]:
    cluster = {"headGroupSpec": {"template": template("true")},
               "workerGroupSpecs": [{"groupName": "cpu", "template": template()},
                                    {"groupName": "gpu", "template": template("false")}]}
    owner = [ref("ray.io/v1", "RayCluster", "ray")]
    return [obj("ray.io/v1", "RayCluster", "ray", cluster),
            running("ray-head-x", owner, {"ray.io/node-type": "head", "ray.io/group": "headgroup"}),
            running("ray-cpu-worker-a", owner, {"ray.io/node-type": "worker", "ray.io/group": "cpu"}),
            running("ray-gpu-worker-b", owner, {"ray.io/node-type": "worker", "ray.io/group": "gpu"})]


def rayjob() -> list[dict]:
    spec = {"rayClusterSpec": {"headGroupSpec": {"template": template("false")},
                               "workerGroupSpecs": [{"groupName": "w", "template": template()}]},
            "submitterPodTemplate": template("true")}
    cluster_owner = [ref("ray.io/v1", "RayCluster", "job-raycluster-k2")]
    return [obj("ray.io/v1", "RayJob", "job", spec),
            obj("ray.io/v1", "RayCluster", "job-raycluster-k2", spec["rayClusterSpec"], [ref("ray.io/v1", "RayJob", "job")]),
            obj("batch/v1", "Job", "job", {"template": template("true")}, [ref("ray.io/v1", "RayJob", "job")]),
            running("job-head", cluster_owner, {"ray.io/node-type": "head", "ray.io/group": "headgroup"}),
            running("job-w-1", cluster_owner, {"ray.io/node-type": "worker", "ray.io/group": "w"}),
            running("job-submit", [ref("batch/v1", "Job", "job")], {"batch.kubernetes.io/job-name": "job"})]


def jobset() -> list[dict]:
    spec = {"replicatedJobs": [{"name": "leader", "template": {"spec": {"template": template("false")}}},
                               {"name": "workers", "template": {"spec": {"template": template()}}}]}
    items = [obj("jobset.x-k8s.io/v1alpha2", "JobSet", "train", spec)]
    for replicated in ("leader", "workers"):
        job = f"train-{replicated}-0"
        items.append(obj("batch/v1", "Job", job, {"template": template()},
                         [ref("jobset.x-k8s.io/v1alpha2", "JobSet", "train")]))
        items.append(running(f"{job}-p", [ref("batch/v1", "Job", job)],
                             {"jobset.sigs.k8s.io/replicatedjob-name": replicated}))
    return items


def pytorchjob() -> list[dict]:
    spec = {"pytorchReplicaSpecs": {"Master": {"template": template("false")}, "Worker": {"template": template()}}}
    owner = [ref("kubeflow.org/v1", "PyTorchJob", "pt")]
    return [obj("kubeflow.org/v1", "PyTorchJob", "pt", spec),
            running("pt-master-0", owner, {"training.kubeflow.org/replica-type": "master"}),
            running("pt-worker-0", owner, {"training.kubeflow.org/replica-type": "worker"})]


def volcano() -> list[dict]:
    """A Volcano Job named as a batch Job in the same namespace: only the API group tells them apart."""
    spec = {"tasks": [{"name": "ps", "template": template("false")}, {"name": "worker", "template": template()}]}
    owner = [ref("batch.volcano.sh/v1alpha1", "Job", "same")]
    return [obj("batch.volcano.sh/v1alpha1", "Job", "same", spec),
            obj("batch/v1", "Job", "same", {"template": template("false")}),
            running("same-ps-0", owner, {"volcano.sh/task-spec": "ps"}),
            running("same-worker-0", owner, {"volcano.sh/task-spec": "worker"}),
            running("same-batch", [ref("batch/v1", "Job", "same")])]


def spark() -> list[dict]:
    spec = {"driver": {"annotations": {ANNOTATION: "true"}},
            "executor": {"template": {"metadata": {"annotations": {ANNOTATION: "false"}}}}}
    app = ref("sparkoperator.k8s.io/v1beta2", "SparkApplication", "pi")
    driver = running("pi-driver", [app], {"spark-role": "driver"})
    # The operator's reference on the executors has no controller (submission.go); Spark's own is the driver.
    app_reference = ref("sparkoperator.k8s.io/v1beta2", "SparkApplication", "pi", controller=None)
    executors = [running(f"pi-exec-{n}", [app_reference, ref("v1", "Pod", "pi-driver")], {"spark-role": "executor"})
                 for n in (1, 2)]
    return [obj("sparkoperator.k8s.io/v1beta2", "SparkApplication", "pi", spec), driver, *executors]


def argo() -> list[dict]:
    spec = {"entrypoint": "main", "templates": [{"name": "main", "steps": []},
                                                {"name": "pinned", "metadata": {"annotations": {ANNOTATION: "false"}}}]}
    status = {"nodes": {"wf-1": {"templateName": "main"}, "wf-2": {"templateName": "pinned"}}}
    owner = [ref("argoproj.io/v1alpha1", "Workflow", "wf")]
    return [obj("argoproj.io/v1alpha1", "Workflow", "wf", spec, status=status),
            running("wf-main-1", owner, {"workflows.argoproj.io/workflow": "wf"}, {"workflows.argoproj.io/node-id": "wf-1"}),
            running("wf-pinned-2", owner, {"workflows.argoproj.io/workflow": "wf"},
                    {"workflows.argoproj.io/node-id": "wf-2", ANNOTATION: "false"})]


def keda() -> list[dict]:
    return [obj("keda.sh/v1alpha1", "ScaledJob", "drain", {"jobTargetRef": {"template": template()}}),
            obj("batch/v1", "Job", "drain-x", {"template": template()}, [ref("keda.sh/v1alpha1", "ScaledJob", "drain")]),
            running("drain-x-p", [ref("batch/v1", "Job", "drain-x")])]


def knative() -> list[dict]:
    serving = "serving.knative.dev/v1"
    return [obj(serving, "Service", "hello", {"template": template()}),
            obj(serving, "Configuration", "hello", {"template": template()}, [ref(serving, "Service", "hello")]),
            obj(serving, "Revision", "hello-00002", {}, [ref(serving, "Configuration", "hello")]),
            obj("apps/v1", "Deployment", "hello-00002-deployment", {"template": template()},
                [ref(serving, "Revision", "hello-00002")]),
            obj("apps/v1", "ReplicaSet", "hello-00002-deployment-7c", {"template": template()},
                [ref("apps/v1", "Deployment", "hello-00002-deployment")]),
            running("hello-00002-deployment-7c-a", [ref("apps/v1", "ReplicaSet", "hello-00002-deployment-7c")])]


def kruise() -> list[dict]:
    return [obj("apps.kruise.io/v1alpha1", "CloneSet", "web", {"replicas": 2, "template": template()}),
            *[running(f"web-{n}", [ref("apps.kruise.io/v1alpha1", "CloneSet", "web")]) for n in "ab"]]


def flink() -> list[dict]:
    spec = {"podTemplate": {"metadata": {"annotations": {ANNOTATION: "true"}}}, "restartNonce": 4,
            "taskManager": {"podTemplate": {"metadata": {"annotations": {ANNOTATION: "false"}}}}}
    jobmanager = ref("apps/v1", "Deployment", "stream")
    return [obj("flink.apache.org/v1beta1", "FlinkDeployment", "stream", spec),
            obj("apps/v1", "Deployment", "stream", {"template": template()},
                [ref("flink.apache.org/v1beta1", "FlinkDeployment", "stream", controller=False)]),
            obj("apps/v1", "ReplicaSet", "stream-5d", {"template": template()}, [jobmanager]),
            running("stream-5d-jm", [ref("apps/v1", "ReplicaSet", "stream-5d")], {"component": "jobmanager"}),
            running("stream-taskmanager-1-1", [jobmanager], {"component": "taskmanager"})]


def arc() -> list[dict]:
    group = "actions.github.com/v1alpha1"
    spec = {"template": template("true"), "listenerTemplate": template("false")}
    scale_set = {"actions.github.com/scale-set-name": "runners", "actions.github.com/scale-set-namespace": "ci"}
    return [obj(group, "AutoscalingRunnerSet", "runners", spec, namespace="ci"),
            obj(group, "EphemeralRunnerSet", "runners-x", {}, [ref(group, "AutoscalingRunnerSet", "runners")], "ci"),
            obj(group, "EphemeralRunner", "runners-x-r1", {}, [ref(group, "EphemeralRunnerSet", "runners-x")], "ci"),
            running("runners-x-r1", [ref(group, "EphemeralRunner", "runners-x-r1")],
                    {"app.kubernetes.io/component": "runner"}, namespace="ci"),
            obj(group, "AutoscalingListener", "runners-listener", {}, namespace="arc-systems",
                labels={**scale_set, "app.kubernetes.io/component": "runner-scale-set-listener"}),
            running("runners-listener", [ref(group, "AutoscalingListener", "runners-listener")],
                    {**scale_set, "app.kubernetes.io/component": "runner-scale-set-listener"}, namespace="arc-systems")]


BUILDERS = (ray, rayjob, jobset, pytorchjob, volcano, spark, argo, keda, knative, kruise, flink, arc)


def operator_dump() -> dict:
    return {"apiVersion": "v1", "kind": "List", "items": [item for build in BUILDERS for item in build()]}
