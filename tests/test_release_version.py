"""One release version (postrender.__version__) named the same everywhere, and a CHANGELOG the release reads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import postrender
from tests.support.release import release_module

ROOT = Path(__file__).resolve().parents[1]


version = release_module("version")
changelog = release_module("changelog")


def test_every_place_names_the_package_version() -> None:
    assert version.current() == postrender.__version__
    assert version.disagreements(postrender.__version__) == []


def test_the_built_metadata_takes_the_version_from_the_package() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = {attr = "postrender.__version__"}' in pyproject


def test_the_release_tag_must_be_v_and_the_version() -> None:
    assert version.main(["check-tag", f"v{postrender.__version__}"]) == 0
    assert version.main(["check-tag", postrender.__version__]) == 1
    assert version.main(["check-tag", "v9.9.9"]) == 1


def test_the_changelog_has_a_section_for_this_version() -> None:
    body = changelog.section(postrender.__version__)
    assert body and body.strip()


def test_changelog_section_stops_at_the_next_release_and_at_link_references() -> None:
    text = "# Changelog\n\n## [1.1.0] - 2027-01-02\n### Fixed\n- b\n\n## [1.0.0] - 2027-01-01\n- a\n\n[1.0.0]: https://x\n"
    assert changelog.section("1.1.0", text) == "### Fixed\n- b\n"
    assert changelog.section("1.0.0", text) == "- a\n"
    assert changelog.section("1.0", text) is None


@pytest.fixture
def copy_of_the_repository(tmp_path: Path) -> Path:
    """A git repository holding the files that name the version, and release/version.py."""
    for name in ("postrender/__init__.py", "helm-plugin/plugin.yaml", "release/version.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    v = postrender.__version__
    (tmp_path / "docs.md").write_text(
        f"image: ghcr.io/sidecar-policy/argocd-cmp:{v}-helm4\n"
        f"helm plugin install https://github.com/sidecar-policy/sidecar-policy/releases/download/v{v}/"
        f"sidecar-policy-{v}.tgz\npipx install sidecar-policy=={v}\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    return tmp_path


def run_version(repository: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "release/version.py", *args], cwd=repository, capture_output=True,
                          text=True)


def test_set_moves_every_place_and_check_then_agrees(copy_of_the_repository: Path) -> None:
    assert run_version(copy_of_the_repository, "set", "7.8.9").returncode == 0
    docs = (copy_of_the_repository / "docs.md").read_text()
    assert docs.count("7.8.9") == 4 and postrender.__version__ not in docs
    assert "version: 7.8.9\n" in (copy_of_the_repository / "helm-plugin/plugin.yaml").read_text()
    assert run_version(copy_of_the_repository).stdout == "7.8.9\n"
    assert run_version(copy_of_the_repository, "check").returncode == 0


def test_check_names_each_place_that_disagrees(copy_of_the_repository: Path) -> None:
    plugin = copy_of_the_repository / "helm-plugin/plugin.yaml"
    plugin.write_text(plugin.read_text().replace(f"version: {postrender.__version__}", "version: 0.0.9"))
    result = run_version(copy_of_the_repository, "check")
    assert result.returncode == 1
    line = plugin.read_text().splitlines().index("version: 0.0.9") + 1
    assert result.stderr.splitlines() == [f"helm-plugin/plugin.yaml:{line}: the Helm plugin version says 0.0.9, "
                                          f"the package says {postrender.__version__}"]


@pytest.mark.parametrize("bad", ["1.0", "1.0.0rc1", "1.0.0-rc.1", "v1.0.0"])
def test_set_refuses_what_is_not_a_plain_release_version(copy_of_the_repository: Path, bad: str) -> None:
    result = run_version(copy_of_the_repository, "set", bad)
    assert result.returncode != 0 and "X.Y.Z" in result.stderr
