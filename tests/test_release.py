"""The release artifacts as a user receives them: `release/check.py` (what `./dev release-check` and the
release workflow run) builds the sdist, the wheel and the signed Helm plugin archive once per session;
these tests then look at what it built and installed, with real Helm 4.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import postrender
from postrender.cli import COMMANDS
from tests.support.helm import HELM4_NEWEST
from tests.support.release import release_module

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "release"


helm_plugin = release_module("helm_plugin")
wheel_smoke = release_module("wheel_smoke")


@dataclass(frozen=True)
class Built:
    out: Path
    work: Path
    helm: Path
    output: str

    def one(self, pattern: str) -> Path:
        (found,) = self.out.glob(pattern)
        return found


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, helm4: Path) -> Built:
    helm = helm4  # tests/support/helm.py: the newest Helm 4, the one ./dev release-check builds too
    if shutil.which("gpg") is None:
        message = "gpg is not installed: the plugin archive is signed with a throwaway key it makes"
        if os.environ.get("CI"):
            pytest.fail(message + " — CI must run this", pytrace=False)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("release")
    out, work = folder / "dist", folder / "work"
    result = subprocess.run([sys.executable, str(RELEASE / "check.py"), "--out", str(out), "--work", str(work),
                             "--helm", str(helm)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    return Built(out, work, helm, result.stderr)


pytestmark = pytest.mark.slow


def test_release_check_uses_the_helm4_the_tests_run() -> None:
    assert helm_plugin.HELM4_VERSION == f"v{HELM4_NEWEST}"


def test_release_check_builds_exactly_the_four_artifacts_and_keeps_a_throwaway_key(built: Built) -> None:
    version = postrender.__version__
    assert sorted(p.name for p in built.out.iterdir()) == [
        f"sidecar-policy-{version}.tgz",
        f"sidecar-policy-{version}.tgz.prov",
        "sidecar-policy-throwaway-keyring.gpg",  # only without --key: never in a release (release.yml passes one)
        f"sidecar_policy-{version}-py3-none-any.whl",
        f"sidecar_policy-{version}.tar.gz",
    ]


def test_the_install_command_release_check_prints_works_as_printed(built: Built, tmp_path: Path) -> None:
    """docs/install.md: `./dev release-check`, then the `helm plugin install` it prints last, with
    verification, using only what stays in dist/ (its scratch folder, with the key, is removed)."""
    *_, intro, printed = built.output.strip().splitlines()
    assert "verified" in intro
    argv = shlex.split(printed)
    assert argv[:3] == ["helm", "plugin", "install"]
    assert Path(argv[argv.index("--keyring") + 1]).resolve().parent == built.out.resolve()
    home = helm_plugin.helm_home(tmp_path / "home")
    done = subprocess.run([str(built.helm), *argv[1:]], env=home, cwd=Path.cwd(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([str(built.helm), "plugin", "list"], env=home, capture_output=True, text=True, check=True)
    assert any(line.split()[:1] == ["sidecar-policy"] and "signed" in line for line in listed.stdout.splitlines())


def tracked_package_files() -> set[str]:
    listed = subprocess.run(["git", "ls-files", "postrender"], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(listed.stdout.split())


def test_wheel_carries_every_tracked_file_of_the_package(built: Built) -> None:
    names = set(zipfile.ZipFile(built.one("*.whl")).namelist())
    missing = tracked_package_files() - names
    assert not missing, f"the wheel lacks {sorted(missing)}"
    # Not Python, so easily left behind: the JSON Schema and the Argo CD templates.
    assert "postrender/policy.schema.json" in names
    assert any(name.endswith(".yaml.j2") for name in names)


def test_the_image_copies_the_wheel_the_build_made(built: Built) -> None:
    dockerfile = (ROOT / "argocd-plugin" / "Dockerfile").read_text()
    (copied,) = re.findall(r"^COPY dist/(\S+\.whl) ", dockerfile, re.MULTILINE)
    assert (built.out / copied.replace("${VERSION}", postrender.__version__)).is_file()


def test_sdist_carries_every_tracked_file_of_the_package(built: Built) -> None:
    sdist = built.one("*.tar.gz")
    prefix = sdist.name.removesuffix(".tar.gz") + "/"
    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(prefix) for name in archive.getnames()}
    assert not tracked_package_files() - names
    assert {"pyproject.toml", "README.md"} <= names


def test_the_fresh_venv_runs_the_wheel_not_the_checkout(built: Built, tmp_path: Path) -> None:
    venv_bin = built.work / "wheel" / "venv" / "bin"
    shown = subprocess.run([str(venv_bin / "sidecar-policy"), "--version"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert shown.stdout.strip() == f"sidecar-policy {postrender.__version__}"
    where = subprocess.run([str(venv_bin / "python"), "-c", "import postrender; print(postrender.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(built.work / "wheel" / "venv")


def test_the_smoke_run_covers_every_command_and_entry_point() -> None:
    covered = {run.command for run in wheel_smoke.RUNS if run.program == "sidecar-policy"}
    assert set(COMMANDS) | {""} <= covered, "a new subcommand needs a line in release/wheel_smoke.py RUNS"
    scripts = {run.program for run in wheel_smoke.RUNS}
    assert scripts == {"sidecar-policy", "sidecar-policy-krm", "kubectl-sidecar_policy"}  # [project.scripts] in pyproject.toml


def test_helm4_verifies_the_signed_archive(built: Built) -> None:
    archive = built.one("sidecar-policy-*.tgz")
    verified = subprocess.run([str(built.helm), "plugin", "verify", str(archive), "--keyring",
                               str(built.work / "key" / "public-keyring.gpg")],
                              env=helm_plugin.helm_home(built.work / "verify-home"), capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr


def test_a_dearmored_armoured_key_is_a_keyring_helm4_verifies_with(built: Built, tmp_path: Path) -> None:
    """docs/install.md: the release publishes its public key armoured (.asc); `gpg --dearmor` makes it
    the keyring file Helm reads, holding that key only."""
    gnupg_home = built.work / "key" / "gnupg"
    armoured = subprocess.run(["gpg", "--homedir", str(gnupg_home), "--armor", "--export"], capture_output=True,
                              check=True).stdout
    assert armoured.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
    keyring = tmp_path / "sidecar-policy-keyring.gpg"
    keyring.write_bytes(subprocess.run(["gpg", "--dearmor"], input=armoured, capture_output=True, check=True).stdout)
    verified = subprocess.run([str(built.helm), "plugin", "verify", str(built.one("sidecar-policy-*.tgz")), "--keyring",
                               str(keyring)], env=helm_plugin.helm_home(tmp_path / "home"), capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr


def test_helm4_refuses_a_tampered_archive(built: Built, tmp_path: Path) -> None:
    archive = built.one("sidecar-policy-*.tgz")
    tampered = tmp_path / archive.name
    data = bytearray(archive.read_bytes())
    data[-20] ^= 0xFF
    tampered.write_bytes(bytes(data))
    shutil.copy(archive.with_name(archive.name + ".prov"), tmp_path)
    with pytest.raises(helm_plugin.ReleaseCheckError):
        helm_plugin.install_verified(built.helm, tampered, built.work / "key" / "public-keyring.gpg", tmp_path / "home")
    assert not (tmp_path / "home" / "data" / "plugins" / "sidecar-policy").exists()


def test_helm4_refuses_an_archive_without_its_provenance(built: Built, tmp_path: Path) -> None:
    bare = tmp_path / built.one("sidecar-policy-*.tgz").name
    shutil.copy(built.one("sidecar-policy-*.tgz"), bare)
    with pytest.raises(helm_plugin.ReleaseCheckError, match="prov"):
        helm_plugin.install_verified(built.helm, bare, built.work / "key" / "public-keyring.gpg", tmp_path / "home")


def test_the_installed_plugin_lists_as_signed(built: Built) -> None:
    listed = subprocess.run([str(built.helm), "plugin", "list"], env=helm_plugin.helm_home(built.work / "helm-home"),
                            capture_output=True, text=True, check=True)
    (row,) = [line.split() for line in listed.stdout.splitlines() if line.startswith("sidecar-policy")]
    assert row[1] == postrender.__version__ and "signed" in row


def pod_template_annotations(stream: str) -> dict[tuple[str, str], str | None]:
    decisions = {}
    for document in yaml.safe_load_all(stream):
        if not document or document["kind"] not in {"Deployment", "Job", "CronJob", "DaemonSet", "StatefulSet"}:
            continue
        spec = document["spec"]
        template = spec["jobTemplate"]["spec"]["template"] if document["kind"] == "CronJob" else spec["template"]
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        decisions[document["kind"], document["metadata"]["name"]] = annotations.get("sidecar.istio.io/nativeSidecar")
    return decisions


def test_helm4_renders_a_chart_through_the_installed_plugin_and_the_wheels_program(built: Built) -> None:
    # examples/policy.yaml: hook Jobs native, the controller Deployment regular, the rest untouched.
    decisions = pod_template_annotations((built.work / "rendered.yaml").read_text())
    assert decisions == {
        ("Deployment", "ingress-nginx-controller"): "false",
        ("Job", "ingress-nginx-admission-create"): "true",
        ("Job", "ingress-nginx-admission-patch"): "true",
    }
