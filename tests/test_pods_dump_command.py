"""The dump `pods` reads: every kind on a pod's owner chain, named as the projects' own CRDs name it."""

from __future__ import annotations

import subprocess
from functools import cache

import pytest
import yaml

from postrender.core.workloads import BUILTIN_KINDS, KindTable
from postrender.pods import dump_resources
from postrender.pods.command import DUMP_COMMAND
from tests.support import upstream
from tests.support.paths import ROOT

KUBERNETES_GROUPS = {"", "apps", "batch"}
NO_CRD_HERE = {("argoproj.io", "Rollout")}  # Argo Rollouts is no project of upstream.py
# Kinds of the table whose objects make no pods themselves: templates others use.
MAKE_NO_PODS = {"PodTemplate", "WorkflowTemplate", "ClusterWorkflowTemplate", "TrainingRuntime", "ClusterTrainingRuntime"}
# Knative's Configuration and Revision sit between its Service and the Deployment: their CRDs are beside the Service's.
KNATIVE_CHAIN = ("config/core/300-resources/configuration.yaml", "config/core/300-resources/revision.yaml")


@cache
def _crd_names() -> dict[tuple[str, str], str]:
    """(group, kind) -> plural, from every CRD the pinned releases ship."""
    files = [path for project in upstream.PROJECTS for path in upstream.crd_files(project)]
    knative = next(release for release in upstream.RELEASES if release.project == "knative")
    files += [upstream.folder(knative) / name for name in KNATIVE_CHAIN]
    names = {}
    for path in files:
        for document in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                spec = document["spec"]
                names[(spec["group"], spec["names"]["kind"])] = spec["names"]["plural"]
    return names


@pytest.mark.parametrize("resource, group, kind", [
    row for row in dump_resources.RESOURCES if row[1] not in KUBERNETES_GROUPS and row[1:] not in NO_CRD_HERE])
def test_each_resource_is_named_as_its_crd_names_it(resource, group, kind):
    assert _crd_names().get((group, kind)) == resource


def test_every_kind_that_makes_pods_is_dumped():
    dumped = {(group, kind) for _, group, kind in dump_resources.RESOURCES}
    for entry in BUILTIN_KINDS:
        if entry.kind not in MAKE_NO_PODS:
            assert {(group, entry.kind) for group in entry.groups or ()} & dumped, entry.kind


@pytest.mark.parametrize("served, listed", [
    ("configmaps\npods\nservices\ndeployments.apps\nrayclusters.ray.io\n", "pods,deployments.apps,rayclusters.ray.io"),
    ("pods\njobs.batch\njobs.batch.volcano.sh\nservices.serving.knative.dev\n",
     "pods,jobs.batch,jobs.batch.volcano.sh,services.serving.knative.dev"),
])
def test_the_command_lists_only_what_the_server_serves(tmp_path, served, listed):
    """The shell line itself, with a kubectl that prints `served` for discovery and echoes `get`'s arguments."""
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(f"#!/bin/sh\nif [ \"$1\" = api-resources ]; then printf '{served}'; else echo \"$@\"; fi\n")
    kubectl.chmod(0o755)
    done = subprocess.run(["sh", "-c", DUMP_COMMAND], capture_output=True, text=True, check=True,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert done.stdout.split() == ["get", listed, "-A", "-o", "json"]


def test_the_docs_give_the_command():
    assert DUMP_COMMAND in (ROOT / "docs" / "pods.md").read_text()


def test_the_live_reading_follows_the_chain_kinds():
    table = KindTable(BUILTIN_KINDS)
    assert dump_resources.followed("Revision", "serving.knative.dev/v1", table)
    assert dump_resources.followed("WorkflowTemplate", "argoproj.io/v1alpha1", table)  # the table's
    assert not dump_resources.followed("Service", "v1", table)
