"""SP501-SP504 against Kubernetes' own pod validation, not our reading of it.

tests/harness/podvalidation is the API server's PodTemplate create path from k8s.io/kubernetes
v1.37.2 (strict decoding, defaulting, dropping disabled fields, ValidatePodTemplate), with the
feature-gate defaults of 1.34, 1.35 and 1.37 emulated. For every pod of a grid of container
shapes, the containers our findings name are exactly those Kubernetes refuses, drops a field of,
or cannot decode strictly. Earlier versions cannot be emulated by this binary: for them, and for
SP505 (before 1.29), the findings rest on the source they cite.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess

import pytest
import yaml
from test_findings import findings

from tests.support.gotools import harness

VERSIONS = [(1, 34), (1, 35), (1, 37)]
FIELD_CODES = {"SP501", "SP502", "SP503", "SP504"}
PROBE = {"exec": {"command": ["true"]}}
INIT_POLICIES = [None, "Always", "OnFailure", "Never", "Sometimes"]
INIT_FIELDS = [{}, {"lifecycle": {"preStop": {"exec": {"command": ["stop"]}}}}, {"livenessProbe": PROBE},
               {"startupProbe": PROBE, "readinessProbe": PROBE}, {"terminationGracePeriodSeconds": 30}]
APP_POLICIES = [None, "Always", "Never"]
APP_FIELDS = [{}, {"terminationGracePeriodSeconds": 300}]
_CONTAINER_PATH = re.compile(r"(initContainers|containers)\[(\d+)\]")
_NAMED = re.compile(r"container '([^']+)'")


def _container(name: str, policy: str | None, fields: dict) -> dict:
    return {"name": name, "image": "example/app:1", **({"restartPolicy": policy} if policy else {}), **fields}


PODS = [
    {"metadata": {"labels": {"app": "grid"}},
     "spec": {"initContainers": [_container("setup", init_policy, init_fields)],
              "containers": [_container("main-app", app_policy, app_fields)]}}
    for init_policy, init_fields, app_policy, app_fields in itertools.product(INIT_POLICIES, INIT_FIELDS,
                                                                              APP_POLICIES, APP_FIELDS)
]


@pytest.fixture(scope="module")
def kubernetes():
    """Kubernetes' verdict on every pod of the grid, per emulated version."""
    binary = harness("podvalidation")
    verdicts = {}
    for version in VERSIONS:
        done = subprocess.run([str(binary), "-kube-version", f"{version[0]}.{version[1]}"], input=json.dumps(PODS),
                              capture_output=True, text=True, check=True)
        verdicts[version] = json.loads(done.stdout)
    return verdicts


def _refused_by_kubernetes(pod: dict, verdict: dict) -> set[str]:
    paths = verdict["unknown"] + verdict["dropped"] + [error["field"] for error in verdict["errors"]]
    names = set()
    for path in paths:
        found = _CONTAINER_PATH.search(path)
        assert found, f"an error outside the containers: {path} in {verdict}"
        names.add(pod["spec"][found.group(1)][int(found.group(2))]["name"])
    return names


def _named_by_us(pod: dict, version: tuple[int, int]) -> set[str]:
    manifest = yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "grid"},
                               "spec": {"template": pod}}, sort_keys=False)
    found, _ = findings(manifest, "rules:\n- sidecar: regular\n", version)
    return {_NAMED.search(finding.message).group(1) for _, finding in found if finding.code in FIELD_CODES}


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v[0]}.{v[1]}")
def test_the_findings_name_exactly_the_containers_kubernetes_refuses(kubernetes, version):
    mismatches = []
    for pod, verdict in zip(PODS, kubernetes[version]):
        theirs, ours = _refused_by_kubernetes(pod, verdict), _named_by_us(pod, version)
        if theirs != ours:
            mismatches.append((pod["spec"], verdict, sorted(ours)))
    assert not mismatches, "\n".join(map(str, mismatches[:5]))


def test_the_grid_holds_pods_kubernetes_accepts_and_pods_it_refuses(kubernetes):
    """So that the comparison above cannot pass by finding nothing anywhere."""
    for version in VERSIONS:
        refused = [bool(_refused_by_kubernetes(pod, verdict)) for pod, verdict in zip(PODS, kubernetes[version])]
        assert any(refused) and not all(refused), version
