"""End to end on a real control plane (tests/support/cluster.py: kube-apiserver, kube-controller-manager
and Istio's own injector as the mutating webhook): real Helm 3 and Helm 4 install and upgrade
tests/data/charts/shop through the post-renderer into a namespace labelled istio-injection=enabled;
the controllers make the pods, the webhook injects them; `sidecar-policy pods` reads the live
objects, and the commands it prints are run with kubectl.

No kubelet runs. tests/support/kubelet_standin.py reports each new pod Running and Ready (the hook
Job's pod Succeeded, since Helm waits for it), as a kubelet would once its containers ran; where a
scenario needs a pod to finish (a Job whose pods cannot be rolled), the test patches its status to
Succeeded and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import kubelet_standin
from tests.support.cluster import Cluster
from tests.support.e2e import HelmUser, describe, pod_forms, pods, run_command, to_restart, until
from tests.support.helm import HELM3_NEWEST, HELM4_NEWEST, helm_binary
from tests.support.helmrun import Helm

pytestmark = pytest.mark.slow  # minutes: controllers and a webhook at work

HEAD = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  rules:\n"
# Unmatched workloads keep the mesh default (fallback: keep): r-api, r-db and r-migrate.
POLICY = HEAD + """\
  - {name: web-tools-expect-a-container, match: {names: [r-web]}, sidecar: regular}
  - {name: reports, match: {kinds: [CronJob]}, sidecar: native}
  - {name: setup-hook, match: {names: [r-setup]}, sidecar: regular}
"""
# The next release of the policy: every workload but the Job changes (a Job's template is immutable,
# so `helm upgrade` could not change it: charts make such Jobs hooks).
NEXT_POLICY = HEAD + """\
  - {name: web-native-now, match: {names: [r-web]}, sidecar: native}
  - {name: api-regular, match: {names: [r-api]}, sidecar: regular}
  - {name: db-regular, match: {names: [r-db]}, sidecar: regular}
  - {name: reports, match: {kinds: [CronJob]}, sidecar: regular}
  - {name: setup-hook, match: {names: [r-setup]}, sidecar: regular}
"""
PODS = {"api": 1, "web": 1, "db": 2, "r-migrate": 1, "r-setup": 1, "r-report-1": 1}  # after the install


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = cluster.namespace("e2e")
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(params=[HELM3_NEWEST, HELM4_NEWEST])
def user(request, tmp_path: Path, cluster: Cluster) -> HelmUser:
    return HelmUser(Helm(request.param, helm_binary(request.param)), tmp_path, cluster)


@pytest.fixture
def installed(cluster: Cluster, namespace: str, user: HelmUser) -> Iterator[str]:
    """The chart installed with POLICY, a Job made from the CronJob, every pod admitted and running."""
    with kubelet_standin.KubeletStandIn(cluster, namespace):
        user.deploy("install", namespace, POLICY)
        cluster.kubectl("create", "job", "r-report-1", "--from=cronjob/r-report", "-n", namespace)
        until(lambda: _counts(cluster, namespace) == PODS, "every pod of the install to be admitted",
              describe(cluster, namespace))
        yield namespace


def _counts(cluster: Cluster, namespace: str) -> dict[str, int]:
    return {name: len(forms) for name, forms in pod_forms(cluster, namespace).items()}


def _hook_form(user: HelmUser) -> str:
    """Helm 4 post-renders hooks; Helm 3 takes them out first (pkg/action/action.go renderResources,
    v3.22.0), so its hook Job keeps the mesh default whatever the policy says."""
    return "regular" if user.helm.major == 4 else "native"


def test_install_injects_each_pod_as_the_policy_decided_and_nothing_needs_a_restart(
        cluster: Cluster, installed: str, user: HelmUser) -> None:
    assert cluster.default_form == "native"
    assert pod_forms(cluster, installed) == {
        "api": ["native"], "web": ["regular"], "db": ["native", "native"], "r-migrate": ["native"],
        "r-report-1": ["native"], "r-setup": [_hook_form(user)]}
    rows = pods(cluster, "-n", installed)
    assert {(row["kind"], row["name"]): (row["actual"], row["desired"], row["restart"]) for row in rows} == {
        ("Deployment", "r-api"): ("native", "native", False),
        ("Deployment", "r-web"): ("regular", "regular", False),
        ("StatefulSet", "r-db"): ("native", "native", False),
        ("Job", "r-migrate"): ("native", "native", False),
        ("CronJob", "r-report"): ("native", "native", False),  # its Job's pods are the CronJob's
    }  # the hook Job's pod Succeeded: not counted


def test_a_policy_change_rolled_out_by_helm_upgrade_leaves_exactly_the_stale_workloads(
        cluster: Cluster, installed: str, user: HelmUser) -> None:
    namespace, shown = installed, describe(cluster, installed)
    cluster.kubectl("rollout", "pause", "deployment/r-web", "-n", namespace)
    user.deploy("upgrade", namespace, NEXT_POLICY)
    # r-api rolls out by itself; the paused r-web and the OnDelete r-db keep their pods.
    until(lambda: pod_forms(cluster, namespace, live_only=True).get("api") == ["regular"],
          "r-api's rolling update to replace its pod", shown)
    stale = to_restart(pods(cluster, "-n", namespace))
    assert set(stale) == {("Deployment", "r-web"), ("StatefulSet", "r-db"), ("CronJob", "r-report")}
    assert "rollout resume deployment/r-web" in stale[("Deployment", "r-web")]["command"]
    assert stale[("StatefulSet", "r-db")]["stale_pods"] == ["r-db-0", "r-db-1"]
    # The CronJob's sentence says its next Jobs get the new form: they do.
    cluster.kubectl("create", "job", "r-report-2", "--from=cronjob/r-report", "-n", namespace)
    assert until(lambda: pod_forms(cluster, namespace).get("r-report-2"), "r-report-2's pod", shown) == ["regular"]
    _carry_out(cluster, namespace, stale)
    until(lambda: not to_restart(pods(cluster, "-n", namespace)), "pods to find nothing more to restart", shown)
    forms = pod_forms(cluster, namespace, live_only=True)
    assert {name: forms[name] for name in ("api", "web", "db", "r-report-2")} == {
        "api": ["regular"], "web": ["native"], "db": ["regular", "regular"], "r-report-2": ["regular"]}
    # The pre-upgrade hook ran again: Helm deleted the install's Job, whose pod the garbage collector removes.
    until(lambda: pod_forms(cluster, namespace).get("r-setup") == [_hook_form(user)], "one r-setup pod, the upgrade's",
          shown)


@pytest.mark.parametrize("user", [HELM4_NEWEST], indirect=True)
def test_after_the_mesh_default_flips_the_unpinned_workloads_are_restarted(
        cluster: Cluster, installed: str, user: HelmUser) -> None:
    namespace, shown = installed, describe(cluster, installed)
    with cluster.webhook(mesh_default="regular"):
        assert cluster.default_form == "regular"
        stale = to_restart(pods(cluster, "-n", namespace, plugin=True))
        # Pinned by the policy: r-web (regular) and r-report (native) keep theirs.
        assert set(stale) == {("Deployment", "r-api"), ("StatefulSet", "r-db"), ("Job", "r-migrate")}
        _carry_out(cluster, namespace, stale)
        until(lambda: not to_restart(pods(cluster, "-n", namespace, plugin=True)),
              "pods to find nothing more to restart", shown)
        forms = pod_forms(cluster, namespace, live_only=True)
    assert {name: forms[name] for name in ("api", "web", "db", "r-report-1")} == {
        "api": ["regular"], "web": ["regular"], "db": ["regular", "regular"], "r-report-1": ["native"]}


def _carry_out(cluster: Cluster, namespace: str, stale: dict) -> None:
    """Run each printed command with kubectl. A Job's or a CronJob's row says its pods keep their
    form until they finish: this test makes them finish, patching each stale pod's status to
    Succeeded as its kubelet would report a container that exited 0."""
    for row in stale.values():
        if row["command"].startswith("kubectl"):
            run_command(cluster, row["command"])
        else:
            assert row["kind"] in ("Job", "CronJob"), row
            for pod in row["stale_pods"]:
                kubelet_standin.finish(cluster, namespace, pod)
