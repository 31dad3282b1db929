"""The test environment is the lock file's: every requirement pyproject.toml declares is pinned there, with
hashes, and the running environment holds exactly the pinned versions."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "test.lock"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)\s*(?:;\s*(.*?))?\s*\\?$")


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["test"]]


def pins_for_this_python() -> dict[str, str]:
    """name -> version of the lock's pins whose markers hold here (a universal lock forks by Python version)."""
    pins = {}
    environment = default_environment()
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            name, version, marker = match.groups()
            if not marker or Requirement(f"x; {marker}").marker.evaluate(environment):
                pins[canonicalize_name(name)] = version
    return pins


def test_every_pin_carries_a_hash():
    lines = LOCK.read_text().splitlines()
    for index, line in enumerate(lines):
        if PIN.match(line):
            assert lines[index + 1].strip().startswith("--hash=sha256:"), line


def test_every_declared_requirement_is_pinned_within_its_range():
    pins = pins_for_this_python()
    environment = default_environment()
    for requirement in declared():
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": "test"}):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not locked: run ./dev lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {requirement}"


@pytest.mark.skipif(not sys.prefix.endswith(".venv"), reason="only the locked .venv is held to the lock (./dev test --latest is not)")
def test_the_environment_holds_exactly_the_locked_versions():
    for name, version in pins_for_this_python().items():
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}, locked {version}"
