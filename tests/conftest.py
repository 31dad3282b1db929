from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.helm import USED as HELM_USED
from tests.support.helm import helm3, helm4  # noqa: F401 (session fixtures for every test module)
from tests.support.paths import ROOT

# CI must be reproducible: the same examples on every run, so a red run can be replayed and a
# green one is not luck. By hand, hypothesis explores new examples each time.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def snapshot(snapshot):
    """Snapshots live in the top-level snapshots/ folder, one sub-folder per test module.

    Outputs of inputs kept elsewhere (examples/, tests/data/) land here; a case folder's test sets
    snapshot_dir to the folder itself, so tests/cases/NAME/expected.yaml sits beside its input.
    """
    default = Path(snapshot.snapshot_dir)  # tests/snapshots/<module>/<test>[/<parameters>]
    snapshot.snapshot_dir = ROOT / "snapshots" / default.relative_to(ROOT / "tests" / "snapshots")
    return snapshot


@pytest.fixture(scope="session")
def kube_yaml():
    """Kubernetes' own YAML reader and label-selector parser (tests/support/kubeyaml.py), one process per session."""
    from tests.support.kubeyaml import start

    reader = start()
    yield reader
    reader.close()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """A Kubernetes control plane with Istio's injector webhook (tests/support/cluster.py), one per session.

    Its processes die with the session, even a killed one; make a namespace per test with
    `cluster.namespace()`, and change the mesh default with `with cluster.webhook(mesh_default=...)`.
    """
    from tests.support.cluster import start

    running = start(tmp_path_factory.mktemp("cluster"), tied=True)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def server_reader(cluster, kube_yaml):
    """The API server's reading of a whole stream (tests/support/server_reading.py): reader.refusals(stream) == ""."""
    from tests.support.server_reading import ServerReader

    return ServerReader(cluster, kube_yaml)


def pytest_terminal_summary(terminalreporter) -> None:
    """Say which real Helm binaries ran: a skipped build must not pass for a tested version."""
    if HELM_USED:
        terminalreporter.write_line("real Helm used: " + ", ".join(
            f"{version} ({path})" for version, path in sorted(HELM_USED.items())))
