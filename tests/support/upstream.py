"""The operators' own CRDs and example manifests, at pinned releases, for the tests (and the API-server proof).

Most operators ship them inside their Go module: `go mod download -json M@V` puts the module in the
module cache (checked against the checksum database) and the pinned `h1:` hash here must match the one
it reports, so every run reads the same bytes. Flink's operator is Java: its CRDs come from its API
jar on Maven Central (`mvn dependency:get`), whose sha256 is pinned. What no registry carries (Volcano's
CRD, Flink's and JobSet's examples) is kept in tests/data/crds/ with a README naming the release and files.

    crd_files("kuberay")                    # [.../config/crd/bases/ray.io_rayclusters.yaml, ...]
    example_files("argo-workflows")         # the project's own example manifests
    definition(entry.source)                # the file a built-in row of core/workloads.py cites

Nothing is copied into the repository: the module cache (~/go/pkg/mod), ~/.m2 and the harness cache
are shared, so a warm run costs a `go mod download` per module (~50 ms).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support.gotools import CACHE, go
from tests.support.paths import ROOT

DATA = ROOT / "tests" / "data" / "crds"


class Release(NamedTuple):
    project: str  # how tests name it
    registry: str  # go | maven | data
    name: str  # Go module path, Maven group:artifact, or the folder under tests/data/crds
    version: str
    checksum: str  # go: the module's h1: hash (go.sum); maven: the jar's sha256; data: "" (committed)
    crds: tuple[str, ...] = ()  # globs inside the release
    examples: tuple[str, ...] = ()
    chart: str = ""  # a Helm chart inside the release whose renders are examples too, with its own values files
    chart_values: tuple[str, ...] = ()
    chart_settings: tuple[str, ...] = ()  # `--set`s every render needs


RELEASES: tuple[Release, ...] = (
    Release("jobset", "go", "sigs.k8s.io/jobset", "v0.10.1", "h1:u8QKifNsrWVrlRFe6w2ofYTqFT9ma2DRHxfeB2m9xyU=",
            ("config/components/crd/bases/*.yaml",), ("config/samples/*.yaml",)),
    Release("jobset", "data", "jobset", "v0.10.1", "", (), ("examples/*.yaml",)),
    Release("kuberay", "go", "github.com/ray-project/kuberay/ray-operator", "v1.5.0",
            "h1:KCjCQ7PSsvs9Ke+90CZbbs498nuaIJ/JkXk4vd54EVg=", ("config/crd/bases/*.yaml",), ("config/samples/**/*.yaml",)),
    Release("training-operator", "go", "github.com/kubeflow/training-operator", "v1.9.3",
            "h1:aaSHqskOtCY8Dn8sVd+l9p5XAczW6O0nYMPjVLAw/lc=", ("manifests/base/crds/kubeflow.org_*.yaml",),
            ("examples/**/*.yaml",)),
    Release("trainer", "go", "github.com/kubeflow/trainer/v2", "v2.0.0", "h1:mnQSR9iPKItxyUR8mq66XsmxqKNVHwr9YYOB7BTU9dU=",
            ("manifests/base/crds/trainer.kubeflow.org_*.yaml",), ("manifests/base/runtimes/**/*.yaml",)),
    Release("volcano", "data", "volcano", "v1.12.1", "", ("batch.volcano.sh_jobs.yaml",), ("examples/*.yaml",)),
    Release("volcano", "go", "volcano.sh/apis", "v1.12.1", "h1:yq5dVj/g21vnWObCIKsJKPhMoThpzDrHDD/GMouYVxk=",
            (), ("artifacts/vcjob.yaml",)),
    Release("keda", "go", "github.com/kedacore/keda/v2", "v2.21.0", "h1:R6z2HZvstK4RLUMxroNACzBj74xGxt3kG59b5Xc+Xps=",
            ("config/crd/bases/keda.sh_scaledjobs.yaml",), ("config/samples/keda_v1alpha1_scaledjob.yaml",)),
    Release("knative", "go", "knative.dev/serving", "v0.51.0", "h1:yN2Q7eYqJgoPfZkATjoBZyGbZ2P1Qhns9HIMU4mF+to=",
            ("config/core/300-resources/service.yaml",), ("test/test_images/*/service*.yaml",)),
    Release("kruise", "go", "github.com/openkruise/kruise", "v1.8.0", "h1:cU5XG9tur17j/CuY+iCTlxOtJ0GNTtJjMLurhh+25YQ=",
            ("config/crd/bases/apps.kruise.io_*.yaml",), ("config/samples/apps_*.yaml",)),
    Release("argo-workflows", "go", "github.com/argoproj/argo-workflows/v3", "v3.7.18",
            "h1:B8v2GIBCqUATiqrI3NaLGDplT2Id18bIruebwSXkFZI=", ("manifests/base/crds/full/argoproj.io_*.yaml",),
            ("examples/*.yaml",)),
    Release("spark-operator", "go", "github.com/kubeflow/spark-operator/v2", "v2.5.2",
            "h1:6nX2UhwSfnYi1mtwczgFfJTMeLSL/1ajTvkFe8R7Vdc=", ("config/crd/bases/sparkoperator.k8s.io_*.yaml",),
            ("examples/*.yaml", "config/samples/*.yaml")),
    Release("actions-runner-controller", "go", "github.com/actions/actions-runner-controller", "v0.27.6",
            "h1:Uklv1+6+/BQuhV6HoXIgPZrnAW9/HWo3j9O7IcnzGXU=", ("config/crd/bases/actions.github.com_*.yaml",),
            chart="charts/gha-runner-scale-set", chart_values=("ci/*.yaml", "tests/values*.yaml"),
            # Without these the chart looks the controller up in a live cluster (templates/_helpers.tpl).
            chart_settings=("controllerServiceAccount.name=arc-gha-rs-controller", "controllerServiceAccount.namespace=arc-systems")),
    Release("flink", "maven", "org.apache.flink:flink-kubernetes-operator-api", "1.10.0",
            "b1f44814e17514fa8395c61b329a3ee9087123a5bda5b21fe1a495d5182c30b6", ("META-INF/fabric8/*-v1.yml",)),
    Release("flink", "data", "flink", "release-1.10.0", "", (), ("examples/*.yaml",)),
)
PROJECTS = tuple(dict.fromkeys(release.project for release in RELEASES))


def crd_files(project: str) -> list[Path]:
    return _files(project, "crds")


def example_files(project: str) -> list[Path]:
    return _files(project, "examples")


def chart_renders(project: str, helm: Path) -> list[tuple[str, bytes]]:
    """(values file, `helm template` of the project's chart with it) for each values file its release ships."""
    renders = []
    for release in RELEASES:
        if release.project == project and release.chart:
            chart = folder(release) / release.chart
            for values in sorted(path for pattern in release.chart_values for path in chart.glob(pattern)):
                settings = [argument for setting in release.chart_settings for argument in ("--set", setting)]
                done = subprocess.run([str(helm), "template", "example", str(chart), "-n", "example", "-f", str(values),
                                       *settings], capture_output=True)
                if done.returncode != 0:
                    pytest.fail(f"helm template {chart} -f {values}: {done.stderr.decode()[-2000:]}", pytrace=False)
                renders.append((values.name, done.stdout))
    return renders


def definition(source: str) -> Path:
    """The file a kind table row cites as `name version file` (core/workloads.py TemplateKind.source)."""
    name, version, file = source.split(" ")[:3]
    for release in RELEASES:
        # A data folder is named after the project's repository (volcano-sh/volcano -> volcano).
        if release.version == version and release.name in (name, name.split("/")[-1]):
            found = folder(release) / (Path(file).name if release.registry == "data" else file)
            if found.exists():
                return found
    raise LookupError(f"no pinned release holds {source}")


def _files(project: str, field: str) -> list[Path]:
    files: list[Path] = []
    for release in RELEASES:
        if release.project == project:
            root = folder(release)
            files += sorted(path for pattern in getattr(release, field) for path in root.glob(pattern)
                            if path.name != "kustomization.yaml")  # how the project builds them, not a manifest
    return files


@cache
def folder(release: Release) -> Path:
    """Where the release's files are on this machine, fetched and checked first if need be."""
    if release.registry == "data":
        return DATA / release.name
    if release.registry == "maven":
        return _maven(release)
    return _go_module(release)


def _go_module(release: Release) -> Path:
    # GOFLAGS=-mod=mod: a download outside any module. The toolchain is the tests' own (./dev's GOTOOLCHAIN), so a
    # release whose go.mod asks for a newer Go is pinned one release earlier rather than fetching another Go.
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    result = subprocess.run([go(), "mod", "download", "-json", f"{release.name}@{release.version}"],
                            capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    answer = json.loads(result.stdout or "{}")
    if result.returncode != 0 or "Dir" not in answer:
        pytest.fail(f"go mod download {release.name}@{release.version}: {answer.get('Error') or result.stderr[-2000:]}",
                    pytrace=False)
    if answer.get("Sum") != release.checksum:
        pytest.fail(f"{release.name}@{release.version} has checksum {answer.get('Sum')}, pinned {release.checksum}",
                    pytrace=False)
    return Path(answer["Dir"])


def _maven(release: Release) -> Path:
    group, artifact = release.name.split(":")
    jar = (Path.home() / ".m2" / "repository" / group.replace(".", "/") / artifact / release.version
           / f"{artifact}-{release.version}.jar")
    if not jar.exists():
        mvn = shutil.which("mvn")
        if mvn is None:
            message = f"Maven (mvn) is not installed: the test reads {release.name}:{release.version} from Maven Central"
            if os.environ.get("CI"):
                pytest.fail(message + " — CI must run it", pytrace=False)
            pytest.skip(message)
        result = subprocess.run([mvn, "-B", "-q", "dependency:get", f"-Dartifact={release.name}:{release.version}",
                                 "-Dtransitive=false"], capture_output=True, text=True)
        if result.returncode != 0 or not jar.exists():
            pytest.fail(f"mvn dependency:get {release.name}:{release.version} failed:\n{result.stdout[-2000:]}", pytrace=False)
    digest = hashlib.sha256(jar.read_bytes()).hexdigest()
    if digest != release.checksum:
        pytest.fail(f"{jar} has sha256 {digest}, pinned {release.checksum}", pytrace=False)
    unpacked = CACHE / "upstream" / f"{artifact}-{release.version}-{digest[:12]}"
    if not unpacked.exists():
        partial = unpacked.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(jar) as archive:
            archive.extractall(partial, [name for name in archive.namelist() if name.startswith("META-INF/fabric8/")])
        partial.rename(unpacked)
    return unpacked
